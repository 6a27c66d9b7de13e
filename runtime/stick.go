package runtime

import (
	"gohap/runtime/rules"
)

// stickState is the stick-table persistence of one request: the entries
// its store rules will record once the server is known. Owned by the
// session; reset by stickMatch.
type stickState struct {
	n     int // stores pending in the first n slots
	store [rules.MaxTrackers]stickStore
}

// stickStore is one pending store: a key of a table, copied.
type stickStore struct {
	t   *rules.StickTable
	key []byte
}

// pending reports whether a store on table t is already pending from
// index from on: only the first store rule of each table applies.
func (st *stickState) pending(t *rules.StickTable, from int) bool {
	for i := from; i < st.n; i++ {
		if st.store[i].t == t {
			return true
		}
	}
	return false
}

// add queues a store of key in t; haproxy keeps at most MAX_SESS_STKCTR.
func (st *stickState) add(t *rules.StickTable, key []byte) {
	if st.n < len(st.store) {
		e := &st.store[st.n]
		e.t, e.key = t, append(e.key[:0], key...)
		st.n++
	}
}

// stickMatch runs the backend's request stick rules, as haproxy's
// process_sticking_rules: a match rule whose key names a server of the
// backend that is running (or "option persist" or force-persist holds)
// chooses it, unless a server is already chosen (assigned: by cookie);
// store rules queue their keys. It returns the chosen server with a slot
// taken on it, or nil to balance.
func (s *session) stickMatch(bs *backendState, assigned bool) *serverState {
	s.stk.n = 0
	var srv *serverState
	for i := range bs.cfg.StickRules {
		r := &bs.cfg.StickRules[i]
		if r.Store && s.stk.pending(r.Table, 0) {
			continue
		}
		key, ok := r.KeyOf(&s.txn)
		if !ok {
			continue
		}
		if r.Match {
			if name, found := r.Table.StickServer(key); found && !assigned && name != "" {
				persist := bs.cfg.Options.Persist || s.ck.force
				for _, ss := range bs.servers {
					if ss.cfg.Name == name && (ss.running() || persist) {
						srv, assigned = ss, true
						break
					}
				}
			}
		}
		if r.Store {
			s.stk.add(r.Table, key)
		}
	}
	if srv == nil || !srv.acquire() {
		return nil
	}
	return srv
}

// stickStore runs the backend's store-response rules on the response
// head, then records srv, the server that served the request, in every
// pending entry, unless it is "non-stick".
func (s *session) stickStore(be *rules.Backend, srv *serverState, status int, hdrs []rules.Header) {
	nreq := s.stk.n
	if len(be.StickResponse) > 0 {
		t := &s.txn
		t.InResponse, t.Resp.Status, t.Resp.Headers = true, status, hdrs
		for i := range be.StickResponse {
			r := &be.StickResponse[i]
			if s.stk.pending(r.Table, nreq) {
				continue
			}
			if key, ok := r.KeyOf(&s.txn); ok {
				s.stk.add(r.Table, key)
			}
		}
		s.txn.InResponse = false
	}
	if srv == nil || srv.cfg.NonStick {
		s.stk.n = 0
		return
	}
	for i := 0; i < s.stk.n; i++ {
		st := &s.stk.store[i]
		st.t.SetServer(st.key, srv.cfg.Name)
	}
	s.stk.n = 0
}

// bytesHook returns countBytes as an rbuf.onFill hook while the session
// tracks a table that stores byte counts, else nil.
func (s *session) bytesHook() func() {
	if !s.txn.Track.CountsBytes() {
		return nil
	}
	if s.countBytesFn == nil {
		s.countBytesFn = s.countBytes // once per pooled session
	}
	return s.countBytesFn
}

// countBytes adds the bytes read from the client and sent to it since
// the last call to the tracked counters that store bytes_in or
// bytes_out. Bytes read ahead of the current request are the next one's.
func (s *session) countBytes() {
	in, out := s.in.count-int64(s.in.buffered()), s.out.count
	if s.txn.Track.CountsBytes() {
		s.txn.Track.CountBytes(in-s.counted[0], out-s.counted[1])
	}
	s.counted = [2]int64{in, out}
}
