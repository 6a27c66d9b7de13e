package runtime

import (
	"bytes"
	"strconv"

	"gohap/runtime/rules"
)

// HTX accounting, to refuse the heads HAProxy refuses: a head must fit in
// tune.bufsize minus tune.maxrewrite once stored as HTX blocks.
const (
	htxLimit    = bufSize - 1024
	htxOverhead = 72 + 8 // buffer and start-line structures, end-of-headers block
	htxBlock    = 8      // per block: start line, each header
)

// tchar marks the bytes allowed in a token (RFC 9110).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-32] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// cutLine returns the first line of d without its CRLF or LF, and the rest.
func cutLine(d []byte) (line, rest []byte) {
	i := bytes.IndexByte(d, '\n')
	if i < 0 {
		return d, nil
	}
	line, rest = d[:i], d[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseVersion reports whether v is "HTTP/x.y" and whether it is at
// least 1.1.
func parseVersion(v []byte) (ok, v11 bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return false, false
	}
	return true, v[5] > '1' || (v[5] == '1' && v[7] >= '1')
}

// parseRequest parses a request head (through its empty line) into req,
// with slices into head. Header names are lowered in place, as HAProxy
// emits them.
func parseRequest(head []byte, req *rules.Request, info *msgInfo) error {
	line, rest := cutLine(head)
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errBadRequest
	}
	req.Method = line[:sp]
	for _, c := range req.Method {
		if !tchar[c] {
			return errBadRequest
		}
	}
	line = line[sp+1:]
	sp = bytes.LastIndexByte(line, ' ')
	if sp <= 0 {
		return errBadRequest
	}
	req.URI, req.Version = line[:sp], line[sp+1:]
	for _, c := range req.URI {
		if c <= ' ' || c == 0x7f {
			return errBadRequest
		}
	}
	ok, v11 := parseVersion(req.Version)
	if !ok {
		return errBadRequest
	}
	*info = msgInfo{ver11: v11}
	size := htxOverhead + htxBlock + len(req.Method) + len(req.URI) + len(req.Version)
	var err error
	req.Headers, size, err = parseHeaders(rest, req.Headers, size)
	if err != nil {
		return err
	}
	if size > htxLimit {
		return errHeadTooBig
	}
	info.htxSize = int64(size)
	return checkHost(req)
}

// checkHost applies HAProxy's rules on the target's authority: every Host
// header must carry the same value, and an absolute-form target's
// authority must match it, ignoring case and the scheme's default port.
func checkHost(req *rules.Request) error {
	var host []byte
	seen := false
	for i := range req.Headers {
		h := &req.Headers[i]
		if !bytes.EqualFold(h.Name, hostHeader) {
			continue
		}
		if seen && !bytes.Equal(h.Value, host) {
			return errBadRequest
		}
		host, seen = h.Value, true
	}
	if !seen || len(req.URI) == 0 || req.URI[0] == '/' || req.URI[0] == '*' {
		return nil
	}
	scheme, rest, ok := bytes.Cut(req.URI, schemeSep)
	if !ok {
		return nil
	}
	auth := rest
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	if !bytes.EqualFold(stripDefaultPort(auth, scheme), stripDefaultPort(host, scheme)) {
		return errBadRequest
	}
	return nil
}

var (
	hostHeader = []byte("host")
	schemeSep  = []byte("://")
)

// stripDefaultPort removes ":80" from an http authority and ":443" from an
// https one.
func stripDefaultPort(auth, scheme []byte) []byte {
	if bytes.EqualFold(scheme, []byte("http")) {
		return bytes.TrimSuffix(auth, []byte(":80"))
	}
	if bytes.EqualFold(scheme, []byte("https")) {
		return bytes.TrimSuffix(auth, []byte(":443"))
	}
	return auth
}

// respHead is a parsed response head; slices point into the server
// connection's read buffer.
type respHead struct {
	version []byte
	code    []byte
	status  int
	reason  []byte
	hdrs    []rules.Header
}

// setStatus replaces the status an http-response rule changed, with
// reason, or the standard reason when it is empty.
func (r *respHead) setStatus(code int, reason []byte) {
	r.status, r.code = code, strconv.AppendInt(nil, int64(code), 10)
	r.reason = reason
	if len(reason) == 0 {
		r.reason = []byte(rules.StatusReason(code))
	}
}

// parseResponse parses a response head (through its empty line) into r.
func parseResponse(head []byte, r *respHead, info *msgInfo) error {
	line, rest := cutLine(head)
	if len(line) < 12 || line[8] != ' ' {
		return errBadResponse
	}
	ok, v11 := parseVersion(line[:8])
	if !ok {
		return errBadResponse
	}
	r.version, r.code = line[:8], line[9:12]
	r.status = 0
	for _, c := range r.code {
		if c < '0' || c > '9' {
			return errBadResponse
		}
		r.status = r.status*10 + int(c-'0')
	}
	r.reason = nil
	if len(line) > 12 {
		if line[12] != ' ' {
			return errBadResponse
		}
		r.reason = line[13:]
	}
	*info = msgInfo{ver11: v11}
	var err error
	r.hdrs, _, err = parseHeaders(rest, r.hdrs[:0], 0)
	return err
}

// parseHeaders appends the header lines of block (up to the empty line)
// to hdrs, lowering names in place, and adds their HTX size to size.
func parseHeaders(block []byte, hdrs []rules.Header, size int) ([]rules.Header, int, error) {
	for {
		line, rest := cutLine(block)
		if len(line) == 0 {
			return hdrs, size, nil
		}
		block = rest
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return hdrs, size, errBadRequest
		}
		name := line[:colon]
		for i, c := range name {
			if !tchar[c] {
				return hdrs, size, errBadRequest
			}
			if c >= 'A' && c <= 'Z' {
				name[i] = c + 32
			}
		}
		v := line[colon+1:]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		for _, c := range v {
			if c == 0 || c == '\r' || c == '\n' {
				return hdrs, size, errBadRequest
			}
		}
		size += len(name) + len(v) + htxBlock
		hdrs = append(hdrs, rules.Header{Name: name, Value: v})
	}
}

// headEnd returns the length of the head at the start of d, through its
// empty line, or -1 when d does not hold it all yet.
func headEnd(d []byte) int {
	end := -1
	if i := bytes.Index(d, crlfcrlf); i >= 0 {
		end = i + 4
	}
	if i := bytes.Index(d, lflf); i >= 0 && (end < 0 || i+2 < end) {
		end = i + 2
	}
	return end
}

var (
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
)
