package runtime

import (
	"fmt"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// namedServer answers every request with its name as the body, and the
// request head it got in an X-Head header (CRLFs as "|").
func namedServer(t *testing.T, name string) *rawServer {
	return newRawServer(t, func(head string, _ []byte) string {
		h := strings.ReplaceAll(strings.TrimSpace(head), "\r\n", "|")
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Head: %s\r\nContent-Length: %d\r\n\r\n%s", h, len(name), name)
	})
}

// get1 sends one GET for path with extra header lines and returns the
// response head and body.
func get1(t *testing.T, addr, path string, hdrs ...string) (head, body string) {
	t.Helper()
	c := dial(t, addr)
	defer c.c.Close()
	extra := ""
	for _, h := range hdrs {
		extra += h + "\r\n"
	}
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "Connection: close\r\n\r\n")
	head, _, body = c.response("GET")
	return head, body
}

// TestUseServer runs use-server rules as haproxy 2.6.12 did for the same
// configuration: the first rule whose condition holds and whose server
// is up wins over the balancing ("balance first" would pick a); a down
// server lets the next rules try, unless "option persist" or a
// force-persist rule holds; a dynamic name that names no server ends the
// rules. A use-server choice wins over the cookie, which is still
// stripped, and no cookie is inserted for it.
func TestUseServer(t *testing.T) {
	a, b, c := namedServer(t, "a"), namedServer(t, "b"), namedServer(t, "c")
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    use_backend persist if { path_beg /p/ }
    use_backend ck if { path_beg /ck/ }
    default_backend b
backend b
    balance first
    force-persist if { req.hdr(x-force) -m found }
    use-server s2 if { path_beg /two }
    use-server %%[req.hdr(x-srv)] if { req.hdr(x-srv) -m found }
    use-server s3 if { path_beg /three }
    use-server s2 unless { path_beg /one }
    server s1 %[1]s
    server s2 %[2]s
    server s3 %[3]s
backend persist
    balance first
    option persist
    use-server s3 if { path_end /three }
    server s1 %[1]s
    server s3 %[3]s
backend ck
    balance first
    cookie SRV prefix
    use-server s2 if { path_end /two }
    server s1 %[1]s cookie c1
    server s2 %[2]s cookie c2
`, a.addr(), b.addr(), c.addr()))
	addr := e.Addrs("fe")[0].String()
	gen := e.gen.Load()
	check := func(step, path, want string, hdrs ...string) {
		t.Helper()
		if _, got := get1(t, addr, path, hdrs...); got != want {
			t.Errorf("%s: %s %v: server %q, want %q", step, path, hdrs, got, want)
		}
	}
	check("up", "/two", "b")
	check("up", "/three", "c")
	check("up", "/one", "a")
	check("unless", "/x", "b")
	check("dynamic", "/one", "c", "X-Srv: s3")
	check("dynamic, no such server", "/x", "a", "X-Srv: nosuch")
	check("persist, up", "/p/three", "c")

	gen.backends[0].servers[2].up.Store(false) // s3 down
	gen.backends[1].servers[1].up.Store(false)
	check("down", "/three", "b")
	check("down, dynamic", "/one", "a", "X-Srv: s3")
	check("down, force-persist", "/three", "c", "X-Force: 1")
	check("down, option persist", "/p/three", "c")
	check("down, balanced", "/p/x", "a")

	head, body := get1(t, addr, "/ck/two", "Cookie: SRV=c1~abc")
	if body != "b" || !strings.Contains(head, "|cookie: SRV=abc\r\n") || strings.Contains(strings.ToLower(head), "set-cookie") {
		t.Errorf("cookie: server %q, head %q: want b, the prefix stripped and no Set-Cookie", body, head)
	}
	check("cookie, no use-server", "/ck/x", "b", "Cookie: SRV=c2~abc")
}

// TestUseServerTCP runs a use-server rule in mode tcp.
func TestUseServerTCP(t *testing.T) {
	a, b := namedServer(t, "a"), namedServer(t, "b")
	e := startConfig(t, fmt.Sprintf(testDefaults+`listen l
    mode tcp
    bind 127.0.0.1:0
    balance first
    use-server s2 if { src 127.0.0.1 }
    server s1 %[1]s
    server s2 %[2]s
`, a.addr(), b.addr()))
	if _, got := get1(t, e.Addrs("l")[0].String(), "/"); got != "b" {
		t.Errorf("server %q, want \"b\"", got)
	}
}

// TestUniqueIDHeader checks the unique ID as haproxy 2.6.12 sent it: the
// header after the request's own ones (a client's header of the same
// name stays) and before x-forwarded-for, the same ID for the
// http-request rule that read it first, and the request counter growing.
func TestUniqueIDHeader(t *testing.T) {
	srv := namedServer(t, "a")
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    option forwardfor
    unique-id-format %%{+X}o\ %%ci:%%cp_%%fi:%%fp_%%rt
    unique-id-header X-Unique-ID
    http-request set-header X-Early %%[unique-id]
    http-response set-header X-Resp %%ID
    default_backend b
backend b
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	var ids []string
	for _, hdrs := range [][]string{nil, {"X-Unique-ID: mine"}} {
		head, _ := get1(t, addr, "/", hdrs...)
		sent, _, _ := strings.Cut(head[strings.Index(head, "x-head: ")+8:], "\r\n")
		resp, _, _ := strings.Cut(head[strings.Index(head, "x-resp: ")+8:], "\r\n")
		ids = append(ids, resp)
		want := "GET / HTTP/1.1|host: x|"
		if hdrs != nil {
			want += "x-unique-id: mine|"
		}
		want += "x-early: " + resp + "|x-unique-id: " + resp + "|x-forwarded-for: 127.0.0.1"
		if sent != want {
			t.Errorf("server got %q, want %q", sent, want)
		}
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		var p int
		fmt.Sscan(port, &p)
		if !strings.HasPrefix(resp, "7F000001:") || !strings.Contains(resp, fmt.Sprintf("_7F000001:%04X_", p)) {
			t.Errorf("unique id %q, want 7F000001:CLIENTPORT_7F000001:%04X_COUNTER", resp, p)
		}
	}
	if ids[0][len(ids[0])-4:] == ids[1][len(ids[1])-4:] {
		t.Errorf("unique ids %q: the request counter did not move", ids)
	}
}

// TestUseServerUniqueIDAllocs proxies requests through use-server rules
// (a static one whose condition fails, a dynamic one naming no server)
// and a unique-id-format sent as a header, with no allocation.
func TestUseServerUniqueIDAllocs(t *testing.T) {
	l := startLoopback(t, benchResp, func(g *graph, addr string) {
		be := g.backend("web", addr)
		host, _ := rules.LookupFetch("req.hdr")
		hf, err := rules.NewSampleFetch(host, []string{"host"}, testResolver{g.g})
		if err != nil {
			t.Fatal(err)
		}
		var name, id rules.FormatBuilder
		name.Sample(hf)
		be.UseServers = []rules.UseServer{
			{Cond: g.cond(t, "path", nil, rules.MatchBeg, "/nomatch"), Server: be.Servers[0]},
			{Cond: g.cond(t, "path", nil, rules.MatchBeg, "/"), Name: name.Format()},
		}
		for _, v := range []string{"ci", "cp", "fi", "fp", "Ts", "rt", "pid"} {
			f, _ := rules.LogVar(v)
			id.Var(f, rules.VarHex)
			id.LogLit(" ")
		}
		g.fe.UniqueIDFormat, g.fe.UniqueIDHeader = id.Format(), []byte("x-unique-id")
	}, "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-server: bench\r\n\r\nok")
	for range 100 {
		l.do(t)
	}
	if n := testing.AllocsPerRun(500, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", n)
	}
}
