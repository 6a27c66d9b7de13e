package runtime

import "gohap/runtime/rules"

// useServer runs the backend's use-server rules, as haproxy's
// process_server_rules: the first whose condition holds and whose server
// is running (or "option persist" or force-persist holds) picks it; a
// down server lets the next rules try, and a dynamic name that names no
// server ends them. It returns the server with a slot taken on it, or
// nil to go on with persistence and balancing; a server at its maxconn
// also gives nil, where haproxy would queue on it, as cookiePick does.
// persistRules must have run.
func (s *session) useServer(bs *backendState) *serverState {
	be := bs.cfg
	persist := be.Options.Persist || s.ck.force
	for i := range be.UseServers {
		srv, matched := be.UseServers[i].Target(&s.txn, be)
		if !matched {
			continue
		}
		if srv == nil {
			return nil
		}
		if ss := bs.servers[srv.Index]; ss.running() || persist {
			if !ss.acquire() {
				return nil
			}
			return ss
		}
	}
	return nil
}

// addUniqueID builds the request's unique ID when the frontend has a
// "unique-id-format", as haproxy does once the backend's rules ran, so
// that later fetches (in http-response rules) find it, and adds it as
// the frontend's "unique-id-header", after the request's own headers.
func (s *session) addUniqueID(fe *rules.Frontend) {
	id, ok := s.txn.UniqueID()
	if ok && fe.UniqueIDHeader != nil {
		s.txn.Req.Headers = append(s.txn.Req.Headers, rules.Header{Name: fe.UniqueIDHeader, Value: id})
	}
}
