package runtime

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"time"

	"gohap/runtime/rules"
)

// retryDelay is HAProxy's pause before retrying a refused connection to
// the same server (capped by the connect timeout).
const retryDelay = time.Second

// forward sends the current request to a server of bs and relays the
// response; it reports whether the client connection stays open.
func (s *session) forward(fe *rules.Frontend, bs *backendState) bool {
	if s.lp != nil && bs.mayQueue {
		// A request may wait for a server slot: not on a loop.
		return s.detach(func() bool { return s.forward(fe, bs) })
	}
	be := bs.cfg
	s.compAlgo = rules.CompNone
	if fe.Compression != nil || be.Compression != nil {
		s.compAlgo = selectCompression(fe, be, &s.txn.Req)
	}
	// direct is the server persistence chose: by cookie, else by a
	// stick match.
	var srv, direct *serverState
	s.persistRules(be)
	if be.Cookie != nil {
		srv = s.cookiePick(bs)
		direct = srv
	}
	if len(be.StickRules) > 0 || len(be.StickResponse) > 0 {
		if st := s.stickMatch(bs, srv != nil); srv == nil {
			srv, direct = st, st
		}
	}
	if srv == nil {
		srv = s.take(bs) // a slot on srv, queued while all servers are full
	}
	if srv == nil {
		return s.reply(rules.Lookup(503, be.Errors, fe.Errors), fe, be)
	}
	return s.forwardTo(fe, bs, srv, direct)
}

// fwdState is a forwarding in progress: what forwardTo chose, kept in the
// session so that an event loop can suspend it while the server answers
// and go on from there (attempted).
type fwdState struct {
	fe  *rules.Frontend
	bs  *backendState
	srv *serverState // holds the request's slot
	// direct is the server persistence chose, nil: none.
	direct *serverState
	sc     *srvConn
	// srvClose: the server connection closes after the response; fresh:
	// a reused connection turned out dead once already.
	srvClose, fresh bool
}

// forwardTo sends the current request to srv, which holds its slot, and
// relays the response; it reports whether the client connection stays
// open.
func (s *session) forwardTo(fe *rules.Frontend, bs *backendState, srv, direct *serverState) bool {
	be := bs.cfg
	s.retries, s.ck.direct = 0, direct != nil
	s.replay = be.RetryOn.Replays() && s.replayable()
	var sc *srvConn
	if s.lp != nil {
		// A loop sends only a request without a body, and only on a
		// connection that is open already.
		if sc = s.reuse(srv); sc == nil || !s.loopForwards(srv) {
			cont := func() bool { return s.forwardTo(fe, bs, srv, direct) }
			if sc == nil {
				return s.detachOnce(cont) // to dial
			}
			s.keepSrv(sc)
			return s.detach(cont)
		}
	} else {
		sc = s.connect(bs, srv)
	}
	if sc == nil {
		srv.release()
		return s.reply(rules.Lookup(s.connFail, be.Errors, fe.Errors), fe, be)
	}
	s.fw = fwdState{fe: fe, bs: bs, srv: moveSlot(srv, sc.s), direct: direct, sc: sc,
		srvClose: fe.Options.HTTPServerClose || fe.Options.HTTPClose ||
			be.Options.HTTPServerClose || be.Options.HTTPClose}
	return s.attempt()
}

// attempt sends the request on s.fw.sc and goes on with how that ended.
// On an event loop, the wait for the response suspends the session: the
// loop calls attempted once the response is there.
func (s *session) attempt() bool {
	f := &s.fw
	be := f.bs.cfg
	s.setCur(f.sc.c)
	s.ck.srv, s.ck.direct = f.srv, s.ck.direct && f.srv == f.direct
	s.srvCtr = &f.srv.ctr // each attempt counts on its server, as in haproxy
	f.srv.ctr.sessions.Add(1)
	if h := be.SendNameHeader; h != nil {
		s.txn.Req.DelHeader(h)
		s.txn.Req.Headers = append(s.txn.Req.Headers, rules.Header{Name: h, Value: f.srv.name})
	}
	st, sent := s.sendRequest(f.fe, be, f.sc, f.srvClose)
	if !sent {
		return s.attempted(st)
	}
	if s.lp != nil {
		return s.awaitResponse()
	}
	return s.attempted(s.recvResponse(f.fe, f.sc, st == fwdSentBody))
}

// attempted goes on from how an attempt ended (st): another attempt, or
// the response (or an error page) to the client.
func (s *session) attempted(st fwdStatus) bool {
	f := &s.fw
	be := f.bs.cfg
	if s.lp != nil && st != fwdHead {
		// Retries and errors may dial and wait: not on a loop.
		ended := st
		return s.detach(func() bool { return s.attempted(ended) })
	}
	switch {
	case st == fwdRetry && !f.fresh:
		// A reused connection the server closed meanwhile fails before
		// any response byte: send once more on a fresh connection, if no
		// body was consumed.
		f.fresh = true
		s.e.closeSrv(f.sc)
		if f.sc = s.dialRetries(f.bs, f.srv); f.sc == nil {
			st = fwd502
			break
		}
		f.srv = moveSlot(f.srv, f.sc.s)
		return s.attempt()
	case s.retryL7(be, st):
		// retry-on: the request again, on the server haproxy would pick.
		s.e.closeSrv(f.sc)
		s.retries++
		next, _ := s.retryTarget(f.bs, f.srv)
		if f.sc = s.connect(f.bs, next); f.sc == nil {
			s.setCur(nil)
			s.endReplay()
			f.srv.release()
			return s.reply(rules.Lookup(s.connFail, be.Errors, f.fe.Errors), f.fe, be)
		}
		f.srv = moveSlot(f.srv, f.sc.s)
		return s.attempt()
	}
	return s.forwarded(st)
}

// forwarded ends a forwarding: the response relayed, or an error page.
func (s *session) forwarded(st fwdStatus) bool {
	f := &s.fw
	fe, be, sc := f.fe, f.bs.cfg, f.sc
	f.sc = nil // kept, or closed, below
	defer f.srv.release()
	s.endReplay()
	if st == fwdRetry {
		st = fwd502
	}
	if st == fwdHead {
		st = s.relayResponse(fe, be, sc, f.srvClose)
	}
	if sc == nil {
		s.setCur(nil)
		s.txn.Track.CountResponse(502)
		return s.reply(rules.Lookup(502, be.Errors, fe.Errors), fe, be) && s.bodyDone
	}
	switch st {
	case fwdDone, fwdDoneClose:
		if s.srvKeep {
			s.keepSrv(sc)
		} else {
			s.e.closeSrv(sc)
			s.setCur(nil)
		}
		return st == fwdDone
	}
	s.e.closeSrv(sc)
	s.setCur(nil)
	switch st {
	case fwd502, fwdEmpty, fwdJunk:
		// haproxy counts a bad or missing response, and a server
		// timeout, as the server's failure.
		s.txn.Track.CountResponse(502)
		return s.reply(rules.Lookup(502, be.Errors, fe.Errors), fe, be) && s.bodyDone
	case fwd504:
		s.txn.Track.CountResponse(504)
		return s.reply(rules.Lookup(504, be.Errors, fe.Errors), fe, be) && s.bodyDone
	case fwdReply:
		return s.reply(s.txn.Reply, fe, be) && s.bodyDone
	}
	return false // fwdAbort, tunnel end
}

// fwdStatus is how one exchange with a server ended.
type fwdStatus uint8

const (
	fwdDone      fwdStatus = iota // response relayed, client may send more
	fwdDoneClose                  // response relayed, close the client
	fwdHead                       // final response head read, not relayed yet
	fwdRetry                      // reused connection was dead, nothing sent to the client
	fwd502                        // bad or missing response head
	fwdEmpty                      // 502: closed with nothing received ("empty-response")
	fwdJunk                       // 502: not a response head ("junk-response")
	fwd504                        // server timeout before the response head
	fwdAbort                      // error mid-way: close everything
	fwdReply                      // an http-response rule replaced the response by Txn.Reply
	fwdSent                       // request sent (or left to send with the read of the response)
	fwdSentBody                   // the same, and its body was sent
)

// connect returns a connection to srv: the session's own, an idle one, or
// a new one, retrying as HAProxy does; nil when all attempts failed.
func (s *session) connect(bs *backendState, srv *serverState) *srvConn {
	if sc := s.reuse(srv); sc != nil {
		return sc
	}
	return s.dialRetries(bs, srv)
}

// reuse returns an open connection to srv: the session's own, or an idle
// one; nil: none.
func (s *session) reuse(srv *serverState) *srvConn {
	sni := s.sniFor(srv.cfg)
	for i, sc := range s.srvs {
		if sc == nil || sc.s != srv {
			continue
		}
		s.srvs[i] = nil
		if bytes.Equal(sc.sni, sni) && (!srv.transparent() || s.sameSource(sc)) {
			sc.reused = true
			return sc
		}
		s.idleSrv(sc)
		break
	}
	if sc := srv.idle.get(sni); sc != nil {
		sc.reused = true
		return sc
	}
	return nil
}

// loopForwards reports whether an event loop can forward the current
// request to srv: nothing to stream, no tunnel, nothing to keep for
// retry-on or to compress, and a server connection in clear.
func (s *session) loopForwards(srv *serverState) bool {
	return !s.req.hasReqBody() && !s.req.expect100 && !s.req.upgrade && !s.replay &&
		s.compAlgo == rules.CompNone && srv.cfg.TLS == nil && !srv.cfg.ShutdownOnDown
}

// dialRetries opens a new connection to srv, retrying as haproxy does
// with "retry-on conn-failure": each retry counts against the backend's
// retries (shared with the other retry-on cases), and may go to another
// server (retryTarget); one on the same server comes after
// min(1s, timeout connect). It returns nil when all attempts failed,
// with the status to answer in s.connFail.
func (s *session) dialRetries(bs *backendState, srv *serverState) *srvConn {
	be := bs.cfg
	s.connFail = 503
	for {
		c, err := s.dialServer(srv, be.Timeouts.Connect)
		if err == nil {
			sni := s.sniFor(srv.cfg)
			if c, err = s.prepareSrvConn(c, srv, sni, be.Timeouts.Connect); err == nil {
				sc := s.e.newSrvConn(c, srv)
				sc.sni = append(sc.sni, sni...)
				return sc
			}
		}
		if err == errNoSource {
			s.connFail = 500
			return nil
		}
		if s.retries >= be.Retries || be.RetryOn&rules.RetryConnFailure == 0 {
			return nil
		}
		s.retries++
		next, moved := s.retryTarget(bs, srv)
		if !moved || bs.activeUsable() <= 1 {
			if !s.sleep(min(retryDelay, orDefault(be.Timeouts.Connect, retryDelay))) {
				return nil
			}
		}
		srv = next
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// sleep waits d; it reports false if the engine closed meanwhile.
func (s *session) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.e.done:
		return false
	}
}

// writeLower writes b with ASCII letters lowered.
func writeLower(w *wbuf, b []byte) {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		w.WriteByte(c)
	}
}

// isLower reports whether b has no upper-case ASCII letter.
func isLower(b []byte) bool {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

// writeRequestHead serialises the request head to the server the way
// HAProxy does: request line as received, headers in order with lower
// case names, x-forwarded-for, then the Connection header it needs.
func (s *session) writeRequestHead(sc *srvConn, fe *rules.Frontend, be *rules.Backend, srvClose bool) {
	w := sc.out
	r := &s.txn.Req
	w.Write(r.Method)
	w.WriteByte(' ')
	w.Write(r.URI)
	w.WriteByte(' ')
	w.Write(r.Version)
	w.WriteString("\r\n")
	for i := range r.Headers {
		h := &r.Headers[i]
		if isLower(h.Name) {
			w.Write(h.Name)
		} else {
			writeLower(w, h.Name)
		}
		w.WriteString(": ")
		w.Write(h.Value)
		w.WriteString("\r\n")
	}
	s.writeForwardFor(w, fe, be)
	if !s.req.connUpg || !s.req.upgrade {
		switch {
		case !srvClose && !s.req.ver11:
			w.WriteString("connection: keep-alive\r\n")
		case srvClose && s.req.ver11:
			w.WriteString("connection: close\r\n")
		}
	}
	w.WriteString("\r\n")
}

// writeForwardFor adds the "option forwardfor" header, the backend's
// option first, as HAProxy does.
func (s *session) writeForwardFor(w *wbuf, fe *rules.Frontend, be *rules.Backend) {
	o := &be.Options
	if !o.ForwardFor {
		o = &fe.Options
		if !o.ForwardFor {
			return
		}
	}
	ip := s.src.Addr().Unmap()
	if !ip.IsValid() || (o.ForwardForExcept.IsValid() && o.ForwardForExcept.Contains(ip)) {
		return
	}
	name := o.ForwardForHeader
	if name == "" {
		name = "x-forwarded-for"
	}
	if o.ForwardForIfNone {
		for i := range s.txn.Req.Headers {
			if strings.EqualFold(string(s.txn.Req.Headers[i].Name), name) {
				return
			}
		}
	}
	s.scratch = append(s.scratch[:0], name...)
	for i, c := range s.scratch {
		if c >= 'A' && c <= 'Z' {
			s.scratch[i] = c + 32
		}
	}
	s.scratch = append(s.scratch, ": "...)
	s.scratch = ip.AppendTo(s.scratch)
	s.scratch = append(s.scratch, "\r\n"...)
	w.Write(s.scratch)
}

// appendHex appends n in upper-case hexadecimal, as HAProxy writes chunk
// sizes.
func appendHex(b []byte, n int64) []byte {
	if n == 0 {
		return append(b, '0')
	}
	var tmp [16]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = "0123456789ABCDEF"[n&15]
		n >>= 4
	}
	return append(b, tmp[i:]...)
}

// prepareSrvConn sends the PROXY header and runs the TLS handshake on a
// new server connection, within the connect timeout; a failure counts as
// a failed connection attempt.
func (s *session) prepareSrvConn(c net.Conn, ss *serverState, sni []byte, timeout time.Duration) (net.Conn, error) {
	srv := ss.cfg
	if srv.ProxyProtocol == 0 && srv.TLS == nil {
		return c, nil
	}
	if timeout > 0 {
		c.SetDeadline(time.Now().Add(timeout))
	}
	var err error
	if srv.ProxyProtocol != 0 {
		err = writeProxyHeader(c, srv.ProxyProtocol, s.src, s.dst)
	}
	if err == nil && srv.TLS != nil {
		tc := tls.Client(c, ss.tlsFor(sni))
		err = tc.Handshake()
		c = tc
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
