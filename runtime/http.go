package runtime

import (
	"bytes"
	"crypto/tls"
	"time"

	"gohap/runtime/rules"
)

// serveHTTP runs the request loop of an HTTP frontend connection.
func (s *session) serveHTTP() {
	defer s.releaseSrv()
	for {
		gen := s.e.gen.Load()
		fe := gen.frontend(s.feIndex, s.feName)
		if fe == nil {
			return
		}
		s.beginLog(gen, fe)
		keep := s.serveOne(gen, fe)
		s.endLog(gen)
		// The request is over: so are the sticky counters it tracked,
		// once they counted its bytes.
		s.countBytes()
		s.txn.Track.EndRequest()
		if !keep {
			return
		}
		if s.e.stopping.Load() {
			// A soft stop: this response is the connection's last.
			s.out.Flush()
			return
		}
	}
}

// quietWait bounds the wait for a client's next request before gohap also
// looks for bytes that came while it served the last one (see rbuf.quiet).
const quietWait = 5 * time.Millisecond

// idleTimeout is how long the connection may wait for the next request.
func (s *session) idleTimeout(fe *rules.Frontend) time.Duration {
	to := &fe.Timeouts
	if s.nreq > 0 && to.HTTPKeepAlive > 0 {
		return to.HTTPKeepAlive
	}
	if to.HTTPRequest > 0 {
		return to.HTTPRequest
	}
	return to.Client
}

// readHead waits for a complete message head in b, skipping empty lines
// before it, and returns its length. A head must fit in bufSize bytes,
// whatever b's size, as in HAProxy's buffer.
func readHead(b *rbuf) (int, error) {
	for {
		if n := headReady(b); n >= 0 {
			if n > bufSize {
				return 0, errHeadTooBig
			}
			return n, nil
		}
		if b.buffered() >= bufSize {
			return 0, errHeadTooBig
		}
		if _, err := b.fill(); err != nil {
			return 0, err
		}
	}
}

// headReady skips the empty lines buffered before a message head and
// returns the head's length once it is all in b, else -1.
func headReady(b *rbuf) int {
	d := b.data()
	for len(d) > 0 && (d[0] == '\r' || d[0] == '\n') {
		if d[0] == '\r' && (len(d) < 2 || d[1] != '\n') {
			break
		}
		n := 1
		if d[0] == '\r' {
			n = 2
		}
		b.discard(n)
		d = d[n:]
	}
	return headEnd(d)
}

// malformed answers a request head too big or that does not parse as
// haproxy's HTTP/1 layer does: the client's error, logged "PR", and the
// stored 400 page whatever the errorfiles.
func (s *session) malformed() {
	s.txn.Track.CountRequest()
	s.txn.Track.CountClientError()
	s.badRequest(400, 'P', 'R')
	s.sendRaw(muxPages[400])
}

// serveOne reads and serves one request; it reports whether the
// connection stays open for another one.
func (s *session) serveOne(gen *generation, fe *rules.Frontend) bool {
	d := s.idleTimeout(fe)
	// After a response, a client sends nothing before it got it (unless it
	// pipelines, which a bounded wait catches): send it from inside the
	// read of the next request.
	quiet := s.nreq > 0 && !s.in.quietMissed && s.in.buffered() == 0 && s.out.Buffered() > 0
	switch {
	case quiet:
		now := time.Now()
		s.in.quiet, s.in.quietWait, s.in.quietDeadline = true, quietWait, time.Time{}
		if d > 0 {
			s.in.quietDeadline = now.Add(d)
		}
		if d > 0 && d < quietWait {
			s.c.SetReadDeadline(s.in.quietDeadline)
		} else {
			s.c.SetReadDeadline(now.Add(quietWait))
		}
	case d > 0:
		s.c.SetReadDeadline(time.Now().Add(d))
	case s.nreq == 0:
		s.c.SetReadDeadline(time.Time{})
	}
	s.dw.setTimeout(fe.Timeouts.Client)
	n, err := readHead(&s.in)
	if err == errIdle {
		if s.e.stopping.Load() {
			return false // a soft stop closes idle connections
		}
		// No next request yet: let the parker hold the connection.
		if s.park(s.in.quietDeadline) {
			s.parked = true
			return false
		}
		n, err = readHead(&s.in)
	}
	if err != nil {
		// As in haproxy, a request that fails counts as a request, and as
		// the client's error unless it timed out; a keep-alive connection
		// closed while waiting for its next request counts nothing.
		started := s.in.buffered() > 0 || s.nreq == 0
		switch {
		case err == errHeadTooBig:
			s.malformed()
		case isTimeout(err) && started:
			s.txn.Track.CountRequest()
			s.badRequest(408, 'c', 'R')
			s.sendRaw(muxPages[408])
		case started && !isTimeout(err):
			s.txn.Track.CountRequest()
			s.txn.Track.CountClientError()
			s.badRequest(400, 'C', 'R')
		}
		return false
	}
	if g := s.e.gen.Load(); g != gen {
		// A reload came while the connection waited: the request runs
		// on the configuration of the moment it arrived.
		if gen, fe = g, g.frontend(s.feIndex, s.feName); fe == nil {
			return false
		}
	}
	s.stamp(&s.lg.head)
	t := s.startTxn(gen)
	t.UniqueIDFormat = fe.UniqueIDFormat
	if s.tls != nil {
		if s.nreq == 0 {
			cs := s.tls.ConnectionState()
			s.sni = append(s.sni[:0], cs.ServerName...)
			s.tlsVersion, s.tlsCipher = tlsVersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
		}
		t.TLS, t.SNI = true, s.sni
	}
	s.hop.buf = s.hop.buf[:0]
	head := s.in.data()[:n]
	err = parseRequest(head, &t.Req, &s.req)
	if err == nil {
		t.Req.Headers, err = processHop(t.Req.Headers, &s.req, true, &s.hop)
	}
	if err != nil {
		s.malformed()
		return false
	}
	s.lg.active = true
	s.feCtr, s.beCtr, s.srvCtr = gen.feCounters(s.feIndex), nil, nil
	if s.feCtr != nil {
		s.feCtr.requests.Add(1)
		if c := s.feConnCtr; c != nil && c != s.feCtr {
			// The connection came under an earlier configuration: it
			// counts in the frontend of the one it now serves.
			c.cur.Add(-1)
			s.feCtr.cur.Add(1)
			s.feConnCtr = s.feCtr
		}
	}
	if fe.Mode != rules.ModeHTTP {
		// A "mode tcp" frontend upgraded to HTTP by its backend: the
		// frontend's HTTP settings do not apply.
		be := s.upgraded(fe, t, head)
		s.in.discard(n)
		s.nreq++
		if be == nil {
			return false
		}
		return s.serveBackend(gen, fe, be)
	}
	s.in.discard(n)
	s.nreq++
	// In mode http, tcp-request content rules see the request head; then
	// the request counts on the sticky counters tracked so far.
	if len(fe.TCPContent) > 0 && !s.verdict(rules.Run(fe.TCPContent, t)) {
		s.setTerm('P', 'R')
		return false
	}
	t.Track.CountRequest()

	if fe.MonitorURI != "" && string(t.Req.PathQuery()) == fe.MonitorURI {
		r := rules.DefaultReply(200)
		for _, c := range fe.MonitorFail {
			if c.Eval(t) {
				r = rules.Lookup(503, fe.Errors)
				break
			}
		}
		// haproxy logs no monitor-uri request, failing or not.
		s.lg.active = false
		return s.reply(r, fe, nil)
	}
	if done, keep := s.requestRules(gen, fe.HTTPRequest, fe.Redirects, fe, nil); done {
		return keep
	}
	if st := fe.Stats; st != nil && st.Match(t) {
		s.setTerm('L', 'R')
		return s.serveStats(gen, st, fe, nil)
	}
	be := fe.PickBackend(t)
	if be == nil {
		s.setTerm('S', 'C')
		return s.reply(rules.Lookup(503, fe.Errors), fe, nil)
	}
	if be.Mode != fe.Mode {
		// A dynamic name chose a tcp backend: haproxy closes.
		return false
	}
	return s.serveBackend(gen, fe, be)
}

// serveBackend runs the backend's part of a request: its rules, its
// statistics page, and the forwarding to a server.
func (s *session) serveBackend(gen *generation, fe *rules.Frontend, be *rules.Backend) bool {
	t := &s.txn
	t.Log.Backend = be.Name
	bs := gen.backend(be)
	if bs != nil {
		s.beCtr = bs.ctr
		bs.ctr.requests.Add(1)
		bs.ctr.sessions.Add(1)
	}
	if len(be.TCPContent) > 0 && !s.verdict(rules.Run(be.TCPContent, t)) {
		s.setTerm('P', 'R')
		return false
	}
	t.Track.CountBackendRequest()
	if done, keep := s.requestRules(gen, be.HTTPRequest, be.Redirects, fe, be); done {
		return keep
	}
	if st := be.Stats; st != nil && st.Match(t) {
		s.setTerm('L', 'R')
		return s.serveStats(gen, st, fe, be)
	}
	if bs == nil {
		s.setTerm('S', 'C')
		return s.reply(rules.Lookup(503, be.Errors, fe.Errors), fe, be)
	}
	return s.forward(fe, bs)
}

// requestRules runs a proxy's http-request rules, then its redirect
// rules; done reports that they answered the request (a reply or a
// service; keep: the connection stays open) or dropped the connection.
func (s *session) requestRules(gen *generation, list, redirects []rules.Rule, fe *rules.Frontend, be *rules.Backend) (done, keep bool) {
	t := &s.txn
	switch rules.Run(list, t) {
	case rules.Answer:
		s.setTerm('L', 'R')
		return true, s.answer(gen, fe, be)
	case rules.Drop:
		s.setTerm('P', 'R')
		s.silentDrop()
		return true, false
	case rules.Reject:
		// txn:done() in Lua: closed, nothing sent.
		s.setTerm('P', 'R')
		return true, false
	}
	if rules.Run(redirects, t) == rules.Answer {
		s.setTerm('L', 'R')
		return true, s.reply(t.Reply, fe, be)
	}
	return false, false
}

// answer sends what the rules answered a request with: a service's
// response, or a reply; it reports whether the connection stays open.
func (s *session) answer(gen *generation, fe *rules.Frontend, be *rules.Backend) bool {
	switch svc := s.txn.Service.(type) {
	case nil:
		return s.reply(s.txn.Reply, fe, be)
	case rules.BuiltinService:
		// Built-in services read the runtime's live state.
		return s.serveBuiltin(gen, svc, fe, be)
	default:
		return s.serveApplet(svc, fe, be)
	}
}

// countResponse counts a response with status in the request's
// frontend, backend and server.
func (s *session) countResponse(status int) {
	s.txn.Log.Status = status
	for _, c := range [...]*counters{s.feCtr, s.beCtr, s.srvCtr} {
		if c != nil {
			c.response(status)
		}
	}
}

// hasReqBody reports whether the request announced a body.
func (m *msgInfo) hasReqBody() bool { return m.chunked || (m.hasCL && m.cl > 0) }

// clientKeepAlive reports whether the client connection may serve another
// request after the current one, as far as the request and options go.
func (s *session) clientKeepAlive(fe *rules.Frontend, be *rules.Backend) bool {
	if !s.req.wantsKeepAlive() || s.req.forceClose || fe.Options.HTTPClose {
		return false
	}
	if s.e.stopping.Load() {
		// A soft stop: as haproxy, the response says it is the last.
		return false
	}
	return be == nil || !be.Options.HTTPClose
}

// reply sends a reply built by the rules, adding the Connection header
// HAProxy's HTTP/1 layer would add, and reports whether the connection
// stays open. An unread request body closes the connection. The
// http-after-response rules run on the reply's head first.
func (s *session) reply(r *rules.Reply, fe *rules.Frontend, be *rules.Backend) bool {
	r = r.Eval(&s.txn)
	s.countResponse(r.Status)
	keep := !r.Close && s.clientKeepAlive(fe, be) && !s.req.hasReqBody()
	var conn []byte
	switch {
	case r.Close:
	case keep && !s.req.ver11:
		conn = connKeepAlive
	case !keep && bytes.HasPrefix(r.Raw, http11):
		conn = connClose
	}
	if !hasAfterResponse(fe, be) || !s.writeReplyHead(r, fe, be, conn) {
		s.writeRawHead(r.Raw[:r.HeadLen], conn)
	}
	if string(s.txn.Req.Method) != "HEAD" {
		// A HEAD request gets the head as for GET, and no body.
		s.out.Write(r.Raw[r.HeadLen:])
	}
	if err := s.out.Flush(); err != nil {
		return false
	}
	return keep
}

// writeRawHead writes a reply's head as built, with conn (nil: none)
// added before its empty line.
func (s *session) writeRawHead(head, conn []byte) {
	if conn != nil && bytes.HasSuffix(head, crlfcrlf) {
		s.out.Write(head[:len(head)-2])
		s.out.Write(conn)
		head = head[len(head)-2:]
	}
	s.out.Write(head)
}

// writeReplyHead writes a reply's head after the http-after-response
// rules ran on it, with conn (nil: none) after the headers as haproxy's
// HTTP/1 layer adds it. It reports false, having written nothing, when
// the head does not parse.
func (s *session) writeReplyHead(r *rules.Reply, fe *rules.Frontend, be *rules.Backend, conn []byte) bool {
	var info msgInfo
	if parseResponse(r.Raw[:r.HeadLen], &s.resp, &info) != nil {
		return false
	}
	hdrs := s.afterResponse(fe, be, s.resp.status, s.resp.hdrs)
	s.writeStatus(hdrs)
	s.out.Write(conn)
	s.out.WriteString("\r\n")
	s.resp.hdrs = hdrs[:0] // keep the capacity the additions needed
	return true
}

var (
	http11        = []byte("HTTP/1.1 ")
	connKeepAlive = []byte("connection: keep-alive\r\n")
	connClose     = []byte("connection: close\r\n")
)

// sendRaw writes b to the client as is and flushes.
func (s *session) sendRaw(b []byte) {
	s.out.Write(b)
	s.out.Flush()
}

// releaseSrv returns the attached server connection to its pool.
func (s *session) releaseSrv() {
	if s.srv != nil {
		s.idleSrv(s.srv)
		s.srv = nil
	}
	s.setCur(nil)
}

// idleSrv puts sc in its server's idle pool, or closes it.
func (s *session) idleSrv(sc *srvConn) {
	sc.dw.last = time.Time{}
	// A server reached on the client's port, or from the client's
	// address, cannot share its idle connections with other clients.
	if sc.s.cfg.PortFromClient || sc.s.transparent() {
		s.e.closeSrv(sc)
		return
	}
	// Waiting for reuse, it holds no buffer (fwd.go's connect gives it
	// some back).
	sc.dropBufs(&s.e.bufs)
	if !sc.s.idle.put(sc) {
		s.e.closeSrv(sc)
	}
}
