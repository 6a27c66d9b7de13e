package runtime

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// patternReader yields n deterministic bytes.
type patternReader struct{ n, off int }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(len(b), p.n-p.off)
	for i := range k {
		b[i] = byte((p.off + i) * 7)
	}
	p.off += k
	return k, nil
}

func TestChunkedBodiesStreamed(t *testing.T) {
	// The server hashes the chunked request body and answers with a
	// chunked body of the requested size.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
		w.Header().Set("X-Len", fmt.Sprint(n))
		fl := w.(http.Flusher)
		fl.Flush() // chunked
		io.Copy(w, &patternReader{n: 8 << 20})
	}))
	defer hs.Close()
	g := newGraph(rules.ModeHTTP)
	g.backend("be", strings.TrimPrefix(hs.URL, "http://"))
	_, addr, _ := start(t, g)

	const size = 16 << 20
	pr, pw := io.Pipe()
	go func() {
		io.Copy(pw, &patternReader{n: size})
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/up", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})
	if got := resp.Header.Get("X-Sum"); got != fmt.Sprintf("%x", want.Sum(nil)) || resp.Header.Get("X-Len") != fmt.Sprint(size) {
		t.Fatalf("server saw len %s sum %s", resp.Header.Get("X-Len"), got)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("response not chunked: %v", resp.TransferEncoding)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil || n != 8<<20 {
		t.Fatalf("body %d bytes, err %v", n, err)
	}
	want.Reset()
	io.Copy(want, &patternReader{n: 8 << 20})
	if fmt.Sprint(got.Sum(nil)) != fmt.Sprint(want.Sum(nil)) {
		t.Fatal("response body differs")
	}
}

func TestChunkedRebuilt(t *testing.T) {
	srv := newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na;x=y\r\n0123456789\r\n0\r\n\r\n")
	var got strings.Builder
	for !strings.HasSuffix(got.String(), "x-trailer: t\r\n\r\n") {
		b, err := c.br.ReadByte()
		if err != nil {
			t.Fatalf("%v after %q", err, got.String())
		}
		got.WriteByte(b)
	}
	want := "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\nx-trailer: t\r\n\r\n"
	if got.String() != want {
		t.Fatalf("got %q, want %q", got.String(), want)
	}
	heads, _ := srv.snapshot()
	if len(heads) != 1 || srv.bodies[0] == nil || string(srv.bodies[0]) != "0123456789" {
		t.Fatalf("server got %q %q", heads, srv.bodies)
	}
}

func TestExpectContinue(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer hs.Close()
	g := newGraph(rules.ModeHTTP)
	g.backend("be", strings.TrimPrefix(hs.URL, "http://"))
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	head, st, _ := c.response("POST")
	if st != 100 || head != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("got %q", head)
	}
	c.send("hello")
	if _, st, body := c.response("POST"); st != 200 || body != "hello" {
		t.Fatalf("got %d %q", st, body)
	}
}

func TestUpgradeTunnel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, _, err := readRawRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\nhello from server\n")
		// echo lines upper-cased until EOF, then half-close
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, br)
				return
			}
			io.WriteString(c, strings.ToUpper(l))
		}
	}()
	g := newGraph(rules.ModeHTTP)
	g.backend("be", ln.Addr().String())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n")
	head, st, _ := c.response("GET")
	if st != 101 || head != "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: foo\r\n\r\n" {
		t.Fatalf("got %q", head)
	}
	if l, _ := c.br.ReadString('\n'); l != "hello from server\n" {
		t.Fatalf("got %q", l)
	}
	c.send("ping\n")
	if l, _ := c.br.ReadString('\n'); l != "PING\n" {
		t.Fatalf("got %q", l)
	}
	c.c.(*net.TCPConn).CloseWrite()
	if !c.closed(2 * time.Second) {
		t.Fatal("tunnel not closed after both sides ended")
	}
	wg.Wait()
}

func TestWebSocketWithoutKey(t *testing.T) {
	srv := newRawServer(t, nil)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if _, st, _ := c.response("GET"); st != 400 {
		t.Fatalf("status %d, want 400", st)
	}
}

func TestTCPMode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client half-closes
		c.(*net.TCPConn).CloseWrite()
	}()
	g := newGraph(rules.ModeTCP)
	g.backend("be", ln.Addr().String())
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("raw bytes, not http\n")
	c.c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c.br)
	if err != nil || string(got) != "raw bytes, not http\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	wg.Wait()
}

func TestHealthCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done := make(chan struct{})
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go serve(ln)
	defer close(done)
	g := newGraph(rules.ModeHTTP)
	be := g.backend("dynamic", addr)
	s := be.Servers[0]
	s.Name, s.Check, s.Inter, s.Rise, s.Fall = "app1", true, 20*time.Millisecond, 2, 3
	e, _, logs := start(t, g)
	st := e.gen.Load().backends[0].servers[0]
	time.Sleep(100 * time.Millisecond)
	if !st.up.Load() {
		t.Fatal("server down while listening")
	}
	ln.Close()
	waitFor(t, func() bool { return !st.up.Load() })
	if l := logs.String(); !strings.Contains(l, `Server dynamic/app1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: `) ||
		!strings.Contains(l, "0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.") ||
		!strings.Contains(l, "backend 'dynamic' has no server available!") {
		t.Fatalf("log: %s", l)
	}
	if n := e.gen.Load().Usable(be); n != 0 {
		t.Fatalf("Usable = %d", n)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("cannot rebind", err)
	}
	defer ln2.Close()
	go serve(ln2)
	waitFor(t, func() bool { return st.up.Load() })
	if l := logs.String(); !strings.Contains(l, "Server dynamic/app1 is UP, reason: Layer4 check passed, check duration: ") ||
		!strings.Contains(l, "1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.") {
		t.Fatalf("log: %s", l)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
