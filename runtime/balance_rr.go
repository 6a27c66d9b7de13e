package runtime

import (
	"slices"
	"sync"
	"sync/atomic"

	"gohap/runtime/rules"
	"gohap/shm"
)

// roundRobin serves haproxy's "roundrobin" in the exact order haproxy's
// fast weighted round robin yields, and "static-rr" in the order of its
// server map. Each server set walks a precomputed order with one atomic
// counter; a pick that sees the set's usable servers or weights change
// builds the next order.
//
// Worker processes serve one order, as haproxy's threads share one fwrr
// state: the counter lives in shared memory, and names the order it
// counts picks of (its epoch). The worker that sees a change first
// builds the next order from the state after the picks counted so far,
// writes its start (fwrr state, weights, bounces) in a record of its own
// in shared memory, and publishes it by swapping the counter to the new
// epoch, at pick 0, with one compare-and-swap; a worker that finds the
// counter in an epoch it does not know rebuilds the order from the
// record the counter names. A record is a whole state, not a change:
// however many epochs a worker missed, the one record gives it the order
// the others serve. Nothing is locked across processes: a worker that
// dies while it writes a record has published nothing.
//
// Where the order can part from haproxy's: changes seen at one pick are
// applied in config order (haproxy applies each as it happens); picks
// racing a rebuild are served from the old order and count in the new
// one; a full server is skipped in the order, while haproxy requeues it
// by weight when the skip crosses a window's end.
type roundRobin struct {
	active, backup rrSchedule
}

// rrSchedule is the order of one server set (active or backup servers).
type rrSchedule struct {
	set    []*serverState
	static bool // static-rr: haproxy's server map, no fwrr state
	wmult  int  // static-rr: the backend's weight divisor (weightGCD)
	// ctr is the shared pick counter: the epoch and record of the order
	// served (rrTag) and the picks taken of it (rrPos).
	ctr *atomic.Uint64
	// recs are the published orders' records, shared: two per worker
	// (one it last published, one it writes the next in), by area
	// number, 2×worker+n.
	recs []rrRec
	self int // this worker's index
	// mu serializes this process's rebuilds; last is the area of this
	// worker's last publication, -1: none. Guarded by mu.
	mu   sync.Mutex
	last int
	cur  atomic.Pointer[rrOrder] // the order of ctr's epoch, here
}

// rrOrder is the order served for one state of the set: order, then
// order[loop:] over and over, from order[base].
type rrOrder struct {
	weights []int    // by set index: the weight it was built with, 0 if not usable
	bounces []uint32 // by set index: serverState.bounces when it was built
	// start is the fwrr group before the first pick of order (nil for
	// static-rr); read only.
	start *fwrrGroup
	order []int32 // set indexes
	loop  int
	base  uint64 // static-rr: the slot of the map the epoch starts at
	tag   uint64 // the counter's rrTag while it counts picks of this order
}

// maxRROrder bounds an order's length. A weight set whose cycle is
// longer (none seen in practice) repeats its last windows instead,
// which haproxy would not.
const maxRROrder = 1 << 20

// The shared counter packs, from the top, an epoch (24 bits) and the
// area of its record (8 bits), which together are its tag, and the picks
// taken in the epoch (32 bits). An epoch that reaches rrRebase picks is
// republished unchanged, at the same position, so the count never
// overflows into the tag.
const (
	rrPosBits   = 32
	rrAreaBits  = 8
	rrEpochMask = 1<<24 - 1
	rrRebase    = 1 << 31
	// rrTries bounds how many times a rebuild looks again when other
	// workers publish under it.
	rrTries = 8
)

func rrTag(c uint64) uint64 { return c >> rrPosBits }
func rrPos(c uint64) uint64 { return c & (1<<rrPosBits - 1) }
func rrArea(tag uint64) int { return int(tag & (1<<rrAreaBits - 1)) }

// rrNextTag is the tag of the epoch after tag's, recorded in area a.
func rrNextTag(tag uint64, a int) uint64 {
	return ((tag>>rrAreaBits+1)&rrEpochMask)<<rrAreaBits | uint64(a)
}

// rrRec is one record of a published order, in shared memory: its
// start, from which every worker derives the same order. Its owner
// writes it as a seqlock's writer; readers check seq around their copy.
type rrRec struct {
	head *rrRecHead
	srv  []*rrRecSrv // by set index
}

type rrRecHead struct {
	seq  atomic.Uint64 // odd while the owner writes; 0: never written
	tag  atomic.Uint64 // the counter tag it is published under
	base atomic.Uint64 // rrOrder.base
	// the fwrr group's own fields
	init                        atomic.Uint32
	currPos, currWeight, nextWt atomic.Int64
	gseq                        atomic.Uint64
}

type rrRecSrv struct {
	weight  atomic.Int64 // rrOrder.weights
	bounces atomic.Uint32
	// the server's fwrrSrv
	tree, key              atomic.Uint32
	w, npos, lpos, rweight atomic.Int64
	seq                    atomic.Uint64
}

// newRoundRobin builds b's schedules, their shared part in r (nil:
// process memory) for workers w (nil: this process alone); follower:
// the leader published the first orders.
func newRoundRobin(b *backendState, r *shm.Region, w *Workers, follower bool) *roundRobin {
	rr := &roundRobin{}
	static := b.cfg.Balance == rules.AlgoStaticRR
	wmult := weightGCD(b.servers)
	rr.active.wmult, rr.backup.wmult = wmult, wmult
	rr.active.init(b.active, static, r, w, follower)
	rr.backup.init(b.backup, static, r, w, follower)
	return rr
}

func (r *rrSchedule) init(set []*serverState, static bool, reg *shm.Region, w *Workers, follower bool) {
	r.set, r.static, r.last = set, static, -1
	count := 1
	if w != nil {
		// Records for every slot: a reload's followers take slots above
		// Count while the ones they replace finish.
		count, r.self = MaxWorkers, w.Index
	}
	r.ctr = shm.Alloc[atomic.Uint64](reg)
	r.recs = make([]rrRec, 2*count)
	for a := range r.recs {
		rec := &r.recs[a]
		rec.head = shm.Alloc[rrRecHead](reg)
		rec.srv = make([]*rrRecSrv, len(set))
		for i := range set {
			rec.srv[i] = shm.Alloc[rrRecSrv](reg)
		}
	}
	if follower {
		c := r.ctr.Load()
		if a := rrArea(rrTag(c)); a/2 == r.self {
			r.last = a // a worker that came back: its record is published
		}
		if o := r.read(rrTag(c)); o != nil {
			r.cur.Store(o)
			return
		}
	}
	o := r.first()
	if follower {
		// No record to read (the leader published none): serve this.
		o.tag = rrTag(r.ctr.Load())
		r.cur.Store(o)
		return
	}
	a := 2 * r.self
	o.tag = uint64(a)
	r.write(a, o)
	r.ctr.Store(o.tag << rrPosBits)
	r.last = a
	r.cur.Store(o)
}

// first is the order of the set as its servers are now, from haproxy's
// starting state.
func (r *rrSchedule) first() *rrOrder {
	w, b := r.weights()
	var o *rrOrder
	if r.static {
		o = mapOrder(w)
	} else {
		o = fwrrOrder(newFwrrGroup(w), w)
	}
	o.bounces = b
	return o
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

// next builds the order that follows k picks of o for the set's present
// state: fwrr carries haproxy's state after those picks over, applying
// the changes in config order.
func (r *rrSchedule) next(o *rrOrder, k uint64) *rrOrder {
	w, b := r.weights()
	var n *rrOrder
	if r.static {
		// haproxy rebuilds the map and goes on at the same slot, or at
		// the first when the map got shorter than that.
		n = mapOrder(w)
		if len(o.order) > 0 {
			if p := (o.base + k) % uint64(len(o.order)); p < uint64(len(n.order)) {
				n.base = p
			}
		}
	} else {
		g := o.state(k)
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
	return n
}

// current returns the order the counter counts picks of, for the set's
// present state.
func (r *rrSchedule) current() *rrOrder {
	o := r.cur.Load()
	if c := r.ctr.Load(); rrTag(c) == o.tag && rrPos(c) < rrRebase && !r.stale(o) {
		return o
	}
	return r.update()
}

// update catches up with the order another worker published, and
// publishes the next one when a server changed since it was built.
func (r *rrSchedule) update() *rrOrder {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.cur.Load()
	for try := range rrTries {
		c := r.ctr.Load()
		t, k := rrTag(c), rrPos(c)
		if t != o.tag {
			if n := r.read(t); n != nil {
				r.cur.Store(n)
				o = n
			} else if try < rrTries-1 {
				continue // rewritten since: the counter moved on
			}
		}
		at := k
		if t != o.tag {
			// The counter names a record nobody can read (its
			// owner came back and wrote over it): publish the next
			// of this worker's order over it, from its start.
			at = 0
		} else if k < rrRebase && !r.stale(o) {
			return o
		}
		n := r.next(o, at)
		a := 2 * r.self
		if r.last == a {
			a++
		}
		n.tag = rrNextTag(t, a)
		r.write(a, n)
		for c := c; rrTag(c) == t; c = r.ctr.Load() {
			// Picks taken since k were served from o: they count
			// in n.
			if r.ctr.CompareAndSwap(c, n.tag<<rrPosBits|(rrPos(c)-k)) {
				r.last = a
				r.cur.Store(n)
				return n
			}
		}
		// Another worker published first: take its order, and look
		// again.
	}
	return o
}

// write records o's start in area a, this worker's.
func (r *rrSchedule) write(a int, o *rrOrder) {
	rec := &r.recs[a]
	h := rec.head
	// Odd while it writes, even after, and never an even value it had
	// before: a record left odd by a worker that died writing it (and
	// came back) is written over as well.
	seq := h.seq.Load() | 1
	h.seq.Store(seq)
	h.tag.Store(o.tag)
	h.base.Store(o.base)
	g := o.start
	if g != nil {
		h.init.Store(uint32(g.init))
		h.currPos.Store(int64(g.currPos))
		h.currWeight.Store(int64(g.currWeight))
		h.nextWt.Store(int64(g.nextWt))
		h.gseq.Store(g.seq)
	}
	for i, s := range rec.srv {
		s.weight.Store(int64(o.weights[i]))
		s.bounces.Store(o.bounces[i])
		if g != nil {
			x := &g.srv[i]
			s.tree.Store(uint32(x.tree))
			s.key.Store(x.key)
			s.w.Store(int64(x.w))
			s.npos.Store(int64(x.npos))
			s.lpos.Store(int64(x.lpos))
			s.rweight.Store(int64(x.rweight))
			s.seq.Store(x.seq)
		}
	}
	h.seq.Store(seq + 1)
}

// read returns the order published under tag, or nil when its record
// no longer holds it.
func (r *rrSchedule) read(tag uint64) *rrOrder {
	a := rrArea(tag)
	if a >= len(r.recs) {
		return nil
	}
	rec := &r.recs[a]
	h := rec.head
	seq := h.seq.Load()
	if seq == 0 || seq&1 != 0 || h.tag.Load() != tag {
		return nil
	}
	n := len(r.set)
	w, b := make([]int, n), make([]uint32, n)
	var g *fwrrGroup
	if !r.static {
		g = &fwrrGroup{
			srv:        make([]fwrrSrv, n),
			init:       fwrrTree(h.init.Load()),
			currPos:    int(h.currPos.Load()),
			currWeight: int(h.currWeight.Load()),
			nextWt:     int(h.nextWt.Load()),
			seq:        h.gseq.Load(),
		}
	}
	base := h.base.Load()
	for i, s := range rec.srv {
		w[i], b[i] = int(s.weight.Load()), s.bounces.Load()
		if g != nil {
			g.srv[i] = fwrrSrv{
				w: int(s.w.Load()), npos: int(s.npos.Load()), lpos: int(s.lpos.Load()), rweight: int(s.rweight.Load()),
				tree: fwrrTree(s.tree.Load()), key: s.key.Load(), seq: s.seq.Load(),
			}
		}
	}
	if h.seq.Load() != seq {
		return nil
	}
	var o *rrOrder
	if r.static {
		o = mapOrder(w)
		o.base = base
	} else {
		o = fwrrOrder(g, w)
	}
	o.bounces, o.tag = b, tag
	return o
}

// Pick returns the next server of the order that can take a request.
// Servers it skips (full, or avoid) lose their turn, as in haproxy.
func (rr *roundRobin) Pick(set []*serverState, backup bool, _ lbKey, avoid *serverState) *serverState {
	r := &rr.active
	if backup {
		r = &rr.backup
	}
	o := r.current()
	if len(o.order) == 0 {
		return nil
	}
	c := r.ctr.Add(1)
	if rrTag(c) != o.tag {
		// Another worker published the next order since: the pick is
		// one of it.
		if o = r.update(); len(o.order) == 0 {
			return nil
		}
	}
	start := o.base + rrPos(c) - 1
	n := uint64(len(o.order))
	var fallback *serverState
	for i := range n {
		s := r.set[o.at(start+i)]
		if !candidate(s) {
			continue
		}
		if s != avoid {
			if i > 0 {
				r.ctr.Add(i)
			}
			return s
		}
		fallback = s
	}
	return fallback
}
