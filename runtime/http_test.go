package runtime

import (
	"io"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

func TestProxyKeepAliveAndHeaders(t *testing.T) {
	srv := newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nX-Mixed-Case: Yes\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	for i := 0; i < 3; i++ {
		c.send("GET /nothing HTTP/1.1\r\nHost: x\r\nX-Foo-Bar: Baz\r\nConnection: keep-alive, X-Foo-Bar\r\nUser-Agent: t\r\n\r\n")
		head, _, body := c.response("GET")
		if want := "HTTP/1.1 200 OK\r\nx-mixed-case: Yes\r\ncontent-length: 2\r\n\r\n"; head != want || body != "ok" {
			t.Fatalf("response %q %q, want %q", head, body, want)
		}
	}
	heads, conns := srv.snapshot()
	if conns != 1 || len(heads) != 3 {
		t.Fatalf("server saw %d conns, %d requests; want 1, 3", conns, len(heads))
	}
	want := "GET /nothing HTTP/1.1\r\nhost: x\r\nx-foo-bar: Baz\r\nconnection: X-Foo-Bar\r\nuser-agent: t\r\n\r\n"
	for _, h := range heads {
		if h != want {
			t.Fatalf("server got %q, want %q", h, want)
		}
	}
	if c.closed(100 * time.Millisecond) {
		t.Fatal("client connection closed")
	}
}

func TestHopByHop(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	srv := newRawServer(t, func(head string, _ []byte) string {
		if strings.Contains(head, "/srvclose") {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok"
		}
		if strings.Contains(head, "/old") {
			return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
		}
		if strings.Contains(head, "/eof") {
			return "!HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil close"
		}
		return resp
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	cases := []struct {
		name, req, wantSrv, wantHead string
		closed                       bool
	}{
		{"client close",
			"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\nX-A: 1\r\n\r\n",
			"GET /a HTTP/1.1\r\nhost: x\r\nkeep-alive: 300\r\nproxy-connection: keep-alive\r\nte: trailers\r\nx-a: 1\r\n\r\n",
			"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n", true},
		{"te removed",
			"GET /b HTTP/1.1\r\nHost: x\r\nTE: deflate\r\n\r\n",
			"GET /b HTTP/1.1\r\nhost: x\r\n\r\n",
			"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", false},
		{"http/1.0",
			"GET /c HTTP/1.0\r\nHost: x\r\n\r\n",
			"GET /c HTTP/1.0\r\nhost: x\r\nconnection: keep-alive\r\n\r\n",
			"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n", true},
		{"http/1.0 keep-alive, 1.0 server",
			"GET /old HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
			"GET /old HTTP/1.0\r\nhost: x\r\nconnection: keep-alive\r\n\r\n",
			"HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n", false},
		{"server close",
			"GET /srvclose HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /srvclose HTTP/1.1\r\nhost: x\r\n\r\n",
			"HTTP/1.1 200 OK\r\nkeep-alive: timeout=5\r\ncontent-length: 2\r\n\r\n", false},
		{"close-delimited response",
			"GET /eof HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /eof HTTP/1.1\r\nhost: x\r\n\r\n",
			"HTTP/1.1 200 OK\r\nx-a: 1\r\nconnection: close\r\n\r\n", true},
		{"TE and CL",
			"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
			"POST /d HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
			"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := srv.snapshot()
			c := dial(t, addr)
			c.send(tc.req)
			head, _, _ := c.response("GET")
			if head != tc.wantHead {
				t.Errorf("client got %q, want %q", head, tc.wantHead)
			}
			heads, _ := srv.snapshot()
			if len(heads) != len(before)+1 {
				t.Fatalf("server got %d requests", len(heads)-len(before))
			}
			if got := heads[len(heads)-1]; got != tc.wantSrv {
				t.Errorf("server got %q, want %q", got, tc.wantSrv)
			}
			if got := c.closed(100 * time.Millisecond); got != tc.closed {
				t.Errorf("closed = %v, want %v", got, tc.closed)
			}
		})
	}
}

func TestRoundRobinWeights(t *testing.T) {
	var srvs []*rawServer
	for i := 0; i < 2; i++ {
		name := string(rune('a' + i))
		srvs = append(srvs, newRawServer(t, func(string, []byte) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + name
		}))
	}
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", srvs[0].addr(), srvs[1].addr())
	be.Servers[1].Weight = 3
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	count := map[string]int{}
	var seq strings.Builder
	for i := 0; i < 40; i++ {
		_, body := c.get("/")
		count[body]++
		seq.WriteString(body)
	}
	if count["a"] != 10 || count["b"] != 30 {
		t.Fatalf("distribution %v, want a:10 b:30", count)
	}
	// Smooth: never more than 3 b in a row, never two a in a row.
	if s := seq.String(); strings.Contains(s, "bbbb") || strings.Contains(s, "aa") {
		t.Fatalf("sequence not smooth: %s", s)
	}
	// Server connections are kept and reused.
	for i, s := range srvs {
		if _, n := s.snapshot(); n != 1 {
			t.Errorf("server %d saw %d connections, want 1", i, n)
		}
	}
}

func TestSwitchingAndDefault(t *testing.T) {
	api := newRawServer(t, func(string, []byte) string { return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\napi" })
	web := newRawServer(t, func(string, []byte) string { return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nweb" })
	g := newGraph(rules.ModeHTTP)
	g.backend("web", web.addr())
	beAPI := g.backend("api", api.addr())
	g.fe.Switching = []rules.Switch{{Cond: g.cond(t, "path", nil, rules.MatchBeg, "/api"), Backend: beAPI}}
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	for path, want := range map[string]string{"/api/x": "api", "/": "web", "/apix": "api", "/x/api": "web"} {
		if _, body := c.get(path); body != want {
			t.Errorf("%s went to %s, want %s", path, body, want)
		}
	}
}

func TestMonitorURI(t *testing.T) {
	srv := newRawServer(t, nil)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	g.fe.MonitorURI = "/health"
	g.fe.MonitorFail = []*rules.Cond{g.cond(t, "nbsrv", []string{"be"}, rules.MatchInt, "lt", "1")}
	e, addr, _ := start(t, g)
	c := dial(t, addr)
	head, body := c.get("/health")
	if want := string(rules.DefaultReply(200).Raw); head+body != want {
		t.Fatalf("monitor got %q, want %q", head+body, want)
	}
	// absolute-form URI compares its path
	c.send("GET http://h/health HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, st, _ := c.response("GET"); st != 200 {
		t.Fatalf("absolute-form monitor status %d", st)
	}
	if heads, _ := srv.snapshot(); len(heads) != 0 {
		t.Fatal("monitor request forwarded")
	}
	e.gen.Load().backends[0].servers[0].up.Store(false)
	head, body = c.get("/health")
	if want := string(rules.DefaultReply(503).Raw); head+body != want {
		t.Fatalf("monitor got %q, want %q", head+body, want)
	}
	// keep-alive after the monitor replies
	if c.closed(50 * time.Millisecond) {
		t.Fatal("closed after monitor reply")
	}
}

func TestErrorfileAndNoServer(t *testing.T) {
	g := newGraph(rules.ModeHTTP)
	be := g.backend("empty")
	r, err := rules.ParseReply([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nsorry"))
	if err != nil {
		t.Fatal(err)
	}
	be.Errors = rules.ErrorSet{503: r}
	g2 := g.backend("empty2")
	_ = g2
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	for i := 0; i < 2; i++ {
		head, body := c.get("/")
		if head+body != string(r.Raw) {
			t.Fatalf("got %q, want %q", head+body, r.Raw)
		}
	}
}

func TestNoServerDefaultPageAndNoBackend(t *testing.T) {
	g := newGraph(rules.ModeHTTP)
	g.backend("empty")
	g.fe.DefaultBackend = nil
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	head, body := c.get("/")
	if head+body != string(rules.DefaultReply(503).Raw) {
		t.Fatalf("got %q", head+body)
	}
}

func TestHTTPRequestReturn(t *testing.T) {
	srv := newRawServer(t, nil)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	rep := rules.ReturnReply(200, "text/plain", []byte("hello"))
	g.fe.HTTPRequest = []rules.Rule{
		{Cond: g.cond(t, "path", nil, rules.MatchStr, "/ret"), Action: rules.ReplyAction{Reply: rep}},
		{Action: &rules.HeaderAction{Op: rules.SetHeader, Name: []byte("X-Added"), Value: rules.LiteralFormat("v")}},
	}
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	head, body := c.get("/ret")
	if head+body != string(rep.Raw) {
		t.Fatalf("got %q, want %q", head+body, rep.Raw)
	}
	c.get("/other")
	heads, _ := srv.snapshot()
	if len(heads) != 1 || !strings.HasSuffix(heads[0], "x-added: v\r\n\r\n") {
		t.Fatalf("server got %q", heads)
	}
}

func TestBadGateway(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		if strings.Contains(head, "/garbage") {
			return "garbage\r\n\r\n"
		}
		return "" // close without answering
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	for _, p := range []string{"/close", "/garbage"} {
		head, body := c.get(p)
		if head+body != string(rules.DefaultReply(502).Raw) {
			t.Fatalf("%s: got %q", p, head+body)
		}
	}
}

func TestConnectRefused(t *testing.T) {
	// A port with nothing listening.
	srv := newRawServer(t, nil)
	dead := srv.addr()
	srv.close()
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", dead)
	be.Timeouts.Connect = 100 * time.Millisecond
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	t0 := time.Now()
	head, body := c.get("/")
	took := time.Since(t0)
	if head+body != string(rules.DefaultReply(503).Raw) {
		t.Fatalf("got %q", head+body)
	}
	// 3 retries, each after min(1s, timeout connect).
	if took < 280*time.Millisecond || took > 2*time.Second {
		t.Fatalf("took %v, want about 300ms", took)
	}
}

func TestRedispatch(t *testing.T) {
	good := newRawServer(t, nil)
	dead := newRawServer(t, nil)
	deadAddr := dead.addr()
	dead.close()
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", deadAddr, good.addr())
	be.Balance = rules.AlgoFirst
	be.Options.Redispatch = true
	be.Timeouts.Connect = 20 * time.Millisecond
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	if _, st, _ := func() (string, int, string) { c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); return c.response("GET") }(); st != 200 {
		t.Fatalf("status %d, want 200 after redispatch", st)
	}
}

func TestGatewayTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := newRawServer(t, func(string, []byte) string { <-block; return "" })
	defer close(block)
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", srv.addr())
	be.Timeouts.Server = 150 * time.Millisecond
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	head, body := c.get("/")
	if head+body != string(rules.DefaultReply(504).Raw) {
		t.Fatalf("got %q", head+body)
	}
}

func TestClientTimeouts(t *testing.T) {
	srv := newRawServer(t, nil)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	g.fe.Timeouts.Client = 150 * time.Millisecond
	_, addr, _ := start(t, g)
	// idle keep-alive connection: silent close
	c := dial(t, addr)
	c.get("/")
	if !c.closed(time.Second) {
		t.Fatal("idle keep-alive connection not closed")
	}
	// partial request: 408
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\n")
	head, st, _ := c.response("GET")
	if st != 408 || !strings.Contains(head, "Connection: close") {
		t.Fatalf("got %q", head)
	}
	// too large a head: 400
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 16000) + "\r\n\r\n")
	if _, st, _ := c.response("GET"); st != 400 {
		t.Fatalf("status %d, want 400", st)
	}
	// malformed: 400
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nbad header\r\n\r\n")
	if _, st, _ := c.response("GET"); st != 400 {
		t.Fatalf("status %d, want 400", st)
	}
}

func TestPipelined(t *testing.T) {
	srv := newRawServer(t, func(head string, body []byte) string {
		p := strings.Fields(head)[1]
		return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(p)) + "\r\n\r\n" + p
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	var req strings.Builder
	paths := []string{"/one", "/two", "/three", "/four"}
	for _, p := range paths {
		req.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	req.WriteString("POST /five HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	c.send(req.String())
	for _, p := range append(paths, "/five") {
		if _, _, body := c.response("GET"); body != p {
			t.Fatalf("got %q, want %q", body, p)
		}
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(appendInt(nil, n)))
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// The response path's buffers are larger than HAProxy's, but a response
// head must still fit in HAProxy's buffer: beyond it the client gets a
// 502, as from haproxy; a body of any size passes whole.
func TestResponseHeadLimit(t *testing.T) {
	big := strings.Repeat("b", 24000)
	srv := newRawServer(t, func(head string, body []byte) string {
		switch strings.Fields(head)[1] {
		case "/head20k":
			return "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 20000) + "\r\nContent-Length: 2\r\n\r\nok"
		case "/head12k":
			return "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 12000) + "\r\nContent-Length: 2\r\n\r\nok"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(big)) + "\r\n\r\n" + big
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/head20k", 502, ""},
		{"/head12k", 200, "ok"},
		{"/body24k", 200, big},
	} {
		c := dial(t, addr)
		c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		_, st, body := c.response("GET")
		if st != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s: status %d, body of %d bytes; want %d, %d bytes", tc.path, st, len(body), tc.status, len(tc.body))
		}
	}
}

// A chunk-size line (or a trailer) must fit in HAProxy's buffer too: a
// longer one cuts the response short instead of passing.
func TestResponseChunkLineLimit(t *testing.T) {
	srv := newRawServer(t, func(head string, body []byte) string {
		n := 10000
		if strings.Fields(head)[1] == "/ext20k" {
			n = 20000
		}
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;" + strings.Repeat("e", n) + "\r\nok\r\n0\r\n\r\n"
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	for path, whole := range map[string]bool{"/ext10k": true, "/ext20k": false} {
		c := dial(t, addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		got, _ := io.ReadAll(c.c)
		if complete := strings.HasSuffix(string(got), "\r\n2\r\nok\r\n0\r\n\r\n"); complete != whole {
			t.Errorf("%s: response complete %v, want %v (%d bytes)", path, complete, whole, len(got))
		}
	}
}
