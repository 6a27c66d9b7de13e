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
// HAProxy's weighted round robin yields with static weights) over the
// servers usable now; one atomic counter per server set. It serves both
// roundrobin and static-rr.
type roundRobin struct {
	active, backup rrSchedule
}

// rrSchedule is the weighted order of one server set. The order covers
// the servers usable when it was built, as haproxy's tree holds only
// those: a pick that sees another state builds it again.
type rrSchedule struct {
	set  []*serverState
	cur  atomic.Pointer[rrOrder]
	next atomic.Uint64
}

// rrOrder is a schedule for one state of the set.
type rrOrder struct {
	weights []int   // by set index: the weight it was built with, 0 if not usable
	order   []int32 // set indexes
}

func newRoundRobin(b *backendState) *roundRobin {
	rr := &roundRobin{}
	rr.active.set, rr.backup.set = b.active, b.backup
	rr.active.cur.Store(rr.active.build())
	rr.backup.cur.Store(rr.backup.build())
	return rr
}

// rrWeight is s's weight in the schedule: 0 while it is not usable.
func rrWeight(s *serverState) int {
	if !s.usable() {
		return 0
	}
	return weight(s)
}

// build computes the smooth weighted round robin sequence of the set's
// usable servers.
func (r *rrSchedule) build() *rrOrder {
	o := &rrOrder{weights: make([]int, len(r.set))}
	total := 0
	for i, s := range r.set {
		o.weights[i] = rrWeight(s)
		total += o.weights[i]
	}
	cur := make([]int, len(r.set))
	o.order = make([]int32, 0, total)
	for range total {
		best := -1
		for i, w := range o.weights {
			if w == 0 {
				continue
			}
			cur[i] += w
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		o.order = append(o.order, int32(best))
	}
	return o
}

// current returns the schedule for the set's present state.
func (r *rrSchedule) current() *rrOrder {
	o := r.cur.Load()
	for i, s := range r.set {
		if rrWeight(s) != o.weights[i] {
			n := r.build()
			if r.cur.CompareAndSwap(o, n) {
				return n
			}
			return r.cur.Load()
		}
	}
	return o
}

// Pick returns the next server of the schedule that can take a request.
func (rr *roundRobin) Pick(set []*serverState, backup bool, _ lbKey, avoid *serverState) *serverState {
	r := &rr.active
	if backup {
		r = &rr.backup
	}
	o := r.current()
	n := uint64(len(o.order))
	if n == 0 {
		return nil
	}
	start := r.next.Add(1) - 1
	var fallback *serverState
	for i := range n {
		s := r.set[o.order[(start+i)%n]]
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
