package runtime

import (
	"slices"
	"sync/atomic"

	"gohap/runtime/rules"
)

// hashBalancer serves the hashing algorithms (source, uri, url_param,
// hdr) with haproxy's two tables: map-based (a weighted interleaving of
// the usable servers, indexed by hash modulo the total weight) or
// consistent (points of each usable server on a ring, the nearest point
// wins). It keeps the table built for the servers' current state in an
// atomic pointer; a pick that sees a server's usability or weight differ
// from the table's builds a new one, so the hot path takes no lock and
// allocates only after a change. Safe for concurrent use.
type hashBalancer struct {
	b   *backendState
	cfg *rules.Hash
	// wmult is haproxy's weight divisor for map-based tables: the
	// greatest common divisor of the configured weights.
	wmult int
	table atomic.Pointer[hashTable]
	rr    *atomic.Uint64 // round-robin position when a request has no key
}

var _ Balancer = (*hashBalancer)(nil)

// hashTable is a hash table for one state of the servers, as haproxy's
// recount_servers, update_backend_weight and then recalc_server_map or
// the chash tree leave it. Read-only once built.
type hashTable struct {
	// ew is each server's effective weight (b.servers order) when the
	// table was built; 0: not usable.
	ew   []int32
	act  int          // usable active servers (srv_act)
	fbck *serverState // the only backup used, without allbackups
	used int          // tot_used
	tot  uint32       // tot_weight
	// slots is the map-based table, tot long.
	slots []*serverState
	// keys are the points of the consistent ring of the group in use,
	// in order, and owners their servers; cumul is each server's
	// cumulative weight in its group (index as ew).
	keys   []uint32
	owners []*serverState
	cumul  []uint32
}

// chPoint is one point of a server on the consistent-hashing ring.
type chPoint struct {
	key uint32
	srv *serverState
}

// chScale is haproxy's BE_WEIGHT_SCALE: a server has weight×16 points,
// and point n of server id sits at full_hash(id×4096+n).
const (
	chScale = 16
	chRange = 256 * chScale
)

func newHashBalancer(b *backendState) *hashBalancer {
	h := &hashBalancer{b: b, cfg: &b.cfg.Hash, wmult: 1, rr: new(atomic.Uint64)}
	if !h.cfg.Consistent {
		h.wmult = weightGCD(b.servers)
	}
	h.table.Store(h.build())
	return h
}

// weightGCD is haproxy's init_server_map factor: the GCD of the non-zero
// configured weights in declaration order, stopping once it reaches 1.
func weightGCD(servers []*serverState) int {
	g := 0
	for _, s := range servers {
		w := s.cfg.Weight
		if w <= 0 {
			continue
		}
		if g == 0 {
			g = w
			continue
		}
		if g == 1 {
			break
		}
		for w != 0 {
			g, w = w, g%w
		}
	}
	return max(g, 1)
}

// eweight is s's weight in the table's unit: map-based divides by wmult
// (rounding up), consistent multiplies by chScale; 0 when not usable.
func (h *hashBalancer) eweight(s *serverState) int32 {
	if !s.usable() {
		return 0
	}
	if h.cfg.Consistent {
		return int32(weight(s) * chScale)
	}
	return int32((weight(s) + h.wmult - 1) / h.wmult)
}

// current returns the table for the servers' present state. A
// map-based table is static, as haproxy's: a weight change while the
// server stays usable is taken into account at the next rebuild only.
func (h *hashBalancer) current() *hashTable {
	t := h.table.Load()
	for i, s := range h.b.servers {
		w := h.eweight(s)
		if w != t.ew[i] && (h.cfg.Consistent || w == 0 || t.ew[i] == 0) {
			n := h.build()
			h.table.CompareAndSwap(t, n)
			return n
		}
	}
	return t
}

// build makes the table of the servers' present state.
func (h *hashBalancer) build() *hashTable {
	servers := h.b.servers
	t := &hashTable{ew: make([]int32, len(servers)), cumul: make([]uint32, len(servers))}
	var totAct, totBck uint32
	bck := 0
	for i, s := range servers {
		w := h.eweight(s)
		t.ew[i] = w
		if w == 0 {
			continue
		}
		if s.cfg.Backup {
			if bck == 0 && !h.b.cfg.Options.AllBackups {
				t.fbck = s
			}
			bck++
			t.cumul[i] = totBck
			totBck += uint32(w)
		} else {
			t.act++
			t.cumul[i] = totAct
			totAct += uint32(w)
		}
	}
	switch {
	case t.act > 0:
		t.tot, t.used = totAct, t.act
	case t.fbck != nil:
		t.tot, t.used = uint32(t.ew[t.fbck.cfg.Index]), 1
	default:
		t.tot, t.used = totBck, bck
	}
	if t.used == 0 {
		return t
	}
	backup := t.act == 0
	if h.cfg.Consistent {
		if !backup || t.fbck == nil {
			for _, p := range h.ring(t, backup) {
				t.keys, t.owners = append(t.keys, p.key), append(t.owners, p.srv)
			}
		}
		return t
	}
	t.slots = mapSlots(servers, t.ew, backup, int(t.tot))
	return t
}

// mapSlots is haproxy's map of a hash balancer: the servers of the
// group (backup or not) in mapIndexes' order.
func mapSlots(servers []*serverState, ew []int32, backup bool, tot int) []*serverState {
	w := make([]int, len(ew))
	for i, x := range ew {
		w[i] = int(x)
	}
	idx := mapIndexes(w, func(i int) bool { return servers[i].cfg.Backup != backup }, tot)
	slots := make([]*serverState, len(idx))
	for o, i := range idx {
		slots[o] = servers[i]
	}
	return slots
}

// mapIndexes is haproxy's recalc_server_map, shared by static-rr and
// map-based hashing: tot slots, each given to the server whose
// accumulated weight is the most ahead, the first declared winning ties.
// Servers of weight 0, or that skip (nil: none) leaves out, get none.
func mapIndexes(w []int, skip func(int) bool, tot int) []int32 {
	slots := make([]int32, tot)
	score := make([]int, len(w))
	for o := range slots {
		best, bestV := -1, 0
		for i, x := range w {
			if x == 0 || skip != nil && skip(i) {
				continue
			}
			if tot == 1 {
				best = i
				break
			}
			score[i] += x
			if v := (score[i] + tot) / tot; best < 0 || v > bestV {
				best, bestV = i, v
			}
		}
		slots[o] = int32(best)
		score[best] -= tot
	}
	return slots
}

// ring returns the points of the usable servers of a group, by key.
func (h *hashBalancer) ring(t *hashTable, backup bool) []chPoint {
	var pts []chPoint
	for i, s := range h.b.servers {
		if t.ew[i] == 0 || s.cfg.Backup != backup {
			continue
		}
		base := uint32(s.cfg.ID) * chRange
		for n := range uint32(t.ew[i]) {
			pts = append(pts, chPoint{key: fullHash(base + n), srv: s})
		}
	}
	slices.SortFunc(pts, func(a, b chPoint) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return pts
}

// Pick returns the server for key; set and backup are ignored: the table
// covers the whole backend, as haproxy's does. With no key it takes turns
// over the table. A server at its maxconn gives nil: the request then
// waits in the backend's queue.
func (h *hashBalancer) Pick(_ []*serverState, _ bool, key lbKey, avoid *serverState) *serverState {
	t := h.current()
	if t.tot == 0 {
		return nil
	}
	if t.used == 1 && key.one {
		key = lbKey{ok: true}
	}
	var s *serverState
	switch {
	case !key.ok:
		s = h.nextSlot(t, avoid)
	case h.cfg.Consistent:
		s = h.nearest(t, key.hash, avoid)
	default:
		s = t.slots[key.hash%t.tot]
	}
	if s == nil || !candidate(s) {
		return nil
	}
	return s
}

// nearest is haproxy's chash_get_server_hash: the point closest to hash
// (the one before on a tie), then the following points while their
// server is avoid or over its bounded load.
func (h *hashBalancer) nearest(t *hashTable, hash uint32, avoid *serverState) *serverState {
	if t.act == 0 && t.fbck != nil {
		return t.fbck
	}
	keys := t.keys
	if len(keys) == 0 {
		return nil
	}
	i := searchKeys(keys, hash)
	if i == len(keys) {
		i = 0
	}
	prev := i - 1
	if prev < 0 {
		prev = len(keys) - 1
	}
	if hash-keys[prev] <= keys[i]-hash {
		i = prev
	}
	s := t.owners[i]
	for loop := 0; s == avoid || (h.cfg.BalanceFactor > 0 && !h.eligible(t, s)); {
		if i++; i == len(keys) {
			i = 0
			if loop++; loop > 1 {
				break
			}
		}
		s = t.owners[i]
	}
	return s
}

// searchKeys returns the index of the first key >= hash.
func searchKeys(keys []uint32, hash uint32) int {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if keys[m] < hash {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// eligible is haproxy's chash_server_is_eligible for
// "hash-balance-factor": s may serve its weight's share of the backend's
// load (with this request) times the factor.
func (h *hashBalancer) eligible(t *hashTable, s *serverState) bool {
	var served uint32
	for _, o := range h.b.servers {
		served += uint32(o.cur.Load())
	}
	ew, cumul := uint32(t.ew[s.cfg.Index]), t.cumul[s.cfg.Index]
	total := ((served+1)*uint32(h.cfg.BalanceFactor) + 99) / 100
	per, rem := total/t.tot, total%t.tot
	slots := ew*per + ((cumul+ew)*rem)/t.tot - (cumul*rem)/t.tot
	return uint32(s.cur.Load()) < max(slots, 1)
}

// nextSlot is haproxy's map_get_server_rr and chash_get_next_server:
// the next entry of the map (or point of the ring) whose server has a
// free connection slot, avoid only if nothing else; with a single backup
// server in use, that one.
func (h *hashBalancer) nextSlot(t *hashTable, avoid *serverState) *serverState {
	list := t.slots
	if h.cfg.Consistent {
		if t.act == 0 && t.fbck != nil {
			return t.fbck
		}
		list = t.owners
	}
	n := uint64(len(list))
	if n == 0 {
		return nil
	}
	start := h.rr.Add(1) - 1
	var avoided *serverState
	for i := range n {
		s := list[(start+i)%n]
		if s.full() {
			continue
		}
		if s != avoid {
			return s
		}
		avoided = s
	}
	return avoided
}

// key computes the request's hashing key for backend b: from the client
// address src, or from req (nil in TCP mode: only source has a key).
func (h *hashBalancer) key(src []byte, req *rules.Request) (k lbKey) {
	switch h.b.cfg.Balance {
	case rules.AlgoSource:
		if len(src) > 0 {
			k = sourceKey(h.cfg, src)
		}
	case rules.AlgoURI:
		if req != nil {
			k = uriKey(h.cfg, req.URI)
		}
	case rules.AlgoURLParam:
		if req != nil {
			return paramKey(h.cfg, req.URI) // never the single-server shortcut
		}
	case rules.AlgoHdr:
		if req != nil {
			k = hdrKey(h.cfg, req.Headers)
			k.one = true // haproxy checks for one server before the header
		}
	}
	return k
}
