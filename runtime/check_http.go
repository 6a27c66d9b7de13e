package runtime

import (
	"bytes"
	"strconv"

	"gohap/runtime/rules"
)

// httpCheck sends the backend's HTTP check request and applies its
// expect rules to the response ("option httpchk", "http-check").
func (p *probe) httpCheck(hc *rules.HealthCheck) checkResult {
	addr := p.c.addr()
	if hc.Connect != nil {
		addr = p.stepAddr(hc.Connect)
	}
	if err := p.dialStep(addr, hc.Connect); err != nil {
		return connError(err, "")
	}
	if err := p.write(hc.Request); err != nil {
		return checkResult{status: chkSockErr, info: checkInfo(err)}
	}
	// The response head.
	var headLen int
	for {
		if n := checkHeadEnd(p.buf); n >= 0 {
			headLen = n
			break
		}
		if p.eof {
			return checkResult{status: chkL7Rsp}
		}
		if err := p.read(); err != nil {
			return checkResult{status: chkL7Tout}
		}
	}
	code, reason, ok := parseStatusLine(p.buf[:headLen])
	if !ok {
		return checkResult{status: chkL7Rsp}
	}
	var body []byte
	if hc.NeedBody {
		var done bool
		for {
			body, done = checkBody(p.buf[:headLen], p.buf[headLen:], code, hc.Request)
			if done || p.eof {
				break
			}
			if err := p.read(); err != nil {
				return checkResult{status: chkL7Tout}
			}
		}
	}
	if hc.DisableOn404 && code == 404 {
		// Takes precedence over the expect rules, as in haproxy.
		return checkResult{status: chkL7OKC, code: code, info: reason}
	}
	return evalHTTPExpect(hc.Expect, code, reason, body)
}

// evalHTTPExpect applies the expect rules in order; none means HAProxy's
// default, a 2xx or 3xx status.
func evalHTTPExpect(rs []*rules.CheckExpect, code int, reason string, body []byte) checkResult {
	if len(rs) == 0 {
		if code >= 200 && code <= 399 {
			return checkResult{status: chkL7OKD, code: code}
		}
		return checkResult{status: chkL7Sts, code: code, info: reason}
	}
	for _, e := range rs {
		switch e.Kind {
		case rules.ExpectStatus, rules.ExpectRStatus:
			if e.MatchStatus(code) == e.Inverse {
				return checkResult{status: chkL7Sts, code: code, info: withComment(reason, e)}
			}
		default:
			var match bool
			if e.Kind == rules.ExpectRString {
				match = e.Regex.Match(body)
			} else {
				match = bytes.Contains(body, e.Data)
			}
			if match == e.Inverse {
				info := "HTTP content check did not match"
				if match {
					info = "HTTP check matched unwanted content"
				}
				return checkResult{status: chkL7Rsp, code: code, info: withComment(info, e)}
			}
		}
	}
	return checkResult{status: chkL7OKD, code: code}
}

func withComment(info string, e *rules.CheckExpect) string {
	if e.Comment != "" {
		return info + " comment: " + e.Comment
	}
	return info
}

// checkHeadEnd returns the length of the response head in b, through its
// empty line (CRLF or bare LF), or -1 if it is not complete.
func checkHeadEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseStatusLine reads "HTTP/1.x CODE [REASON]" from a response head.
func parseStatusLine(head []byte) (int, string, bool) {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/")) || line[8] != ' ' {
		return 0, "", false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, "", false
	}
	reason := ""
	if len(line) > 13 {
		reason = string(line[13:])
	}
	return code, reason, code >= 100
}

// checkBody returns the response body received so far, decoded, and
// whether it is complete.
func checkBody(head, rest []byte, code int, req []byte) ([]byte, bool) {
	if bytes.HasPrefix(req, []byte("HEAD ")) || code == 204 || code == 304 || code < 200 {
		return nil, true
	}
	cl, chunked := -1, false
	for _, line := range bytes.Split(head, []byte("\n"))[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("content-length")):
			if n, err := strconv.Atoi(string(value)); err == nil {
				cl = n
			}
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("transfer-encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	switch {
	case chunked:
		return dechunk(rest)
	case cl >= 0:
		if len(rest) >= cl {
			return rest[:cl], true
		}
		return rest, false
	}
	return rest, false // until the server closes
}

// dechunk decodes as much of a chunked body as b holds; it reports
// whether the last chunk was seen.
func dechunk(b []byte) ([]byte, bool) {
	var out []byte
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, false
		}
		size := bytes.TrimSpace(b[:i])
		if j := bytes.IndexByte(size, ';'); j >= 0 {
			size = bytes.TrimSpace(size[:j])
		}
		n, err := strconv.ParseInt(string(size), 16, 32)
		if err != nil || n < 0 {
			return out, true // malformed: judge what we have
		}
		b = b[i+1:]
		if n == 0 {
			return out, true
		}
		if int64(len(b)) < n {
			return append(out, b...), false
		}
		out = append(out, b[:n]...)
		b = b[n:]
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			b = b[k+1:]
		} else {
			return out, false
		}
	}
}
