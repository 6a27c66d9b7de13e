package rules

import "bytes"

// Cookie is a backend's "cookie NAME insert ..." persistence: the server
// chosen for a client is named in a cookie gohap sets, and later requests
// that carry it go back to that server while it is usable.
type Cookie struct {
	Name     string
	Indirect bool // no Set-Cookie for a valid cookie; the cookie is removed from requests
	NoCache  bool // "Cache-Control: private" with the Set-Cookie
	// Prefix starts the Set-Cookie value, before the server's: "NAME=".
	Prefix []byte
	// Attrs follow the value: "; path=/", domain, HttpOnly, Secure, attr.
	Attrs []byte
}

var cookieHeader = []byte("cookie")

// CookieValue returns the value of the request cookie name, and whether
// the request has it.
func (r *Request) CookieValue(name string) ([]byte, bool) {
	for i := range r.Headers {
		h := &r.Headers[i]
		if !bytes.EqualFold(h.Name, cookieHeader) {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var pair []byte
			pair, v, _ = bytes.Cut(v, []byte(";"))
			k, val, _ := bytes.Cut(bytes.TrimSpace(pair), []byte("="))
			if string(k) == name {
				return val, true
			}
		}
	}
	return nil, false
}

// RemoveCookie removes the cookie name from the request's Cookie headers,
// dropping a header left empty. The new values are kept in t's storage.
func (t *Txn) RemoveCookie(name string) {
	out := t.Req.Headers[:0]
	for _, h := range t.Req.Headers {
		if !bytes.EqualFold(h.Name, cookieHeader) {
			out = append(out, h)
			continue
		}
		b := t.fmtBuf[:0]
		for v := h.Value; len(v) > 0; {
			var pair []byte
			pair, v, _ = bytes.Cut(v, []byte(";"))
			pair = bytes.TrimSpace(pair)
			if k, _, _ := bytes.Cut(pair, []byte("=")); string(k) == name || len(pair) == 0 {
				continue
			}
			if len(b) > 0 {
				b = append(b, "; "...)
			}
			b = append(b, pair...)
		}
		t.fmtBuf = b
		if len(b) > 0 {
			h.Value = t.keep(b)
			out = append(out, h)
		}
	}
	t.Req.Headers = out
}
