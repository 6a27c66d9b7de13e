package runtime

import (
	"io"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// slowServer answers "/fast" at once and "/slow" never (until the test
// ends), on the same keep-alive connection.
func slowServer(t *testing.T) *rawServer {
	block := make(chan struct{})
	srv := newRawServer(t, func(head string, _ []byte) string {
		if strings.HasPrefix(head, "GET /slow") {
			<-block
			return ""
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	t.Cleanup(func() { close(block) })
	return srv
}

// TestServerTimeoutNotEarly checks that the server timeout counts from
// the request that waits, on a reused server connection: a deadline left
// from the first request must not cut the second one short. It guards
// any lazier handling of read deadlines.
func TestServerTimeoutNotEarly(t *testing.T) {
	srv := slowServer(t)
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", srv.addr())
	const d = 400 * time.Millisecond
	be.Timeouts.Server = d
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	if _, st, _ := func() (string, int, string) {
		c.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		return c.response("GET")
	}(); st != 200 {
		t.Fatalf("status %d, want 200", st)
	}
	time.Sleep(d / 16) // less than d/8: the deadline is not moved
	t0 := time.Now()
	c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	_, st, _ := c.response("GET")
	if el := time.Since(t0); st != 504 || el < d {
		t.Fatalf("status %d after %v, want 504 after %v or more", st, el, d)
	}
}

// TestCloseAbortsServerWait checks that Engine.Close ends a session
// waiting for a server's response at once, not when the server timeout
// runs out.
func TestCloseAbortsServerWait(t *testing.T) {
	srv := slowServer(t)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	e, addr, _ := start(t, g)
	c := dial(t, addr)
	if _, st, _ := func() (string, int, string) {
		c.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		return c.response("GET")
	}(); st != 200 {
		t.Fatalf("status %d, want 200", st)
	}
	c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	e.Close()
	if el := time.Since(t0); el > time.Second {
		t.Fatalf("Close took %v with a request waiting for its server (timeout 5s)", el)
	}
}

// TestSplitHeadRequestTimeout checks that a head left unfinished right
// after a response meets timeout http-request, counted from that
// response: haproxy's 408 page, then the connection closes, not before
// the timeout. The goroutine once cut such a head short when its quick
// wait for the next request (quietWait) ran out.
func TestSplitHeadRequestTimeout(t *testing.T) {
	srv := okServer(t)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	const d = 200 * time.Millisecond
	g.fe.Timeouts.HTTPRequest = d
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	var t0 time.Time
	for i := range 3 {
		// The timeout counts from the last response, which gohap sends
		// before the client has it: t0 is taken before that request.
		t0 = time.Now()
		if _, body := c.get("/"); body != "ok" {
			t.Fatalf("request %d: body %q", i, body)
		}
	}
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
}

// TestClientTimeoutOnStalledWrite checks that "timeout client" also ends
// a response the client stopped reading: gohap gives up on the write and
// closes the connection, so that the client, reading at last, gets less
// than the body and then the end of the connection.
func TestClientTimeoutOnStalledWrite(t *testing.T) {
	const size = 32 << 20 // far more than the sockets' buffers hold
	body := strings.Repeat("x", size)
	srv := newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(size) + "\r\n\r\n" + body
	})
	g := newGraph(rules.ModeHTTP)
	g.backend("be", srv.addr())
	g.fe.Timeouts.Client = 200 * time.Millisecond
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(time.Second) // not reading: gohap's writes stall
	n, err := io.Copy(io.Discard, c.c)
	if n >= size {
		t.Fatalf("got all %d bytes (err %v): the stalled write did not time out", n, err)
	}
}
