package runtime

import (
	"time"

	"gohap/runtime/rules"
)

// serveTCP proxies a "mode tcp" connection: pick a backend (switching
// rules see only the addresses), a server, connect with retries, then
// relay both ways until both sides closed.
func (s *session) serveTCP(fe *rules.Frontend) {
	gen := s.e.gen.Load()
	s.beginLog(gen, fe)
	s.lg.active = true
	if s.serveTCPConn(gen, fe) {
		s.endLog(gen)
	}
}

// serveTCPConn is serveTCP but for the log; it reports false when the
// connection was upgraded to HTTP, whose requests were logged each.
func (s *session) serveTCPConn(gen *generation, fe *rules.Frontend) bool {
	t := s.startTxn(gen)
	t.UniqueIDFormat = fe.UniqueIDFormat
	if !s.contentRules(fe.InspectDelay, fe.TCPContent) {
		s.setTerm('P', 'R')
		return true
	}
	if t.Service != nil {
		s.serveTCPService(t.Service, fe)
		return true
	}
	be := fe.PickBackend(t)
	bs := gen.backend(be)
	if bs == nil {
		s.setTerm('S', 'C')
		return true
	}
	if be.Mode == rules.ModeHTTP {
		// The backend upgrades the connection to HTTP, in place: each
		// request is logged.
		s.upBackend = be
		s.serveHTTP()
		return false
	}
	t.Log.Backend = be.Name
	if !s.contentRules(be.InspectDelay, be.TCPContent) {
		s.setTerm('P', 'R')
		return true
	}
	s.persistRules(be)
	var srv, direct *serverState
	if len(be.UseServers) > 0 {
		srv = s.useServer(bs)
		direct = srv
	}
	if len(be.StickRules) > 0 {
		if st := s.stickMatch(bs, srv != nil); srv == nil {
			srv, direct = st, st
		}
	}
	s.stamp(&s.lg.queue)
	if srv == nil {
		srv = s.take(bs)
	}
	if srv == nil {
		s.setTerm('S', 'C')
		return true
	}
	s.stamp(&s.lg.connect)
	s.retries, s.ck.direct = 0, direct != nil
	sc := s.dialRetries(bs, srv)
	if sc == nil {
		s.logServer(srv, nil)
		s.setTerm('S', 'C')
		srv.release()
		return true
	}
	s.stamp(&s.lg.connected)
	s.logServer(sc.s, sc)
	srv = moveSlot(srv, sc.s)
	defer srv.release()
	if len(be.StickRules) > 0 {
		// The server is known once connected: haproxy stores then.
		s.stickStore(be, srv, 0, nil)
	}
	s.setCur(sc.c)
	s.tunnel(&sc.side, fe, be)
	s.setCur(nil)
	s.e.closeSrv(sc)
	return true
}

// upgraded returns the backend of a request on a "mode tcp" frontend
// upgraded to HTTP: for the first one, the backend that upgraded it;
// each later one is a new stream, which runs the frontend's content
// rules (on the request as received) and backend choice again. nil
// closes the connection.
func (s *session) upgraded(fe *rules.Frontend, t *rules.Txn, head []byte) *rules.Backend {
	be := s.upBackend
	s.upBackend = nil
	if be != nil {
		return be
	}
	t.Payload = head
	if rules.Run(fe.TCPContent, t) == rules.Reject {
		return nil
	}
	t.Payload = nil
	be = fe.PickBackend(t)
	if be == nil || be.Mode != rules.ModeHTTP {
		return nil
	}
	return be
}

// inspect waits, up to delay (a proxy's inspect-delay), for the client's
// first bytes, and for a whole TLS record when they start one, so that
// content rules and use_backend can read them (req.ssl_sni). What it
// reads stays buffered and goes to the server first. With no delay it
// does not wait: as in haproxy, the rules see what is there.
func (s *session) inspect(delay time.Duration) {
	if delay <= 0 {
		return
	}
	s.c.SetReadDeadline(time.Now().Add(delay))
	for {
		p := s.in.data()
		if len(p) > 0 && (p[0] != 0x16 || rules.HelloComplete(p)) {
			break
		}
		if _, err := s.in.fill(); err != nil {
			if isTimeout(err) {
				s.in.err = nil // the delay ran out: go on with what came
			}
			break
		}
	}
	s.c.SetReadDeadline(time.Time{})
}

// acceptConn runs the tcp-request connection then session rules of a new
// connection and reports whether they accept it; if so, the session
// counts on the sticky counters they track.
func (s *session) acceptConn(fe *rules.Frontend) bool {
	if len(fe.TCPConnection) == 0 && len(fe.TCPSession) == 0 {
		return true
	}
	t := s.startTxn(s.e.gen.Load())
	if !s.verdict(rules.Run(fe.TCPConnection, t)) || !s.verdict(rules.Run(fe.TCPSession, t)) {
		return false
	}
	t.Track.CountSession()
	return true
}

// verdict acts on what tcp-request rules decided and reports whether the
// connection goes on: the caller closes a rejected one, a dropped one is
// gone already.
func (s *session) verdict(v rules.Verdict) bool {
	switch v {
	case rules.Reject:
		s.resetOnClose()
		return false
	case rules.Drop:
		s.silentDrop()
		return false
	}
	return true
}

// startTxn resets the session's Txn for a new request or connection stage
// and gives it the connection's addresses, the variables and gen's state.
func (s *session) startTxn(gen *generation) *rules.Txn {
	t := &s.txn
	t.Reset()
	t.Src, t.Dst, t.Vars, t.State = s.src, s.dst, s.e.vars, gen
	t.ReqCounter = s.e.proc.reqCount.Add(1) - 1
	t.TLS = s.tls != nil
	t.UseVarTable(&gen.g.VarTable)
	return t
}

// contentRules waits up to delay for the client's first bytes (inspect),
// then runs tcp-request content rules on them; it reports false when they
// reject the connection.
func (s *session) contentRules(delay time.Duration, list []rules.Rule) bool {
	if len(list) == 0 && delay <= 0 {
		return true
	}
	s.inspect(delay)
	s.txn.Payload = s.in.data()
	return s.verdict(rules.Run(list, &s.txn))
}
