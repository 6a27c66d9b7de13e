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
	be := bs.cfg
	s.compAlgo = rules.CompNone
	if fe.Compression != nil || be.Compression != nil {
		s.compAlgo = selectCompression(fe, be, &s.txn.Req)
	}
	s.addUniqueID(fe)
	// direct is the server a use-server rule or persistence chose: by
	// cookie, else by a stick match.
	var srv, direct *serverState
	s.persistRules(be)
	if len(be.UseServers) > 0 {
		srv = s.useServer(bs)
		direct = srv
	}
	if be.Cookie != nil {
		// The cookie is still read (and its prefix stripped) when a
		// use-server rule chose, but it chooses nothing then.
		if ck := s.cookiePick(bs, srv != nil); srv == nil {
			srv, direct = ck, ck
		}
	}
	if len(be.StickRules) > 0 || len(be.StickResponse) > 0 {
		if st := s.stickMatch(bs, srv != nil); srv == nil {
			srv, direct = st, st
		}
	}
	s.stamp(&s.lg.queue)
	if srv == nil {
		srv = s.take(bs) // a slot on srv, queued while all servers are full
	}
	if srv == nil {
		s.setTerm('S', 'C')
		return s.reply(rules.Lookup(503, be.Errors, fe.Errors), fe, be)
	}
	s.stamp(&s.lg.connect)
	s.retries, s.ck.direct = 0, direct != nil
	s.replay = be.RetryOn.Replays() && s.replayable()
	sc := s.connect(bs, srv)
	if sc == nil {
		s.logServer(srv, nil)
		s.setTerm('S', 'C')
		srv.release()
		return s.reply(rules.Lookup(s.connFail, be.Errors, fe.Errors), fe, be)
	}
	s.stamp(&s.lg.connected)
	srv = moveSlot(srv, sc.s)
	defer func() { srv.release() }()
	srvClose := fe.Options.HTTPServerClose || fe.Options.HTTPClose ||
		be.Options.HTTPServerClose || be.Options.HTTPClose
	var st fwdStatus
	fresh := false // a reused connection turned out dead once already
	for {
		s.setCur(sc.c)
		s.ck.srv, s.ck.direct = srv, s.ck.direct && srv == direct
		s.srvCtr = &srv.ctr // each attempt counts on its server, as in haproxy
		srv.ctr.sessions.Add(1)
		if h := be.SendNameHeader; h != nil {
			s.txn.Req.DelHeader(h)
			s.txn.Req.Headers = append(s.txn.Req.Headers, rules.Header{Name: h, Value: srv.name})
		}
		s.logServer(srv, sc)
		st = s.exchange(fe, be, sc, srvClose)
		if st == fwdRetry && !fresh {
			// A reused connection the server closed meanwhile fails
			// before any response byte: send once more on a fresh
			// connection, if no body was consumed.
			fresh = true
			s.e.closeSrv(sc)
			if sc = s.dialRetries(bs, srv); sc == nil {
				st = fwd502
				break
			}
			srv = moveSlot(srv, sc.s)
			continue
		}
		if !s.retryL7(be, st) {
			break
		}
		// retry-on: the request again, on the server haproxy would pick.
		s.e.closeSrv(sc)
		s.retries++
		next, _ := s.retryTarget(bs, srv)
		if sc = s.connect(bs, next); sc == nil {
			s.logServer(next, nil)
			s.setTerm('S', 'C')
			s.setCur(nil)
			s.endReplay()
			return s.reply(rules.Lookup(s.connFail, be.Errors, fe.Errors), fe, be)
		}
		srv = moveSlot(srv, sc.s)
	}
	s.endReplay()
	if st == fwdRetry {
		st = fwd502
	}
	if st == fwdHead {
		s.stamp(&s.lg.resp)
		st = s.relayResponse(fe, be, sc, srvClose)
	}
	s.fwdTerm(st)
	if sc == nil {
		s.setCur(nil)
		s.txn.Track.CountResponse(502)
		return s.reply(rules.Lookup(502, be.Errors, fe.Errors), fe, be) && s.bodyDone
	}
	switch st {
	case fwdDone, fwdDoneClose:
		if s.srvKeep {
			s.srv = sc
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
)

// connect returns a connection to srv: the session's own, an idle one, or
// a new one, retrying as HAProxy does; nil when all attempts failed.
func (s *session) connect(bs *backendState, srv *serverState) *srvConn {
	sni := s.sniFor(srv.cfg)
	if sc := s.srv; sc != nil {
		s.srv = nil
		if sc.s == srv && bytes.Equal(sc.sni, sni) && (!srv.transparent() || s.sameSource(sc)) {
			sc.reused = true
			return sc
		}
		s.idleSrv(sc)
	}
	if sc := srv.idle.get(sni); sc != nil {
		sc.takeBufs(&s.e.bufs, serverIn, serverOut)
		sc.reused = true
		return sc
	}
	return s.dialRetries(bs, srv)
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
		c, err := s.dialServer(srv, be.Timeouts.Connect, be.Options.ServerTCPKA)
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
