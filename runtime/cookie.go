package runtime

import (
	"bytes"
	"time"

	"gohap/runtime/rules"
)

// cookieState is the cookie persistence of one request. Owned by the
// session; reset by cookiePick.
type cookieState struct {
	srv *serverState // the server that serves the request
	// direct: the request's cookie named srv (haproxy's SF_DIRECT).
	direct bool
	// ignore and force are ignore-persist and force-persist.
	ignore, force bool
	// last and first are the dates the request's cookie carried (Unix
	// seconds, 0: none), for maxidle and maxlife.
	last, first int64
	buf         []byte // the inserted Set-Cookie value
	rw          []byte // rewritten server Set-Cookie values
	edits       []cookieEdit
}

// cookieEdit is one server Set-Cookie value rewritten into rw[from:to].
type cookieEdit struct{ hdr, from, to int }

// persistRules runs the backend's force-persist and ignore-persist rules;
// the first whose condition holds applies.
func (s *session) persistRules(be *rules.Backend) {
	s.ck.ignore, s.ck.force = false, false
	for i := range be.PersistRules {
		r := &be.PersistRules[i]
		if r.Cond.Eval(&s.txn) {
			s.ck.force, s.ck.ignore = r.Force, !r.Force
			return
		}
	}
}

// cookiePick returns the server the request's persistence cookie names,
// with a slot taken on it, when that server is running (or "option
// persist" or force-persist holds) and has room; nil sends the request to
// the balancer, as it does when a server is already assigned (by
// use-server). The cookie is then removed from the request ("insert
// indirect") or its "SRV~" prefix stripped (prefix mode), as haproxy does.
func (s *session) cookiePick(bs *backendState, assigned bool) *serverState {
	ck := bs.cfg.Cookie
	s.ck.last, s.ck.first = 0, 0
	v, ok := s.txn.Req.CookieValue(ck.Name)
	if !ok {
		return nil
	}
	id, delim := v, len(v)
	if ck.Mode == rules.CookiePrefix {
		if i := bytes.IndexByte(v, rules.CookieDelim); i >= 0 {
			id, delim = v[:i], i
		}
	} else if i := bytes.IndexByte(v, rules.CookieDateDelim); i >= 0 {
		id = v[:i]
		rest := v[i+1:]
		s.ck.last, _ = rules.ParseCookieDate(rest)
		if j := bytes.IndexByte(rest, rules.CookieDateDelim); j >= 0 && len(rest)-j > 5 {
			s.ck.first, _ = rules.ParseCookieDate(rest[j+1:])
		}
	}
	if (s.ck.first != 0 || s.ck.last != 0) && s.cookieExpired(ck, time.Now().Unix()) {
		id = nil
	}
	var srv *serverState
	if len(id) > 0 && !s.ck.ignore && !assigned {
		persist := bs.cfg.Options.Persist || s.ck.force
		for _, ss := range bs.servers {
			if c := ss.cookie(); c != "" && string(id) == c && (ss.running() || persist) {
				srv = ss
				break
			}
		}
	}
	switch {
	case ck.Mode == rules.CookiePrefix && delim < len(v):
		s.txn.StripCookiePrefix(ck.Name, delim+1)
	case ck.Mode == rules.CookieInsert && ck.Indirect:
		s.txn.RemoveCookie(ck.Name)
	}
	if srv == nil || !srv.acquire() {
		return nil
	}
	return srv
}

// cookieExpired reports whether the request's cookie dates are past
// maxlife or maxidle (or over a day in the future); the dates are then
// forgotten, as haproxy does.
func (s *session) cookieExpired(ck *rules.Cookie, now int64) bool {
	old := func(d int64, max time.Duration) bool {
		return d != 0 && max > 0 && (now-d > int64(max/time.Second) || d-now > 86400)
	}
	if old(s.ck.first, ck.MaxLife) || old(s.ck.last, ck.MaxIdle) {
		s.ck.last, s.ck.first = 0, 0
		return true
	}
	return false
}

// responseCookies applies the backend's cookie to the response headers:
// the server's own Set-Cookie of the same name is removed (insert mode),
// rewritten or prefixed with the server's value, and in insert mode a
// Set-Cookie naming the server is added when the client needs one.
func (s *session) responseCookies(ck *rules.Cookie, status int, hdrs []rules.Header) []rules.Header {
	srv := s.ck.srv
	if srv == nil || s.ck.ignore || (status < 200 && status != 101) {
		return hdrs
	}
	found := false
	hdrs, found = s.serverCookies(ck, srv, hdrs)
	if ck.Mode != rules.CookieInsert || (found && ck.Preserve) ||
		(ck.PostOnly && string(s.txn.Req.Method) != "POST") {
		return hdrs
	}
	var now int64
	if ck.MaxIdle > 0 || ck.MaxLife > 0 || s.ck.last != 0 || s.ck.first != 0 {
		now = time.Now().Unix()
	}
	if s.ck.direct && !((ck.MaxIdle > 0 || s.ck.last != 0) && (s.ck.last == 0 || s.ck.last-now < 0)) &&
		!(ck.MaxLife > 0 && s.ck.first == 0) && !(ck.MaxLife == 0 && s.ck.first != 0) {
		return hdrs
	}
	b := append(s.ck.buf[:0], ck.Prefix...)
	if c := srv.cookie(); c == "" {
		b = append(b, "; Expires=Thu, 01-Jan-1970 00:00:01 GMT"...)
	} else {
		b = append(b, c...)
		if ck.MaxIdle > 0 || ck.MaxLife > 0 {
			b = rules.AppendCookieDate(append(b, rules.CookieDateDelim), now)
			if ck.MaxLife > 0 {
				first := now
				if s.ck.first != 0 {
					first = s.ck.first // a multiple of 4: encoded unchanged
				}
				b = rules.AppendCookieDate(append(b, rules.CookieDateDelim), first)
			}
		}
	}
	b = append(append(b, "; path=/"...), ck.Tail...)
	s.ck.buf = b
	hdrs = append(hdrs, rules.Header{Name: setCookieName, Value: b})
	if ck.NoCache && cacheable(&s.txn.Req, status, hdrs) {
		hdrs = append(hdrs, rules.Header{Name: cacheControlName, Value: privateValue})
	}
	return hdrs
}

// serverCookies handles the server's Set-Cookie headers that carry the
// persistence cookie; found reports whether there was one.
func (s *session) serverCookies(ck *rules.Cookie, srv *serverState, hdrs []rules.Header) (_ []rules.Header, found bool) {
	s.ck.rw, s.ck.edits = s.ck.rw[:0], s.ck.edits[:0]
	out := hdrs[:0]
	for _, h := range hdrs {
		if !bytes.EqualFold(h.Name, setCookieName) {
			out = append(out, h)
			continue
		}
		name, val, ok := bytes.Cut(h.Value, []byte("="))
		if !ok || string(bytes.TrimSpace(name)) != ck.Name {
			out = append(out, h)
			continue
		}
		found = true
		c := srv.cookie()
		switch {
		case ck.Preserve:
		case ck.Mode == rules.CookieInsert || (s.ck.direct && ck.Indirect):
			continue // deleted: gohap inserts its own
		case c != "" && (ck.Mode == rules.CookieRewrite || ck.Mode == rules.CookiePrefix):
			val = bytes.TrimLeft(val, " \t")
			from := len(s.ck.rw)
			s.ck.rw = append(append(append(s.ck.rw, bytes.TrimSpace(name)...), '='), c...)
			if ck.Mode == rules.CookieRewrite {
				end := bytes.IndexByte(val, ';')
				if end < 0 {
					end = len(val)
				}
				val = val[len(bytes.TrimRight(val[:end], " \t")):]
			} else {
				s.ck.rw = append(s.ck.rw, rules.CookieDelim)
			}
			s.ck.rw = append(s.ck.rw, val...)
			s.ck.edits = append(s.ck.edits, cookieEdit{len(out), from, len(s.ck.rw)})
		}
		out = append(out, h)
	}
	for _, e := range s.ck.edits {
		out[e.hdr].Value = s.ck.rw[e.from:e.to]
	}
	return out, found
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
