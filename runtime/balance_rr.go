package runtime

import (
	"slices"
	"sync"
	"sync/atomic"

	"gohap/runtime/rules"
)

// roundRobin serves haproxy's "roundrobin" in the exact order haproxy's
// fast weighted round robin yields, and "static-rr" in the order of its
// server map. Each server set walks a precomputed order with one atomic
// counter; a pick that sees the set's usable servers or weights change
// builds the next order under a mutex.
//
// Where the order can part from haproxy's: changes seen at one pick are
// applied in config order (haproxy applies each as it happens); a pick
// racing a rebuild counts in the old order; a full server is skipped in
// the order, while haproxy requeues it by weight when the skip crosses a
// window's end.
type roundRobin struct {
	active, backup rrSchedule
}

// rrSchedule is the order of one server set (active or backup servers).
type rrSchedule struct {
	set    []*serverState
	static bool // static-rr: haproxy's server map, no fwrr state
	wmult  int  // static-rr: the backend's weight divisor (weightGCD)
	mu     sync.Mutex
	cur    atomic.Pointer[rrOrder]
}

// rrOrder is the order served for one state of the set: order, then
// order[loop:] over and over.
type rrOrder struct {
	weights []int    // by set index: the weight it was built with, 0 if not usable
	bounces []uint32 // by set index: serverState.bounces when it was built
	// start is the fwrr group before the first pick of order (nil for
	// static-rr); read only.
	start *fwrrGroup
	order []int32 // set indexes
	loop  int
	taken atomic.Uint64 // picks taken
}

// maxRROrder bounds an order's length. A weight set whose cycle is
// longer (none seen in practice) repeats its last windows instead,
// which haproxy would not.
const maxRROrder = 1 << 20

func newRoundRobin(b *backendState) *roundRobin {
	rr := &roundRobin{}
	static := b.cfg.Balance == rules.AlgoStaticRR
	wmult := weightGCD(b.servers)
	rr.active.wmult, rr.backup.wmult = wmult, wmult
	rr.active.init(b.active, static)
	rr.backup.init(b.backup, static)
	return rr
}

func (r *rrSchedule) init(set []*serverState, static bool) {
	r.set, r.static = set, static
	w, b := r.weights()
	var o *rrOrder
	if static {
		o = mapOrder(w)
	} else {
		o = fwrrOrder(newFwrrGroup(w), w)
	}
	o.bounces = b
	r.cur.Store(o)
}

// weight is s's effective weight in the schedule, 0 while it is not
// usable: scaled for fwrr as haproxy's dynamic algorithms scale it,
// divided by the backend's weight GCD for static-rr's map (rounding up),
// as haproxy's init_server_map does.
func (r *rrSchedule) weight(s *serverState) int {
	switch {
	case !s.usable():
		return 0
	case r.static:
		return (weight(s) + r.wmult - 1) / r.wmult
	}
	return weight(s) * beWeightScale
}

// weights returns the set's weights and bounce counts now.
func (r *rrSchedule) weights() ([]int, []uint32) {
	w, b := make([]int, len(r.set)), make([]uint32, len(r.set))
	for i, s := range r.set {
		b[i] = s.bounces.Load()
		w[i] = r.weight(s)
	}
	return w, b
}

// stale reports whether a server of the set changed since o was built.
func (r *rrSchedule) stale(o *rrOrder) bool {
	for i, s := range r.set {
		if r.weight(s) != o.weights[i] || s.bounces.Load() != o.bounces[i] {
			return true
		}
	}
	return false
}

// at returns the set index of the k-th pick of o.
func (o *rrOrder) at(k uint64) int32 {
	if n := uint64(len(o.order)); k >= n {
		k = uint64(o.loop) + (k-uint64(o.loop))%(n-uint64(o.loop))
	}
	return o.order[k]
}

// fwrrOrder records the picks of g, effective weights w, until the state
// at a window start repeats.
func fwrrOrder(g *fwrrGroup, w []int) *rrOrder {
	o := &rrOrder{weights: w, start: g.clone()}
	var seen [][]int
	var at []int
	for len(o.order) < maxRROrder {
		if g.atWindowEnd() {
			st := g.windowState()
			if j := slices.IndexFunc(seen, func(x []int) bool { return slices.Equal(x, st) }); j >= 0 {
				o.loop = at[j]
				return o
			}
			seen, at = append(seen, st), append(at, len(o.order))
		}
		i := g.pick()
		if i < 0 {
			break
		}
		o.order = append(o.order, int32(i))
	}
	if len(at) > 0 && at[len(at)-1] < len(o.order) {
		o.loop = at[len(at)-1]
	}
	return o
}

// state returns the fwrr group as haproxy has it after k picks of o.
func (o *rrOrder) state(k uint64) *fwrrGroup {
	g := o.start.clone()
	n, loop := uint64(len(o.order)), uint64(o.loop)
	switch {
	case n == 0:
		k = 0
	case k > n: // a position of the last round, so that k picks were simulated
		k = loop + 1 + (k-loop-1)%(n-loop)
	}
	for range k {
		g.pick()
	}
	return g
}

// mapOrder is the server map haproxy's static-rr walks (lb_map) for
// effective weights w.
func mapOrder(w []int) *rrOrder {
	tot := 0
	for _, x := range w {
		tot += x
	}
	return &rrOrder{weights: w, order: mapIndexes(w, nil, tot)}
}

// current returns the order for the set's present state, building the
// next one when a server changed: fwrr carries haproxy's state at the
// count of picks taken over, applying the changes in config order.
func (r *rrSchedule) current() *rrOrder {
	if o := r.cur.Load(); !r.stale(o) {
		return o
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.cur.Load()
	if !r.stale(o) {
		return o
	}
	w, b := r.weights()
	var n *rrOrder
	if r.static {
		// haproxy rebuilds the map and goes on at the same slot, or at
		// the first when the map got shorter than that.
		n = mapOrder(w)
		if len(o.order) > 0 {
			if k := o.taken.Load() % uint64(len(o.order)); k < uint64(len(n.order)) {
				n.taken.Store(k)
			}
		}
	} else {
		g := o.state(o.taken.Load())
		for i, x := range w {
			if old := o.weights[i]; x == old && old != 0 && b[i] != o.bounces[i] {
				// Out and back in since the last pick: haproxy
				// requeued it on the way back.
				g.set(i, old, 0)
				g.set(i, 0, old)
			} else {
				g.set(i, old, x)
			}
		}
		n = fwrrOrder(g, w)
	}
	n.bounces = b
	r.cur.Store(n)
	return n
}

// Pick returns the next server of the order that can take a request.
// Servers it skips (full, or avoid) lose their turn, as in haproxy.
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
	start := o.taken.Add(1) - 1
	var fallback *serverState
	for i := range n {
		s := r.set[o.at(start+i)]
		if !candidate(s) {
			continue
		}
		if s != avoid {
			if i > 0 {
				o.taken.Add(i)
			}
			return s
		}
		fallback = s
	}
	return fallback
}
