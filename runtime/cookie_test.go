package runtime

import (
	"net"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// TestCacheable replays what haproxy 2.6 did with "cookie S insert
// nocache" for responses with these headers: "private" was added only
// where want is true.
func TestCacheable(t *testing.T) {
	cases := []struct {
		method string
		status int
		hdrs   string
		want   bool
	}{
		{"GET", 200, "cache-control: max-age=60", true},
		{"GET", 200, "cache-control: public", false},
		{"GET", 200, "expires: Thu, 01 Dec 2094 16:00:00 GMT", true},
		{"GET", 200, "last-modified: Wed, 21 Oct 2015 07:28:00 GMT", true},
		{"GET", 200, "", false},
		{"GET", 200, "cache-control: no-cache", false},
		{"POST", 200, "cache-control: max-age=60", false},
		{"GET", 302, "cache-control: max-age=60", false},
	}
	for _, c := range cases {
		var hdrs []rules.Header
		if c.hdrs != "" {
			n, v, _ := strings.Cut(c.hdrs, ": ")
			hdrs = append(hdrs, rules.Header{Name: []byte(n), Value: []byte(v)})
		}
		req := &rules.Request{Method: []byte(c.method)}
		if got := cacheable(req, c.status, hdrs); got != c.want {
			t.Errorf("%s %d %q: cacheable %v, want %v", c.method, c.status, c.hdrs, got, c.want)
		}
	}
}

func TestCacheableAllocatesNothing(t *testing.T) {
	req := &rules.Request{Method: []byte("GET")}
	hdrs := []rules.Header{{Name: []byte("Cache-Control"), Value: []byte("Max-Age=60, must-revalidate")}}
	if !cacheable(req, 200, hdrs) {
		t.Fatal("max-age=60 (any case) is cacheable")
	}
	if n := testing.AllocsPerRun(100, func() { cacheable(req, 200, hdrs) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// deadAddr returns a loopback address that refuses connections.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// TestCookiePersist covers a cookie naming a down server: balanced
// elsewhere by default; sent to it with "option persist" (a 503 when it
// refuses) or force-persist; redispatched on the last retry with "option
// redispatch", unless force-persist holds; and ignore-persist, which
// neither reads nor sets the cookie.
func TestCookiePersist(t *testing.T) {
	ok := okServer(t)
	cases := []struct {
		name                string
		persist, redispatch bool
		rule                *rules.PersistRule
		cookie              string
		status              int
		setCookie           string // "" : none
	}{
		{name: "down server, balanced", cookie: "S=s1", status: 200, setCookie: "S=s2; path=/"},
		{name: "persist", persist: true, cookie: "S=s1", status: 503},
		{name: "persist+redispatch", persist: true, redispatch: true, cookie: "S=s1", status: 200, setCookie: "S=s2; path=/"},
		{name: "force-persist", rule: &rules.PersistRule{Force: true}, cookie: "S=s1", status: 503},
		// haproxy never redispatches a force-persist request.
		{name: "force-persist+redispatch", redispatch: true, rule: &rules.PersistRule{Force: true}, cookie: "S=s1", status: 503},
		{name: "valid cookie", cookie: "S=s2", status: 200},
		{name: "ignore-persist", rule: &rules.PersistRule{}, cookie: "S=s2", status: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGraph(rules.ModeHTTP)
			be := g.backend("b", deadAddr(t), ok.addr())
			be.Retries = 1
			be.Cookie = &rules.Cookie{Name: "S", Mode: rules.CookieInsert, Prefix: []byte("S=")}
			be.Servers[0].Cookie, be.Servers[1].Cookie = "s1", "s2"
			be.Options.Persist, be.Options.Redispatch = c.persist, c.redispatch
			if c.rule != nil {
				r := *c.rule
				r.Cond = g.cond(t, "path", nil, rules.MatchBeg, "/")
				be.PersistRules = []rules.PersistRule{r}
			}
			e, addr, _ := start(t, g)
			e.gen.Load().backends[0].servers[0].up.Store(false)
			cl := dial(t, addr)
			cl.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + c.cookie + "\r\n\r\n")
			h, status, _ := cl.response("GET")
			if status != c.status {
				t.Fatalf("status %d, want %d\n%s", status, c.status, h)
			}
			_, got, _ := strings.Cut(h, "set-cookie: ")
			got, _, _ = strings.Cut(got, "\r\n")
			if got != c.setCookie {
				t.Errorf("set-cookie %q, want %q", got, c.setCookie)
			}
		})
	}
}

// TestCookieMaxIdle: a cookie whose last-seen date is older than maxidle
// is ignored and replaced; a fresh one is kept without a new Set-Cookie.
func TestCookieMaxIdle(t *testing.T) {
	ok := okServer(t)
	g := newGraph(rules.ModeHTTP)
	be := g.backend("b", ok.addr())
	be.Cookie = &rules.Cookie{Name: "S", Mode: rules.CookieInsert, Prefix: []byte("S="), MaxIdle: time.Hour}
	be.Servers[0].Cookie = "s1"
	_, addr, _ := start(t, g)
	get := func(cookie string) string {
		cl := dial(t, addr)
		cl.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n")
		h, _, _ := cl.response("GET")
		_, v, _ := strings.Cut(h, "set-cookie: ")
		v, _, _ = strings.Cut(v, "\r\n")
		return v
	}
	now := time.Now().Unix()
	stale := "S=s1|" + string(rules.AppendCookieDate(nil, now-2*3600))
	if v := get(stale); !strings.HasPrefix(v, "S=s1|") || v == stale+"; path=/" {
		t.Errorf("stale cookie: set-cookie %q, want a new date", v)
	}
	fresh := "S=s1|" + string(rules.AppendCookieDate(nil, now+60))
	if v := get(fresh); v != "" {
		t.Errorf("fresh cookie: set-cookie %q, want none", v)
	}
}

// newCookieLoopback is newLoopback's proxy with a prefix-mode cookie: the
// server sets the application cookie and the client sends it back with
// the server's prefix, so each request strips it and each response
// rewrites it.
func newCookieLoopback(tb testing.TB) *loopback {
	return startLoopback(tb, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: JSESSIONID=abc; path=/\r\n\r\nok",
		func(g *graph, addr string) {
			be := g.backend("web", addr)
			be.Cookie = &rules.Cookie{Name: "JSESSIONID", Mode: rules.CookiePrefix, Prefix: []byte("JSESSIONID=")}
			be.Servers[0].Cookie = "s1"
		}, "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; JSESSIONID=s1~abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nset-cookie: JSESSIONID=s1~abc; path=/\r\n\r\nok")
}

func TestCookiePathAllocs(t *testing.T) {
	l := newCookieLoopback(t)
	for range 100 {
		l.do(t)
	}
	if n := testing.AllocsPerRun(300, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per request with a prefix cookie, want 0", n)
	}
}

func BenchmarkProxyCookie(b *testing.B) {
	l := newCookieLoopback(b)
	b.ReportAllocs()
	for b.Loop() {
		l.do(b)
	}
}
