package runtime

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

var methodHead = []byte("HEAD")

// exchange sends the current request on sc and reads the response up to
// its final head (relaying interim responses): fwdHead, or how it
// failed.
func (s *session) exchange(fe *rules.Frontend, be *rules.Backend, sc *srvConn, srvClose bool) fwdStatus {
	s.srvKeep = false
	s.bodyDone = !s.req.hasReqBody()
	s.isHead = bytes.Equal(s.txn.Req.Method, methodHead)
	sc.dw.setTimeout(be.Timeouts.Server)
	s.writeRequestHead(sc, fe, be, srvClose)
	sentBody := false
	switch {
	case !s.bodyDone && s.replay:
		// Kept for retry-on: sent from the client buffer, left there.
		sentBody, s.bodyDone = true, true
		if err := s.writeReplayBody(sc); err != nil {
			return fwdEmpty
		}
	case !s.bodyDone && !s.req.expect100:
		sentBody = true
		if err := s.copyReqBody(sc, fe); err != nil {
			return fwdAbort
		}
	}
	// Without a body, the server answers only once it got the whole
	// head: the read of its response sends it (see rbuf.quiet).
	quiet := !sentBody && s.bodyDone && sc.in.buffered() == 0
	if !quiet {
		if err := sc.out.Flush(); err != nil {
			if sc.reused && !sentBody {
				return fwdRetry
			}
			return fwdEmpty
		}
	}
	if d := be.Timeouts.Server; d > 0 {
		sc.c.SetReadDeadline(time.Now().Add(d))
	} else {
		sc.c.SetReadDeadline(time.Time{})
	}
	sc.in.flush, sc.in.timeout = sc.out, 0
	sc.in.quiet, sc.in.quietWait, sc.in.flushFailed = quiet, 0, false
	for {
		n, err := readHead(&sc.in)
		if err != nil {
			switch {
			case sc.in.flushFailed && sc.reused && !sentBody:
				return fwdRetry
			case sc.in.flushFailed:
				return fwdEmpty
			case isTimeout(err):
				return fwd504
			case sc.reused && !sentBody && sc.in.buffered() == 0 && isPeerGone(err):
				return fwdRetry
			case err == errHeadTooBig:
				return fwdJunk
			case isPeerGone(err) || err == io.ErrUnexpectedEOF:
				return fwdEmpty // with or without part of a head, as haproxy
			}
			return fwd502
		}
		sc.reused = false // something came back: no silent retry now
		if err := parseResponse(sc.in.data()[:n], &s.resp, &s.rinfo); err != nil {
			return fwdJunk
		}
		sc.in.discard(n)
		if s.resp.status >= 200 || s.resp.status == 101 {
			sc.in.flush = nil
			break
		}
		// Interim response: relay it, and send the body the client held
		// back for "100 Continue".
		hdrs, err := processHop(s.resp.hdrs, &s.rinfo, false, &s.hop)
		if err != nil {
			return fwdJunk
		}
		s.writeStatus(hdrs)
		s.out.WriteString("\r\n")
		if err := s.out.Flush(); err != nil {
			return fwdAbort
		}
		if s.resp.status == 100 && !s.bodyDone {
			sentBody = true
			if err := s.copyReqBody(sc, fe); err != nil {
				return fwdAbort
			}
			if err := sc.out.Flush(); err != nil {
				return fwdAbort
			}
		}
	}
	return fwdHead
}

// isPeerGone reports whether err says the peer closed the connection.
func isPeerGone(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// copyReqBody relays the request body to the server.
func (s *session) copyReqBody(sc *srvConn, fe *rules.Frontend) error {
	s.in.timeout = fe.Timeouts.Client
	var err error
	if s.req.chunked {
		s.scratch, err = copyChunked(sc.out, &s.in, s.scratch)
	} else {
		err = copyN(sc.out, &s.in, s.req.cl)
	}
	s.in.timeout = 0
	if d := s.idleTimeout(fe); d > 0 {
		s.c.SetReadDeadline(time.Now().Add(d))
	}
	if err == nil {
		s.bodyDone = true
	}
	return err
}

// writeStatus writes the response status line and headers (lower-case
// names) to the client, without the final empty line.
func (s *session) writeStatus(hdrs []rules.Header) {
	w := s.out
	r := &s.resp
	w.Write(r.version)
	w.WriteByte(' ')
	w.Write(r.code)
	w.WriteByte(' ')
	w.Write(r.reason)
	w.WriteString("\r\n")
	for i := range hdrs {
		w.Write(hdrs[i].Name)
		w.WriteString(": ")
		w.Write(hdrs[i].Value)
		w.WriteString("\r\n")
	}
}

// relayResponse sends the response head (hop-by-hop headers handled) and
// streams its body.
func (s *session) relayResponse(fe *rules.Frontend, be *rules.Backend, sc *srvConn, srvClose bool) fwdStatus {
	ri := &s.rinfo
	hdrs, err := processHop(s.resp.hdrs, ri, false, &s.hop)
	if err != nil {
		return fwd502
	}
	status := s.resp.status
	s.countResponse(status)
	s.txn.Track.CountResponse(status)
	// Whether to compress is decided on the server's head; the head is
	// rewritten once the rules ran, as haproxy's filter does.
	comp := s.compAlgo != rules.CompNone && s.compressible(fe, be, ri, status, hdrs)
	if len(be.StickRules) > 0 || len(be.StickResponse) > 0 {
		s.stickStore(be, s.ck.srv, status, hdrs)
	}
	if len(be.HTTPResponse) > 0 || len(fe.HTTPResponse) > 0 {
		var v rules.Verdict
		if hdrs, v = s.responseRules(fe, be, status, hdrs); v == rules.Answer {
			return fwdReply
		} else if v == rules.Reject {
			return fwdAbort
		}
		status = s.resp.status
	}
	if be.Cookie != nil {
		hdrs = s.responseCookies(be.Cookie, status, hdrs)
	}
	if hasAfterResponse(fe, be) {
		hdrs = s.afterResponse(fe, be, status, hdrs)
		status = s.resp.status
	}
	if comp {
		hdrs = s.compressHeaders(hdrs, ri, s.compAlgo)
	}
	if status == 204 {
		// haproxy's HTTP/1 output never frames a 204.
		hdrs = rules.DelHeaders(rules.DelHeaders(hdrs, hdrCL), hdrTrEnc)
	}
	s.resp.hdrs = hdrs[:0] // keep the capacity the additions needed
	s.txn.Log.Status = status
	if status == 101 {
		s.writeStatus(hdrs)
		s.out.WriteString("\r\n")
		s.tunnel(&sc.side, fe, be)
		return fwdAbort
	}
	bodyless := s.isHead || status == 204 || status == 304
	lengthKnown := bodyless || ri.chunked || ri.hasCL
	clientKeep := s.clientKeepAlive(fe, be) && lengthKnown && s.bodyDone
	s.srvKeep = !srvClose && ri.wantsKeepAlive() && lengthKnown && !ri.forceClose && s.bodyDone
	s.writeStatus(hdrs)
	if clientKeep {
		if !ri.ver11 || !s.req.ver11 {
			s.out.Write(connKeepAlive)
		}
	} else if ri.ver11 {
		s.out.Write(connClose)
	}
	if _, err := s.out.WriteString("\r\n"); err != nil {
		return fwdAbort
	}
	if !bodyless {
		sc.in.timeout = be.Timeouts.Server
		// As haproxy, count the bytes of a long response in the stick
		// tables while it passes, not only at its end.
		sc.in.onFill = s.bytesHook()
		switch {
		case comp:
			err = s.relayCompressed(&sc.in, ri, s.compAlgo)
		case ri.chunked:
			s.scratch, err = copyChunked(s.out, &sc.in, s.scratch)
		case ri.hasCL:
			err = copyN(s.out, &sc.in, ri.cl)
		default:
			err = copyEOF(s.out, &sc.in)
		}
		sc.in.timeout, sc.in.onFill = 0, nil
		if err != nil {
			s.out.Flush()
			return fwdAbort
		}
	}
	if !clientKeep {
		s.out.Flush()
		return fwdDoneClose
	}
	return fwdDone
}

// tunnel relays bytes both ways between the client and peer until both
// directions ended, half-closing each side when its source ends.
func (s *session) tunnel(peer *side, fe *rules.Frontend, be *rules.Backend) {
	cto, sto := fe.Timeouts.Client, be.Timeouts.Server
	if t := be.Timeouts.Tunnel; t > 0 {
		cto, sto = t, t
	}
	s.out.Flush()
	peer.out.Flush()
	s.c.SetDeadline(time.Time{})
	peer.c.SetDeadline(time.Time{})
	s.dw.setTimeout(cto)
	peer.dw.setTimeout(sto)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pipe(s.out, &peer.in, sto, s.c)
	}()
	pipe(peer.out, &s.in, cto, peer.c)
	wg.Wait()
}

// pipe copies src to w until src ends or fails, then half-closes dst
// (or closes both on error).
func pipe(w *wbuf, src *rbuf, timeout time.Duration, dst net.Conn) {
	src.timeout = timeout
	err := copyEOF(w, src)
	src.timeout = 0
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
			return
		}
	}
	dst.Close()
	src.c.Close()
}

// responseRules runs the http-response rules on the response head, the
// backend's (be may be nil) then the frontend's as in haproxy, and
// returns the headers and what the rules decided: Answer replaces the
// response by Txn.Reply, Reject closes the connection. A rule that
// changed the status is applied to s.resp.
func (s *session) responseRules(fe *rules.Frontend, be *rules.Backend, status int, hdrs []rules.Header) ([]rules.Header, rules.Verdict) {
	var list []rules.Rule
	if be != nil {
		list = be.HTTPResponse
	}
	return s.runResponse(list, fe.HTTPResponse, status, hdrs)
}

// hasAfterResponse reports whether the request's proxies (be may be nil)
// have http-after-response rules.
func hasAfterResponse(fe *rules.Frontend, be *rules.Backend) bool {
	return len(fe.HTTPAfterResponse) > 0 || (be != nil && len(be.HTTPAfterResponse) > 0)
}

// afterResponse runs the http-after-response rules on the response head
// about to be sent, the backend's (be may be nil) then the frontend's as
// in haproxy, and returns the headers. A rule that changed the status is
// applied to s.resp.
func (s *session) afterResponse(fe *rules.Frontend, be *rules.Backend, status int, hdrs []rules.Header) []rules.Header {
	var list []rules.Rule
	if be != nil {
		list = be.HTTPAfterResponse
	}
	hdrs, _ = s.runResponse(list, fe.HTTPAfterResponse, status, hdrs)
	return hdrs
}

// runResponse runs the response rules of the backend, then the
// frontend's unless the backend's answered or rejected, on a response
// with status and hdrs; a status or reason a rule set is applied to
// s.resp.
func (s *session) runResponse(beRules, feRules []rules.Rule, status int, hdrs []rules.Header) ([]rules.Header, rules.Verdict) {
	t := &s.txn
	t.InResponse, t.Resp.Status, t.Resp.Reason, t.Resp.Headers = true, status, nil, hdrs
	v := rules.Run(beRules, t)
	if v != rules.Answer && v != rules.Reject {
		v = rules.Run(feRules, t)
	}
	t.InResponse = false
	if t.Resp.Status != status || t.Resp.Reason != nil {
		s.resp.setStatus(t.Resp.Status, t.Resp.Reason)
	}
	return t.Resp.Headers, v
}
