package runtime

import (
	"bytes"

	"gohap/runtime/rules"
)

// msgInfo is what the runtime learned from a message's head, once the
// hop-by-hop headers were handled.
type msgInfo struct {
	ver11     bool
	connKAL   bool // "keep-alive" token in Connection
	connClose bool // "close" token in Connection
	connUpg   bool // "upgrade" token in Connection
	hasCL     bool
	cl        int64
	hasTE     bool
	chunked   bool
	expect100 bool
	upgrade   bool // an Upgrade header
	websocket bool // Upgrade: websocket
	wsKey     bool // Sec-WebSocket-Key present
	// forceClose is set when the message had both Transfer-Encoding and
	// Content-Length: HAProxy drops the length and closes afterwards.
	forceClose bool
	// htxSize is the size of a request head as haproxy stores it.
	htxSize int64
}

// wantsKeepAlive reports whether the sender of a message asked to keep
// the connection: HTTP/1.1 without "close", HTTP/1.0 with "keep-alive".
func (m *msgInfo) wantsKeepAlive() bool {
	if m.ver11 {
		return !m.connClose
	}
	return m.connKAL
}

var (
	hdrConnection = []byte("connection")
	hdrTE         = []byte("te")
	hdrCL         = []byte("content-length")
	hdrTrEnc      = []byte("transfer-encoding")
	hdrExpect     = []byte("expect")
	hdrUpgrade    = []byte("upgrade")
	hdrWSKey      = []byte("sec-websocket-key")
	valTrailers   = []byte("trailers")
)

// hopScratch holds the rewritten Connection values of one message. Owned
// by the session; reset per message.
type hopScratch struct{ buf []byte }

// processHop handles the hop-by-hop headers of a parsed message the way
// HAProxy 2.6 does: the "keep-alive" and "close" tokens are removed from
// Connection (the header goes if nothing is left; the headers it names
// stay), TE is reduced to "trailers", a Content-Length next to a
// Transfer-Encoding is dropped, and duplicate equal lengths are merged.
// Names are already lower case. isReq selects the request checks.
func processHop(hdrs []rules.Header, info *msgInfo, isReq bool, hs *hopScratch) ([]rules.Header, error) {
	out := hdrs[:0]
	for _, h := range hdrs {
		switch {
		case bytes.Equal(h.Name, hdrConnection):
			v, ok := connTokens(h.Value, info, hs)
			if !ok {
				continue
			}
			h.Value = v
		case isReq && bytes.Equal(h.Name, hdrTE):
			if !hasToken(h.Value, valTrailers) {
				continue
			}
			h.Value = valTrailers
		case bytes.Equal(h.Name, hdrCL):
			n, ok := parseCL(h.Value)
			if !ok {
				return hdrs, errBadRequest
			}
			if info.hasCL {
				if n != info.cl {
					return hdrs, errBadRequest
				}
				continue
			}
			info.hasCL, info.cl = true, n
		case bytes.Equal(h.Name, hdrTrEnc):
			info.hasTE = true
			info.chunked = lastTokenChunked(h.Value)
		case isReq && bytes.Equal(h.Name, hdrExpect):
			info.expect100 = bytes.EqualFold(h.Value, []byte("100-continue"))
		case bytes.Equal(h.Name, hdrUpgrade):
			info.upgrade = true
			info.websocket = hasToken(h.Value, []byte("websocket"))
		case bytes.Equal(h.Name, hdrWSKey):
			info.wsKey = true
		}
		out = append(out, h)
	}
	if info.hasTE {
		if isReq && !info.chunked {
			return out, errBadRequest
		}
		if info.hasCL {
			info.hasCL, info.forceClose = false, true
			j := 0
			for _, h := range out {
				if !bytes.Equal(h.Name, hdrCL) {
					out[j] = h
					j++
				}
			}
			out = out[:j]
		}
	}
	if isReq && info.connUpg && info.websocket && !info.wsKey {
		return out, errBadRequest
	}
	return out, nil
}

// connTokens removes the keep-alive and close tokens of a Connection
// value and records the tokens HAProxy acts on. It reports false when
// nothing is left.
func connTokens(v []byte, info *msgInfo, hs *hopScratch) ([]byte, bool) {
	removed, kept := false, 0
	for rest := v; len(rest) > 0; {
		var tok []byte
		tok, rest = nextToken(rest)
		switch {
		case bytes.EqualFold(tok, []byte("keep-alive")):
			info.connKAL, removed = true, true
		case bytes.EqualFold(tok, []byte("close")):
			info.connClose, removed = true, true
		case len(tok) > 0:
			if bytes.EqualFold(tok, []byte("upgrade")) {
				info.connUpg = true
			}
			kept++
		}
	}
	if kept == 0 {
		return nil, false
	}
	if !removed {
		return v, true
	}
	start := len(hs.buf)
	for rest := v; len(rest) > 0; {
		var tok []byte
		tok, rest = nextToken(rest)
		if len(tok) == 0 || bytes.EqualFold(tok, []byte("keep-alive")) || bytes.EqualFold(tok, []byte("close")) {
			continue
		}
		if len(hs.buf) > start {
			hs.buf = append(hs.buf, ", "...)
		}
		hs.buf = append(hs.buf, tok...)
	}
	return hs.buf[start:len(hs.buf):len(hs.buf)], true
}

// nextToken returns the first comma-separated element of v, trimmed.
func nextToken(v []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		tok, rest = v[:i], v[i+1:]
	} else {
		tok = v
	}
	return bytes.TrimSpace(tok), rest
}

func hasToken(v, tok []byte) bool {
	for rest := v; len(rest) > 0; {
		var t []byte
		t, rest = nextToken(rest)
		if i := bytes.IndexByte(t, ';'); i >= 0 {
			t = bytes.TrimSpace(t[:i])
		}
		if bytes.EqualFold(t, tok) {
			return true
		}
	}
	return false
}

func lastTokenChunked(v []byte) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return bytes.EqualFold(bytes.TrimSpace(v), []byte("chunked"))
}

// parseCL parses a Content-Length value; HAProxy accepts a list of equal
// values.
func parseCL(v []byte) (int64, bool) {
	var first int64 = -1
	for rest := v; ; {
		var tok []byte
		tok, rest = nextToken(rest)
		if len(tok) == 0 || len(tok) > 18 {
			return 0, false
		}
		var n int64
		for _, c := range tok {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		if first >= 0 && n != first {
			return 0, false
		}
		first = n
		if len(rest) == 0 {
			return first, true
		}
	}
}
