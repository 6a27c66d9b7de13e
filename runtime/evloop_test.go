package runtime

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// loopRequests counts the requests e's event loops have served.
func loopRequests(e *Engine) int {
	e.mu.Lock()
	loops := e.loops
	e.mu.Unlock()
	n := 0
	for _, l := range loops {
		l.mu.Lock()
		n += l.requests
		l.mu.Unlock()
	}
	return n
}

// echoServer answers each request with its method, path and body.
func echoServer(t *testing.T) *rawServer {
	return newRawServer(t, func(head string, body []byte) string {
		line, _, _ := strings.Cut(head, "\r\n")
		reply := strings.TrimSuffix(line, " HTTP/1.1") + ":" + string(body)
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(reply), reply)
	})
}

// TestLoopServesKeepAlive sends, on one keep-alive connection, requests
// that follow each other closely (so that an event loop serves them) and
// what a loop must hand back to a goroutine or wait for: pipelined
// requests, a request body, a head in two parts. Every answer must be
// the right one, in order.
func TestLoopServesKeepAlive(t *testing.T) {
	srv := echoServer(t)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	e, addr, _ := start(t, g)
	c := dial(t, addr)
	want := func(what, wantBody string) {
		t.Helper()
		_, st, body := c.response("GET")
		if st != 200 || body != wantBody {
			t.Fatalf("%s: status %d body %q, want 200 %q", what, st, body, wantBody)
		}
	}
	for i := range 20 {
		c.send(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		want("request in a row", fmt.Sprintf("GET /%d:", i))
	}
	if loopRequests(e) == 0 {
		t.Fatal("no request of 20 in a row was served by an event loop")
	}

	c.send("GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p3 HTTP/1.1\r\nHost: x\r\n\r\n")
	want("pipelined 1 of 3", "GET /p1:")
	want("pipelined 2 of 3", "GET /p2:")
	want("pipelined 3 of 3", "GET /p3:")

	// More than a loop serves a connection in one turn.
	var burst strings.Builder
	for i := range 3 * maxPipelined {
		fmt.Fprintf(&burst, "GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	c.send(burst.String())
	for i := range 3 * maxPipelined {
		want("pipelined burst", fmt.Sprintf("GET /q%d:", i))
	}

	c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	want("request with a body", "POST /b:hello")

	c.send("GET /h HTTP/1.1\r\nHo")
	time.Sleep(2 * time.Millisecond)
	c.send("st: x\r\n\r\n")
	want("head in two parts", "GET /h:")

	c.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	want("request after them", "GET /last:")
}

// TestLoopRequestTimeout checks that a head left unfinished right after
// a response meets timeout http-request, counted from that response,
// whether the connection waits on its goroutine (after its first
// request) or on a loop (after more): haproxy's 408 page, then the
// connection closes, not before the timeout. (The goroutine once cut
// such a head short when its quick wait for the next request ran out.)
func TestLoopRequestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before int // requests before the unfinished one
	}{{"goroutine", 1}, {"loop", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := echoServer(t)
			g := newGraph(rules.ModeHTTP)
			g.backend("be", srv.addr())
			const d = 200 * time.Millisecond
			g.fe.Timeouts.HTTPRequest = d
			_, addr, _ := start(t, g)
			c := dial(t, addr)
			for i := range tc.before {
				path := fmt.Sprintf("/%d", i)
				if _, body := c.get(path); body != "GET "+path+":" {
					t.Fatalf("body %q", body)
				}
			}
			t0 := time.Now()
			c.send("GET /b HTTP/1.1\r\nHo")
			_, st, body := c.response("GET")
			if el := time.Since(t0); el < d {
				t.Errorf("408 after %v, before the timeout of %v", el, d)
			}
			if st != 408 || !strings.Contains(body, "408 Request Time-out") {
				t.Errorf("status %d body %q, want haproxy's 408 page", st, body)
			}
			if !c.closed(5 * time.Second) {
				t.Error("connection still open after the 408")
			}
		})
	}
}

// TestLoopClientNotReading checks that a client that pipelines requests
// answered by gohap itself and never reads the answers does not hold up
// the other connections on its loop: the answers that do not fit its
// socket wait for it in a goroutine of its own, and the others, on any
// loop, are served meanwhile rather than after its timeout client.
func TestLoopClientNotReading(t *testing.T) {
	page := filepath.Join(t.TempDir(), "page.txt")
	if err := os.WriteFile(page, bytes.Repeat([]byte("x"), 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := echoServer(t)
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 60s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:0
    http-request return status 200 content-type text/plain file %s if { path /page }
    default_backend be
backend be
    server s1 %s
`, page, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	greedy := dial(t, addr)
	greedy.c.(*net.TCPConn).SetReadBuffer(4096)
	for i := range 3 { // on a loop from the second request on
		if _, body := greedy.get(fmt.Sprintf("/%d", i)); body != fmt.Sprintf("GET /%d:", i) {
			t.Fatalf("body %q", body)
		}
	}
	var flood strings.Builder
	for range 2000 { // 16 MB of answers
		flood.WriteString("GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	greedy.send(flood.String())

	// Sessions go to the loops in turn: among four, one shares greedy's.
	for i := range 4 {
		c := dial(t, addr)
		for j := range 3 {
			path := fmt.Sprintf("/c%d-%d", i, j)
			if _, body := c.get(path); body != "GET "+path+":" {
				t.Fatalf("body %q", body)
			}
		}
	}
	if n := loopRequests(e); n == 0 {
		t.Fatal("no request was served by an event loop")
	}
}
