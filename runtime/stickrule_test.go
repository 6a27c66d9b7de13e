package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// stickServers returns two backends answering "a" and "b"; each sends
// back the X-Set header it got as X-Id, for store-response.
func stickServers(t *testing.T) (a, b *rawServer) {
	mk := func(name string) *rawServer {
		return newRawServer(t, func(head string, _ []byte) string {
			id := ""
			if _, v, ok := strings.Cut(strings.ToLower(head), "\r\nx-set: "); ok {
				id, _, _ = strings.Cut(v, "\r\n")
			}
			return "HTTP/1.1 200 OK\r\nX-Id: " + id + "\r\nContent-Length: 1\r\n\r\n" + name
		})
	}
	return mk("a"), mk("b")
}

// stickGet sends a GET for path with header hdr ("" : none) and returns
// the body: the name of the server that answered.
func stickGet(t *testing.T, addr, path, hdr string) string {
	t.Helper()
	c := dial(t, addr)
	defer c.c.Close()
	if hdr != "" {
		hdr += "\r\n"
	}
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + hdr + "Connection: close\r\n\r\n")
	_, _, body := c.response("GET")
	return body
}

// TestStickRules covers store-response (the key comes from the server's
// response), store-request with a non-stick server (never recorded), and
// an entry naming a server that went down: the request is balanced and
// the entry then names the server that served it.
func TestStickRules(t *testing.T) {
	a, b := stickServers(t)
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    use_backend nonstick if { path_beg /ns }
    use_backend reqstore if { path_beg /req }
    default_backend resp
backend resp
    balance roundrobin
    stick-table type string size 100 expire 1m
    stick match req.hdr(X-Id)
    stick store-response res.hdr(X-Id)
    server s1 %[1]s
    server s2 %[2]s
backend nonstick
    balance roundrobin
    stick-table type string size 100 expire 1m
    stick on req.hdr(X-Id)
    server s1 %[1]s non-stick
    server s2 %[2]s
backend reqstore
    balance roundrobin
    stick-table type string size 100 expire 1m
    stick on req.hdr(X-Id)
    server s1 %[1]s
    server s2 %[2]s
`, a.addr(), b.addr()))
	addr := e.Addrs("fe")[0].String()
	steps := []struct{ path, hdr, want string }{
		// The response names the session: u1 on s1, u2 on s2; then the
		// requests carrying it go there, not in roundrobin's order.
		{"/", "X-Set: u1", "a"},
		{"/", "X-Set: u2", "b"},
		{"/", "X-Id: u2", "b"},
		{"/", "X-Id: u2", "b"},
		{"/", "X-Id: u1", "a"},
		// s1 is non-stick: k is stored only once s2 served it.
		{"/ns", "X-Id: k", "a"},
		{"/ns", "X-Id: k", "b"},
		{"/ns", "X-Id: k", "b"},
		{"/ns", "X-Id: k", "b"},
		{"/req", "X-Id: k", "a"},
		{"/req", "X-Id: k", "a"},
		{"/req", "X-Id: j", "b"},
		{"/req", "X-Id: k", "a"},
	}
	for i, s := range steps {
		if got := stickGet(t, addr, s.path, s.hdr); got != s.want {
			t.Errorf("step %d (%s %s): server %q, want %q", i+1, s.path, s.hdr, got, s.want)
		}
	}
	// s1 goes down: k is balanced to s2, which the entry then names, so
	// it stays there once s1 is back.
	bs := e.gen.Load().backends[2]
	if bs.cfg.Name != "reqstore" {
		t.Fatalf("backend %q", bs.cfg.Name)
	}
	bs.servers[0].up.Store(false)
	if got := stickGet(t, addr, "/req", "X-Id: k"); got != "b" {
		t.Errorf("s1 down: server %q, want \"b\"", got)
	}
	bs.servers[0].up.Store(true)
	for range 2 {
		if got := stickGet(t, addr, "/req", "X-Id: k"); got != "b" {
			t.Errorf("s1 back: server %q, want \"b\" (the entry was overwritten)", got)
		}
	}
}

// newStickLoopback is newLoopback's proxy with "stick on src": each
// request matches the entry of 127.0.0.1 and stores the server again.
func newStickLoopback(tb testing.TB) *loopback {
	return startLoopback(tb, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		func(g *graph, addr string) {
			be := g.backend("web", addr)
			f, _ := rules.LookupFetch("src")
			fr, err := rules.NewSampleFetch(f, nil, testResolver{g.g})
			if err != nil {
				tb.Fatal(err)
			}
			st := rules.NewStickTable("web", rules.KeyIP)
			st.Size, st.Expire = 100, time.Minute
			g.g.Tables = append(g.g.Tables, st)
			be.StickRules = []rules.StickRule{{Match: true, Store: true, Table: st, Key: rules.SampleExpr{Fetch: fr}}}
		}, "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
}

func TestStickPathAllocs(t *testing.T) {
	l := newStickLoopback(t)
	for range 100 {
		l.do(t)
	}
	if n := testing.AllocsPerRun(300, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per request with \"stick on src\", want 0", n)
	}
}

func BenchmarkProxyStick(b *testing.B) {
	l := newStickLoopback(b)
	b.ReportAllocs()
	for b.Loop() {
		l.do(b)
	}
}

// TestStickTCP: "stick on src" in mode tcp keeps every connection of
// 127.0.0.1 on the server roundrobin chose first.
func TestStickTCP(t *testing.T) {
	a, b := stickServers(t)
	e := startConfig(t, fmt.Sprintf(testDefaults+`listen fe
    mode tcp
    bind 127.0.0.1:0
    balance roundrobin
    stick-table type ip size 10 expire 1m
    stick on src
    server s1 %s
    server s2 %s
`, a.addr(), b.addr()))
	addr := e.Addrs("fe")[0].String()
	for i := range 3 {
		if got := stickGet(t, addr, "/", ""); got != "a" {
			t.Errorf("connection %d: server %q, want \"a\"", i+1, got)
		}
	}
}
