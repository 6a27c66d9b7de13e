package runtime

import (
	"math/rand/v2"
	"sync/atomic"

	"gohap/runtime/rules"
	"gohap/shm"
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

// newBalancer returns b's balancer, its positions in r (nil: process
// memory) so that workers w (nil: this process alone) take turns as one;
// follower: another process set them up.
func newBalancer(a rules.Algo, b *backendState, r *shm.Region, w *Workers, follower bool) Balancer {
	switch a {
	case rules.AlgoLeastConn:
		return &leastConn{next: shm.Alloc[atomic.Uint64](r)}
	case rules.AlgoFirst:
		return first{}
	case rules.AlgoSource, rules.AlgoURI, rules.AlgoURLParam, rules.AlgoHdr:
		h := newHashBalancer(b)
		h.rr = shm.Alloc[atomic.Uint64](r)
		return h
	case rules.AlgoRandom:
		return random{draws: max(b.cfg.RandomDraws, 1)}
	}
	return newRoundRobin(b, r, w, follower)
}

func weight(s *serverState) int {
	if w := s.weight.Load(); w > 0 {
		return int(w)
	}
	return 1
}

// candidate reports whether s can take a request now.
func candidate(s *serverState) bool { return s.usable() && !s.full() }

// leastConn picks the server with the fewest connections per weight;
// ties rotate.
type leastConn struct{ next *atomic.Uint64 }

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
