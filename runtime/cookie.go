package runtime

import (
	"bytes"

	"gohap/runtime/rules"
)

// cookiePick returns the server the request's persistence cookie names,
// with a slot taken on it, when that server is usable and has room; nil
// sends the request to the balancer. With "indirect" the cookie is
// removed from the request the server gets.
func (s *session) cookiePick(bs *backendState) *serverState {
	ck := bs.cfg.Cookie
	v, ok := s.txn.Req.CookieValue(ck.Name)
	if !ok {
		return nil
	}
	if ck.Indirect {
		s.txn.RemoveCookie(ck.Name)
	}
	for _, ss := range bs.servers {
		if ss.cfg.Cookie != "" && string(v) == ss.cfg.Cookie && ss.usable() && ss.acquire() {
			return ss
		}
	}
	return nil
}

// insertCookie adds the persistence cookie naming the server to the
// response, unless the request already had it; with "nocache", a
// response a cache would keep is made private.
func (s *session) insertCookie(ck *rules.Cookie, status int, hdrs []rules.Header) []rules.Header {
	srv := s.cookieSrv
	if srv == nil || srv.cfg.Cookie == "" || s.cookieValid {
		return hdrs
	}
	b := append(s.cookieBuf[:0], ck.Prefix...)
	b = append(append(b, srv.cfg.Cookie...), ck.Attrs...)
	s.cookieBuf = b
	hdrs = append(hdrs, rules.Header{Name: setCookieName, Value: b})
	if ck.NoCache && cacheable(&s.txn.Req, status, hdrs) {
		hdrs = append(hdrs, rules.Header{Name: cacheControlName, Value: privateValue})
	}
	return hdrs
}

var (
	setCookieName    = []byte("set-cookie")
	cacheControlName = []byte("cache-control")
	privateValue     = []byte("private")
)

// cacheable reports whether haproxy would make the response private
// under "nocache": a GET or HEAD answered with a status caches keep and
// with freshness information (a positive max-age, Expires or
// Last-Modified), and no Cache-Control that already forbids caching or
// says "public" (all measured against haproxy 2.6).
func cacheable(req *rules.Request, status int, hdrs []rules.Header) bool {
	if m := string(req.Method); m != "GET" && m != "HEAD" {
		return false
	}
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
	default:
		return false
	}
	fresh := false
	for i := range hdrs {
		h := &hdrs[i]
		switch {
		case bytes.EqualFold(h.Name, cacheControlName):
			for rest := h.Value; len(rest) > 0; {
				var d []byte
				d, rest, _ = bytes.Cut(rest, []byte(","))
				d = bytes.TrimSpace(d)
				name, v, hasValue := bytes.Cut(d, []byte("="))
				switch {
				case !hasValue && (bytes.EqualFold(d, []byte("public")) || bytes.EqualFold(d, []byte("private")) ||
					bytes.EqualFold(d, []byte("no-cache")) || bytes.EqualFold(d, []byte("no-store"))):
					return false
				case bytes.EqualFold(name, []byte("max-age")), bytes.EqualFold(name, []byte("s-maxage")):
					if len(v) == 0 || string(v) == "0" {
						return false
					}
					fresh = true
				}
			}
		case bytes.EqualFold(h.Name, []byte("expires")), bytes.EqualFold(h.Name, []byte("last-modified")):
			fresh = true
		}
	}
	return fresh
}
