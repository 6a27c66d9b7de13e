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
			for _, d := range bytes.Split(h.Value, []byte(",")) {
				d = bytes.ToLower(bytes.TrimSpace(d))
				switch {
				case bytes.Equal(d, []byte("public")), bytes.Equal(d, []byte("private")),
					bytes.Equal(d, []byte("no-cache")), bytes.Equal(d, []byte("no-store")):
					return false
				case bytes.HasPrefix(d, []byte("max-age=")), bytes.HasPrefix(d, []byte("s-maxage=")):
					v := d[bytes.IndexByte(d, '=')+1:]
					if len(v) == 0 || bytes.Equal(v, []byte("0")) {
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
