package runtime

import (
	"math/rand/v2"
	"sync/atomic"

	"gohap/runtime/rules"
)

// Balancer picks a server among set (a backend's active servers, or its
// backup servers when no active one is usable). It returns nil when no
// server of set is usable and below its maxconn, and avoids avoid when it
// can (redispatch). Implementations pick with atomics and are safe for
// concurrent use.
type Balancer interface {
	Pick(set []*serverState, backup bool, key lbKey, avoid *serverState) *serverState
}

var (
	_ Balancer = (*roundRobin)(nil)
	_ Balancer = (*leastConn)(nil)
	_ Balancer = first{}
	_ Balancer = random{}
)

func newBalancer(a rules.Algo, b *backendState) Balancer {
	switch a {
	case rules.AlgoLeastConn:
		return &leastConn{}
	case rules.AlgoFirst:
		return first{}
	case rules.AlgoSource, rules.AlgoURI, rules.AlgoURLParam, rules.AlgoHdr:
		return newHashBalancer(b)
	case rules.AlgoRandom:
		return random{draws: max(b.cfg.RandomDraws, 1)}
	}
	return newRoundRobin(b)
}

func weight(s *serverState) int {
	if w := s.weight.Load(); w > 0 {
		return int(w)
	}
	return 1
}

// candidate reports whether s can take a request now.
func candidate(s *serverState) bool { return s.usable() && !s.full() }

// roundRobin walks a precomputed smooth weighted schedule (the order
// HAProxy's weighted round robin yields with static weights); one atomic
// counter per server set. It serves both roundrobin and static-rr.
type roundRobin struct {
	active, backup rrSchedule
}

// rrSchedule is the weighted order of one server set.
type rrSchedule struct {
	set   []*serverState
	order []int32
	next  atomic.Uint64
}

func newRoundRobin(b *backendState) *roundRobin {
	rr := &roundRobin{}
	rr.active.build(b.active)
	rr.backup.build(b.backup)
	return rr
}

// build computes the smooth weighted round robin sequence of set.
func (r *rrSchedule) build(set []*serverState) {
	r.set = set
	total := 0
	for _, s := range set {
		total += weight(s)
	}
	cur := make([]int, len(set))
	r.order = make([]int32, 0, total)
	for range total {
		best := -1
		for i, s := range set {
			cur[i] += weight(s)
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		r.order = append(r.order, int32(best))
	}
}

// Pick returns the next usable server of the schedule.
func (rr *roundRobin) Pick(set []*serverState, backup bool, _ lbKey, avoid *serverState) *serverState {
	r := &rr.active
	if backup {
		r = &rr.backup
	}
	n := uint64(len(r.order))
	if n == 0 {
		return nil
	}
	start := r.next.Add(1) - 1
	var fallback *serverState
	for i := range n {
		s := r.set[r.order[(start+i)%n]]
		if !candidate(s) {
			continue
		}
		if s != avoid {
			return s
		}
		fallback = s
	}
	return fallback
}

// leastConn picks the server with the fewest connections per weight;
// ties rotate.
type leastConn struct{ next atomic.Uint64 }

func (l *leastConn) Pick(set []*serverState, _ bool, _ lbKey, avoid *serverState) *serverState {
	n := uint64(len(set))
	if n == 0 {
		return nil
	}
	start := l.next.Add(1)
	var best, fallback *serverState
	var bestLoad int64
	for i := range n {
		s := set[(start+i)%n]
		if !candidate(s) {
			continue
		}
		if s == avoid {
			fallback = s
			continue
		}
		load := (s.cur.Load() + 1) * 256 / int64(weight(s))
		if best == nil || load < bestLoad {
			best, bestLoad = s, load
		}
	}
	if best == nil {
		return fallback
	}
	return best
}

// first picks the first server, in config order, that has a free slot.
type first struct{}

func (first) Pick(set []*serverState, _ bool, _ lbKey, avoid *serverState) *serverState {
	var fallback *serverState
	for _, s := range set {
		if !candidate(s) {
			continue
		}
		if s != avoid {
			return s
		}
		fallback = s
	}
	return fallback
}

// weightedAt returns the server at position x modulo the total weight of
// the candidates.
func weightedAt(set []*serverState, x uint64, avoid *serverState) *serverState {
	total := 0
	for _, s := range set {
		if candidate(s) && s != avoid {
			total += weight(s)
		}
	}
	if total == 0 {
		if avoid != nil && candidate(avoid) {
			return avoid
		}
		return nil
	}
	x %= uint64(total)
	for _, s := range set {
		if candidate(s) && s != avoid {
			w := uint64(weight(s))
			if x < w {
				return s
			}
			x -= w
		}
	}
	return nil
}

// random draws servers by weight and keeps the least loaded, as
// HAProxy's "random(draws)", 2 draws by default.
type random struct{ draws int }

func (r random) Pick(set []*serverState, _ bool, _ lbKey, avoid *serverState) *serverState {
	a := weightedAt(set, rand.Uint64(), avoid)
	for i := 1; i < r.draws && a != nil; i++ {
		b := weightedAt(set, rand.Uint64(), avoid)
		if b != nil && b.cur.Load()*int64(weight(a)) < a.cur.Load()*int64(weight(b)) {
			a = b
		}
	}
	return a
}
