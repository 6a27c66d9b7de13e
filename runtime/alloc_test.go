package runtime

import (
	"io"
	"net"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// loopback is a proxy with rules, an allocation-free backend and an
// allocation-free client on one keep-alive connection.
type loopback struct {
	c    net.Conn
	req  []byte
	buf  []byte
	want int
}

const benchResp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Server: bench\r\n\r\nok"

func newLoopback(tb testing.TB) *loopback { return newLoopbackWith(tb) }

// newLoopbackWith is newLoopback with extra http-request rules after the
// usual ones.
func newLoopbackWith(tb testing.TB, extra ...rules.Rule) *loopback {
	return startLoopback(tb, benchResp, benchBuild(tb, extra...), benchReq, benchWant)
}

// The request the loopback benchmarks send, and the response they expect.
const (
	benchReq  = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
	benchWant = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-server: bench\r\n\r\nok"
)

// benchBuild gives the loopback proxy its backends and rules, with extra
// http-request rules after the usual ones.
func benchBuild(tb testing.TB, extra ...rules.Rule) func(g *graph, addr string) {
	return func(g *graph, addr string) {
		web := g.backend("web", addr)
		api := g.backend("api", addr)
		web.Options.ForwardFor = true
		g.fe.Switching = []rules.Switch{{Cond: g.cond(tb, "path", nil, rules.MatchBeg, "/api"), Backend: api}}
		g.fe.HTTPRequest = []rules.Rule{
			{Cond: g.cond(tb, "hdr", []string{"host"}, rules.MatchStr, "blocked"), Action: rules.ReplyAction{Reply: rules.DefaultReply(403)}},
			{Action: &rules.HeaderAction{Op: rules.SetHeader, Name: []byte("x-proxy"), Value: rules.LiteralFormat("gohap")}},
		}
		g.fe.HTTPRequest = append(g.fe.HTTPRequest, extra...)
	}
}

// startLoopback starts a server that answers every request with resp, a
// proxy whose graph build fills with backends at the server's address,
// and a client connection that sends req and expects a response as long
// as want.
func startLoopback(tb testing.TB, resp string, build func(g *graph, addr string), req, want string) *loopback {
	tb.Helper()
	addr := fixedServer(tb, resp)
	g := newGraph(rules.ModeHTTP)
	g.fe.Timeouts.HTTPKeepAlive = time.Second
	build(g, addr)
	_, feAddr, _ := start(tb, g)
	c, err := net.Dial("tcp", feAddr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	l := &loopback{c: c, req: []byte(req), buf: make([]byte, 4096), want: len(want)}
	l.do(tb)
	return l
}

// do sends one request and reads the whole response.
func (l *loopback) do(tb testing.TB) {
	if _, err := l.c.Write(l.req); err != nil {
		tb.Fatal(err)
	}
	got := 0
	for got < l.want {
		n, err := l.c.Read(l.buf[got:])
		if err != nil {
			if err == io.EOF {
				tb.Fatalf("proxy closed after %q", l.buf[:got])
			}
			tb.Fatal(err)
		}
		got += n
	}
	if got != l.want {
		tb.Fatalf("response %q", l.buf[:got])
	}
}

func TestRequestPathAllocs(t *testing.T) {
	l := newLoopback(t)
	for i := 0; i < 100; i++ {
		l.do(t)
	}
	if n := testing.AllocsPerRun(500, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", n)
	}
}

// TestParseRulesAllocs covers the parse, hop-by-hop, rules and
// serialisation steps without sockets.
func TestParseRulesAllocs(t *testing.T) {
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", "127.0.0.1:1")
	be.Options.ForwardFor = true
	g.fe.HTTPRequest = []rules.Rule{
		{Cond: g.cond(t, "path", nil, rules.MatchBeg, "/api"), Action: &rules.HeaderAction{Op: rules.SetHeader, Name: []byte("X-Api"), Value: rules.LiteralFormat("1")}},
	}
	e, err := New(Config{Graph: g.g})
	if err != nil {
		t.Fatal(err)
	}
	s := e.newSession(nopConn{}, 0, "fe")
	sc := e.newSrvConn(nopConn{}, e.gen.Load().backends[0].servers[0])
	raw := []byte("GET /api/x?q=1 HTTP/1.1\r\nHost: x\r\nX-Foo: Bar\r\nConnection: keep-alive, X-Foo\r\nTE: trailers\r\n\r\n")
	run := func() {
		copy(s.in.buf, raw)
		s.in.r, s.in.w = 0, len(raw)
		n, err := readHead(&s.in)
		if err != nil {
			t.Fatal(err)
		}
		tx := &s.txn
		tx.Reset()
		s.hop.buf = s.hop.buf[:0]
		if err := parseRequest(s.in.data()[:n], &tx.Req, &s.req); err != nil {
			t.Fatal(err)
		}
		if tx.Req.Headers, err = processHop(tx.Req.Headers, &s.req, true, &s.hop); err != nil {
			t.Fatal(err)
		}
		s.in.discard(n)
		rules.Run(g.fe.HTTPRequest, tx)
		s.writeRequestHead(sc, g.fe, be, false)
		sc.out.Flush()
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

// nopConn is a net.Conn that discards writes.
type nopConn struct{ net.Conn }

func (nopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (nopConn) Read(p []byte) (int, error)       { return 0, io.EOF }
func (nopConn) Close() error                     { return nil }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4000} }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func BenchmarkProxyRequest(b *testing.B) {
	l := newLoopback(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.do(b)
	}
}

// BenchmarkProxyParallel runs keep-alive clients on several connections.
func BenchmarkProxyParallel(b *testing.B) {
	b.ReportAllocs()
	l0 := newLoopback(b)
	_ = l0
	addr := l0.c.RemoteAddr().String()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		l := &loopback{c: c, req: l0.req, buf: make([]byte, 4096), want: l0.want}
		for pb.Next() {
			l.do(b)
		}
	})
}

// fixedServer is an allocation-free backend that answers every read
// with resp: the client sends one request at a time.
func fixedServer(tb testing.TB, resp string) string {
	return acceptConns(tb, 0, func(c net.Conn) {
		buf, out := make([]byte, 8192), []byte(resp)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

// TestStickBytesAllocs is TestRequestPathAllocs with a tracked counter
// whose table stores the four byte counts and rates.
func TestStickBytesAllocs(t *testing.T) {
	tb := rules.NewStickTable("web", rules.KeyIP)
	tb.Size = 10
	for _, d := range []rules.DataType{rules.DataBytesInCnt, rules.DataBytesOutCnt, rules.DataBytesInRate, rules.DataBytesOutRate} {
		tb.Store[d], tb.Period[d] = true, 10000
	}
	f, _ := rules.LookupFetch("src")
	src, err := rules.NewFetch(f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoopbackWith(t, rules.Rule{Action: &rules.TrackAction{Table: tb, Key: rules.SampleExpr{Fetch: src}, HTTP: true}})
	for i := 0; i < 100; i++ {
		l.do(t)
	}
	if n := testing.AllocsPerRun(500, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", n)
	}
}
