package runtime

import (
	"cmp"
	"slices"
)

// fwrrGroup models one server group (active or backup) of haproxy's fast
// weighted round robin (lb_fwrr.c), step by step, so that roundRobin can
// precompute the exact order haproxy serves. It is a plain value owned by
// whoever holds it; roundRobin only runs it while building an order.
//
// Servers sit in one of three trees: "init" (sorted by weight, heaviest
// first), "curr" (sorted by next position) or "next" (waiting for the
// next window, sorted by weight). Positions grow by one per pick; a
// window lasts as many picks as the group's total effective weight.
type fwrrGroup struct {
	srv []fwrrSrv // by set index
	// init is the tree (tree0 or tree1) that plays "init"; the other one
	// plays "next". A window's end swaps them.
	init                        fwrrTree
	currPos, currWeight, nextWt int
	seq                         uint64 // insertion stamp source
}

// fwrrSrv is one server's place in its group.
type fwrrSrv struct {
	w                   int // effective weight (weight × beWeightScale); 0: not usable
	npos, lpos, rweight int
	tree                fwrrTree
	key                 uint32
	// seq orders equal keys: haproxy's trees keep duplicates in
	// insertion order.
	seq uint64
}

type fwrrTree uint8

const (
	treeNone fwrrTree = iota // down: in no tree
	tree0
	tree1
	treeCurr
)

// haproxy's weight scales: effective weights are user weights times
// BE_WEIGHT_SCALE, and the curr tree's key packs a position with a
// weight on SRV_UWGHT_RANGE.
const (
	beWeightScale = 16
	srvUWRange    = 256
	srvEWMax      = 256 * beWeightScale
)

// newFwrrGroup returns a group in the state haproxy starts it in:
// usable servers (w > 0, effective weights) in the init tree in set
// order.
func newFwrrGroup(w []int) *fwrrGroup {
	g := &fwrrGroup{srv: make([]fwrrSrv, len(w)), init: tree0}
	for i, x := range w {
		g.srv[i].w = x
		g.nextWt += x
	}
	g.currPos, g.currWeight = g.nextWt, g.nextWt
	for i := range g.srv {
		if g.srv[i].w > 0 {
			g.queueByWeight(i, g.init)
		}
	}
	return g
}

func (g *fwrrGroup) clone() *fwrrGroup {
	c := *g
	c.srv = slices.Clone(g.srv)
	return &c
}

func (g *fwrrGroup) next() fwrrTree { return tree0 + tree1 - g.init }

func (g *fwrrGroup) insert(i int, t fwrrTree, key uint32) {
	s := &g.srv[i]
	s.tree, s.key, s.seq = t, key, g.seq
	g.seq++
}

// queueByWeight puts server i in weight tree t, heaviest first.
func (g *fwrrGroup) queueByWeight(i int, t fwrrTree) {
	g.insert(i, t, uint32(srvEWMax-g.srv[i].w))
}

// first returns the server first in tree t, or -1 when t is empty.
func (g *fwrrGroup) first(t fwrrTree) int {
	best := -1
	for i := range g.srv {
		s := &g.srv[i]
		if s.tree != t {
			continue
		}
		if best < 0 || s.key < g.srv[best].key || s.key == g.srv[best].key && s.seq < g.srv[best].seq {
			best = i
		}
	}
	return best
}

// queue places server i after its position changed: in curr when its
// next position falls in this window, else in next.
func (g *fwrrGroup) queue(i int) {
	s := &g.srv[i]
	switch {
	case s.w <= 0:
		s.tree = treeNone
	case s.npos >= 2*g.currWeight || s.npos >= g.currWeight+g.nextWt:
		s.npos -= g.currWeight
		g.queueByWeight(i, g.next())
	default:
		g.insert(i, treeCurr, uint32(srvUWRange*s.npos+(srvEWMax+s.rweight-s.w)/beWeightScale))
	}
}

// take prepares server i for leaving its tree.
func (g *fwrrGroup) take(i int) {
	s := &g.srv[i]
	switch s.tree {
	case g.init:
		s.npos, s.rweight = 0, 0
	case g.next():
		s.npos += g.currWeight
	case treeNone:
		s.npos = g.currPos
	}
}

// candidate returns the server due now: curr's first unless it is not
// due yet and a server waits in init; -1 when both trees are empty.
func (g *fwrrGroup) candidate() int {
	c := g.first(treeCurr)
	if c >= 0 && g.srv[c].npos <= g.currPos {
		return c
	}
	if i := g.first(g.init); i >= 0 {
		g.srv[i].npos, g.srv[i].rweight = 0, 0
		return i
	}
	return c
}

// advance moves server i to its next position, spreading the remainder
// of the window over its turns.
func (g *fwrrGroup) advance(i int) {
	s := &g.srv[i]
	if s.npos == 0 {
		s.npos = g.currPos
	}
	s.lpos = s.npos
	s.npos += g.nextWt / s.w
	s.rweight += g.nextWt % s.w
	if s.rweight >= s.w {
		s.rweight -= s.w
		s.npos++
	}
}

// pick returns the server haproxy picks next and moves the group on, or
// -1 when no server is usable.
func (g *fwrrGroup) pick() int {
	if g.currWeight == 0 {
		g.currPos, g.currWeight = g.nextWt, g.nextWt
	}
	i := g.candidate()
	if i < 0 {
		g.init = g.next()
		g.currWeight, g.currPos = g.nextWt, g.nextWt
		if i = g.candidate(); i < 0 {
			return -1
		}
	}
	g.advance(i)
	g.srv[i].tree = treeNone
	g.currPos++
	g.queue(i)
	return i
}

// up adds server i with effective weight w, as haproxy does when a
// server becomes usable: it is placed about one step ahead.
func (g *fwrrGroup) up(i, w int) {
	g.nextWt += w
	g.take(i)
	s := &g.srv[i]
	s.w = w
	s.npos = g.currPos + (g.nextWt+g.currWeight-g.currPos)/w
	g.queue(i)
}

// down removes server i from the group.
func (g *fwrrGroup) down(i int) {
	g.nextWt -= g.srv[i].w
	g.srv[i].w, g.srv[i].tree = 0, treeNone
}

// reweight changes the effective weight of usable server i to w > 0,
// keeping its place where haproxy keeps it.
func (g *fwrrGroup) reweight(i, w int) {
	s := &g.srv[i]
	g.nextWt += w - s.w
	if s.tree == g.init {
		s.w = w
		g.queueByWeight(i, g.init)
		return
	}
	g.take(i)
	s.w = w
	prev, step := s.npos, g.nextWt/w
	s.npos, s.rweight = min(s.lpos+step, prev), 0
	if s.npos < g.currPos+2 {
		s.npos = g.currPos + step
	}
	s.tree = treeNone
	g.queue(i)
}

// set applies server i's move from effective weight old to w (0: not
// usable) the way haproxy's state change handlers do.
func (g *fwrrGroup) set(i, old, w int) {
	switch {
	case old == w:
	case old == 0:
		g.up(i, w)
	case w == 0:
		g.down(i)
	default:
		g.reweight(i, w)
	}
}

// atWindowEnd reports whether the next pick starts a window: curr and
// init are empty and every usable server waits in next.
func (g *fwrrGroup) atWindowEnd() bool {
	return g.first(treeCurr) < 0 && g.first(g.init) < 0
}

// windowState is what decides the group's future at a window end: the
// total weight and next's order (servers leave it with their positions
// reset).
func (g *fwrrGroup) windowState() []int {
	st := []int{g.nextWt}
	for i := range g.srv {
		if g.srv[i].tree == g.next() {
			st = append(st, i)
		}
	}
	slices.SortFunc(st[1:], func(a, b int) int {
		x, y := &g.srv[a], &g.srv[b]
		if x.key != y.key {
			return cmp.Compare(x.key, y.key)
		}
		return cmp.Compare(x.seq, y.seq)
	})
	return st
}
