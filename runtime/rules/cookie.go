package rules

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
)

// CookieMode is how a backend's persistence cookie reaches the client.
type CookieMode uint8

// The modes of "cookie NAME [rewrite|insert|prefix]".
const (
	CookiePassive CookieMode = iota // the server sets the cookie; gohap only reads it
	CookieInsert                    // gohap adds its own Set-Cookie
	CookieRewrite                   // the server's Set-Cookie value is replaced by the server's cookie value
	CookiePrefix                    // the server's Set-Cookie value is prefixed with "VALUE~"
)

func (m CookieMode) String() string {
	return [...]string{"passive", "insert", "rewrite", "prefix"}[m]
}

// CookieDelim separates the server's value from the application's in
// prefix mode, and CookieDateDelim the dates of insert mode.
const (
	CookieDelim     = '~'
	CookieDateDelim = '|'
)

// Cookie is a backend's "cookie NAME ..." persistence: the server chosen
// for a client is named in a cookie, and later requests that carry it go
// back to that server while it is up.
type Cookie struct {
	Name     string
	Mode     CookieMode
	Indirect bool // insert: no Set-Cookie for a valid cookie; the cookie is removed from requests
	NoCache  bool // "Cache-Control: private" with an inserted Set-Cookie
	PostOnly bool // insert only in responses to POST
	Preserve bool // a Set-Cookie of the same name from the server is left alone
	// Dynamic: servers without "cookie VALUE" get a value computed from
	// the backend's DynamicCookieKey and their address.
	Dynamic bool
	// MaxIdle and MaxLife (insert mode; 0: none) expire a cookie unused,
	// or set, for longer; the dates ride in the cookie value.
	MaxIdle, MaxLife time.Duration
	// Prefix starts an inserted Set-Cookie value, before the server's:
	// "NAME=".
	Prefix []byte
	// Tail ends an inserted Set-Cookie, after "; path=/": the domains,
	// HttpOnly, Secure and attr, as haproxy writes them.
	Tail []byte
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
			if string(bytes.TrimSpace(k)) == name {
				return bytes.TrimSpace(val), true
			}
		}
	}
	return nil, false
}

// RemoveCookie removes the cookie name from the request's Cookie headers,
// dropping a header left empty. The new values are kept in t's storage.
func (t *Txn) RemoveCookie(name string) {
	t.editCookie(name, 0)
}

// StripCookiePrefix removes the first n bytes of the value of the request
// cookie name (prefix mode: "SRV~" before the application's value).
func (t *Txn) StripCookiePrefix(name string, n int) {
	t.editCookie(name, n)
}

// editCookie removes cookie name (strip == 0) or the first strip bytes of
// its value from the request's Cookie headers.
func (t *Txn) editCookie(name string, strip int) {
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
			k, val, _ := bytes.Cut(pair, []byte("="))
			mine := string(bytes.TrimSpace(k)) == name
			if len(pair) == 0 || (mine && strip == 0) {
				continue
			}
			if len(b) > 0 {
				b = append(b, "; "...)
			}
			if mine {
				b = append(append(append(b, k...), '='), bytes.TrimSpace(val)[strip:]...)
				strip = 0
				continue
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

// AppendCookieDate appends haproxy's encoding of a cookie date: the Unix
// time in 4-second units, rounded up, as 5 base64 characters (30 bits,
// most significant first).
func AppendCookieDate(b []byte, unix int64) []byte {
	return appendS30(b, int32((unix+3)>>2))
}

// appendS30 appends the low 30 bits of v as 5 base64 digits.
func appendS30(b []byte, v int32) []byte {
	for range 5 {
		b = append(b, base64Digits[(v>>24)&0x3f])
		v <<= 6
	}
	return b
}

// ParseCookieDate decodes 5 base64 characters written by AppendCookieDate
// into Unix seconds; ok is false for anything else.
func ParseCookieDate(s []byte) (unix int64, ok bool) {
	if len(s) < 5 {
		return 0, false
	}
	var v int64
	for _, c := range s[:5] {
		d := bytes.IndexByte([]byte(base64Digits), c)
		if d < 0 {
			return 0, false
		}
		v = v<<6 | int64(d)
	}
	return v << 2, v > 0
}

const base64Digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// DynamicCookie is haproxy's "dynamic" server cookie: XXH64 (seed 0) of
// the key, the address's bytes (4 for IPv4, 16 for IPv6) and the port as
// 4 big-endian bytes, in 16 lower-case hex digits. It is empty for an
// address that is not an IP.
func DynamicCookie(key string, ap netip.AddrPort) string {
	a := ap.Addr()
	if !a.IsValid() {
		return ""
	}
	b := []byte(key)
	if a.Is4() || a.Is4In6() {
		v := a.Unmap().As4()
		b = append(b, v[:]...)
	} else {
		v := a.As16()
		b = append(b, v[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(ap.Port()))
	s := strconv.FormatUint(xxh64(b, 0), 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}
