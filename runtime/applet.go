package runtime

import (
	"bytes"
	"errors"
	"io"
	"strconv"

	"gohap/runtime/rules"
)

// This file runs services ("use-service"): the service answers the
// request, or talks to a mode tcp client, in place of a server.

// appletChunk is how much of a chunked applet body gohap gathers before it
// sends a chunk: haproxy fills its buffer before it emits one.
const appletChunk = 15 * 1024

var (
	errHeadSent = errors.New("response head already sent")
	errNoHead   = errors.New("response head not sent yet")
)

// httpApplet is the rules.HTTPApplet of the request being served; owned
// by the session's goroutine.
type httpApplet struct {
	s  *session
	fe *rules.Frontend
	be *rules.Backend

	// The request body: what is left of a length, or chunked.
	left      int64
	chunked   bool
	bodyEOF   bool
	continued bool // "100 Continue" sent

	headSent bool
	chunkOut bool   // the response is chunked
	noBody   bool   // HEAD request, or a status without body
	keep     bool   // the connection may serve another request
	buf      []byte // chunked body not sent yet
	err      error  // first write error
}

var _ rules.HTTPApplet = (*httpApplet)(nil)

// serveApplet lets svc answer the current request and reports whether
// the connection stays open.
func (s *session) serveApplet(svc rules.Service, fe *rules.Frontend, be *rules.Backend) bool {
	a := &httpApplet{s: s, fe: fe, be: be, left: s.req.cl, chunked: s.req.chunked}
	if !s.req.hasReqBody() {
		a.bodyEOF = true
	}
	s.isHead = bytes.Equal(s.txn.Req.Method, methodHead)
	err := svc.ServeHTTP(&s.txn, a)
	switch {
	case err != nil && !a.headSent:
		a.writeReply(rules.Lookup(500, errorSets(fe, be)...))
	case err != nil:
		// Mid-way: what was gathered goes out, then the connection
		// closes without the end of the body, as in haproxy.
		a.flushChunk()
		s.out.Flush()
		return false
	}
	a.end()
	if err := s.out.Flush(); err != nil || a.err != nil || !a.keep {
		return false
	}
	// A body the service did not read is read and dropped, so that the
	// connection can go on.
	var scratch [4096]byte
	for !a.bodyEOF {
		if _, err := a.Read(scratch[:]); err != nil && err != io.EOF {
			return false
		}
	}
	return true
}

// errorSets are the error pages of the request: the backend's, then the
// frontend's.
func errorSets(fe *rules.Frontend, be *rules.Backend) []rules.ErrorSet {
	if be != nil {
		return []rules.ErrorSet{be.Errors, fe.Errors}
	}
	return []rules.ErrorSet{fe.Errors}
}

// Read reads the request body, without its chunking.
func (a *httpApplet) Read(p []byte) (int, error) {
	if a.bodyEOF {
		return 0, io.EOF
	}
	s := a.s
	if s.req.expect100 && !a.continued && !a.headSent {
		a.continued = true
		s.out.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := s.out.Flush(); err != nil {
			return 0, err
		}
	}
	s.in.timeout = a.fe.Timeouts.Client
	defer func() { s.in.timeout = 0 }()
	if a.chunked && a.left == 0 {
		line, err := s.in.line()
		if err != nil {
			return 0, noEOF(err)
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return 0, errBadChunk
		}
		if size == 0 {
			// The trailers, up to the empty line.
			for {
				line, err := s.in.line()
				if err != nil {
					return 0, noEOF(err)
				}
				if len(line) == 0 {
					break
				}
			}
			a.bodyEOF = true
			return 0, io.EOF
		}
		a.left = size
	}
	if s.in.buffered() == 0 {
		if _, err := s.in.fill(); err != nil {
			return 0, noEOF(err)
		}
	}
	d := s.in.data()
	n := copy(p, d[:min(int64(len(d)), a.left)])
	s.in.discard(n)
	a.left -= int64(n)
	if a.left == 0 {
		if !a.chunked {
			a.bodyEOF = true
		} else if line, err := s.in.line(); err != nil || len(line) != 0 {
			return n, errBadChunk
		}
	}
	return n, nil
}

// WriteHead sends the status line and the headers, after the
// http-response and http-after-response rules ran on them.
func (a *httpApplet) WriteHead(status int, reason string, hdrs []rules.Header) error {
	if a.headSent {
		return errHeadSent
	}
	a.headSent = true
	s := a.s
	hasLen := false
	for i := 0; i < len(hdrs); i++ {
		if !bytes.EqualFold(hdrs[i].Name, hdrCL) {
			continue
		}
		if status == 204 || status < 200 {
			// haproxy's HTTP/1 layer gives these no length.
			hdrs = append(hdrs[:i], hdrs[i+1:]...)
			i--
			continue
		}
		hasLen = true
	}
	a.noBody = s.isHead || status == 204 || status == 304 || status < 200
	ver11 := s.req.ver11
	// Without a length, an HTTP/1.1 client gets chunks; an HTTP/1.0 one
	// gets the body up to the close.
	a.chunkOut = !hasLen && ver11 && status >= 200 && status != 204 && status != 304
	if a.chunkOut {
		hdrs = append(hdrs, rules.Header{Name: hdrTrEnc, Value: valChunked})
	}
	r := &s.resp
	r.version, r.status, r.code = http10, status, strconv.AppendInt(r.code[:0:0], int64(status), 10)
	if ver11 {
		r.version = http11Version
	}
	r.reason = []byte(reason)
	if reason == "" {
		r.reason = []byte(rules.StatusReason(status))
	}
	// Counted before the http-response rules, as a server's response.
	s.countResponse(status)
	if len(a.fe.HTTPResponse) > 0 || (a.be != nil && len(a.be.HTTPResponse) > 0) {
		var v rules.Verdict
		if hdrs, v = s.responseRules(a.fe, a.be, status, hdrs); v == rules.Answer || v == rules.Reject {
			// The rules replaced the response: the service's goes
			// nowhere.
			a.keep = v == rules.Answer && s.reply(s.txn.Reply, a.fe, a.be)
			a.noBody, a.chunkOut = true, false
			return nil
		}
	}
	if hasAfterResponse(a.fe, a.be) {
		hdrs = s.afterResponse(a.fe, a.be, r.status, hdrs)
	}
	a.keep = s.clientKeepAlive(a.fe, a.be) && (hasLen || a.chunkOut || a.noBody)
	s.writeStatus(hdrs)
	if a.keep {
		if !ver11 {
			s.out.Write(connKeepAlive)
		}
	} else if ver11 {
		s.out.Write(connClose)
	}
	_, err := s.out.WriteString("\r\n")
	a.err = err
	return err
}

// Write sends body bytes: as they come when the length is known, in
// chunks of appletChunk bytes otherwise.
func (a *httpApplet) Write(p []byte) (int, error) {
	switch {
	case !a.headSent:
		return 0, errNoHead
	case a.err != nil:
		return 0, a.err
	case a.noBody:
		return len(p), nil
	case !a.chunkOut:
		n, err := a.s.out.Write(p)
		a.err = err
		return n, err
	}
	a.buf = append(a.buf, p...)
	if len(a.buf) >= appletChunk {
		a.flushChunk()
	}
	return len(p), a.err
}

// flushChunk sends the gathered body as one chunk.
func (a *httpApplet) flushChunk() {
	if !a.chunkOut || len(a.buf) == 0 || a.err != nil {
		return
	}
	w := a.s.out
	var size [16]byte
	w.Write(appendHex(size[:0], int64(len(a.buf))))
	w.WriteString("\r\n")
	w.Write(a.buf)
	_, a.err = w.WriteString("\r\n")
	a.buf = a.buf[:0]
}

// end finishes the body once the service returned.
func (a *httpApplet) end() {
	a.flushChunk()
	if a.chunkOut && !a.noBody && a.err == nil {
		_, a.err = a.s.out.WriteString("0\r\n\r\n")
	}
}

// writeReply sends a built reply (an error page) through WriteHead, so
// that the http-response rules see it as they see a service's response.
func (a *httpApplet) writeReply(r *rules.Reply) {
	r = r.Eval(&a.s.txn)
	head := r.Raw[:r.HeadLen]
	line, rest := cutLine(head)
	reason := ""
	if parts := bytes.SplitN(line, []byte(" "), 3); len(parts) == 3 {
		reason = string(parts[2])
	}
	var hdrs []rules.Header
	for len(rest) > 0 {
		var l []byte
		if l, rest = cutLine(rest); len(l) == 0 {
			break
		}
		if name, value, ok := cutHeader(l); ok {
			hdrs = append(hdrs, rules.Header{Name: name, Value: value})
		}
	}
	if a.WriteHead(r.Status, reason, hdrs) == nil {
		a.Write(r.Raw[r.HeadLen:])
	}
}

var (
	http10        = []byte("HTTP/1.0")
	http11Version = []byte("HTTP/1.1")
)

// serveTCPService lets svc talk to a mode tcp client; the connection is
// closed when it returns.
func (s *session) serveTCPService(svc rules.Service, fe *rules.Frontend) {
	s.in.timeout = fe.Timeouts.Client
	s.dw.setTimeout(fe.Timeouts.Client)
	svc.ServeTCP(&s.txn, tcpStream{s})
	s.in.timeout = 0
	s.out.Flush()
}

// tcpStream is the client connection as a TCP service reads and writes
// it: the bytes already buffered first, and every write sent at once.
type tcpStream struct{ s *session }

func (c tcpStream) Read(p []byte) (int, error) {
	in := &c.s.in
	if in.buffered() == 0 {
		if _, err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.data())
	in.discard(n)
	return n, nil
}

func (c tcpStream) Write(p []byte) (int, error) {
	n, err := c.s.out.Write(p)
	if err == nil {
		err = c.s.out.Flush()
	}
	return n, err
}
