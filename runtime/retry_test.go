package runtime

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"gohap/runtime/rules"
)

// TestRetryOnKeepAlive checks that a request sent again for retry-on
// leaves the client connection in step: its body, kept in the buffer for
// the retries, is consumed once, and the next request is read after it.
func TestRetryOnKeepAlive(t *testing.T) {
	var n atomic.Int32
	srv := newRawServer(t, func(head string, body []byte) string {
		if n.Add(1)%2 == 1 {
			return "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
		}
		b := fmt.Sprintf("%s %q", strings.Fields(head)[0], body)
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	e := startConfig(t, fmt.Sprintf(testFrontend+`    default_backend b
backend b
    retry-on 503
    server s %s
`, srv.addr()))
	c := dial(t, e.Addrs("f")[0].String())
	for _, req := range []struct{ raw, want string }{
		{"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", `POST "hello"`},
		{"PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n", `PUT "abcde"`},
		{"GET /c HTTP/1.1\r\nHost: x\r\n\r\n", `GET ""`},
	} {
		c.send(req.raw)
		if _, status, body := c.response("GET"); status != 200 || body != req.want {
			t.Fatalf("%q: %d %q, want 200 %q", req.raw, status, body, req.want)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.bodies) != 6 || string(srv.bodies[0]) != "hello" || string(srv.bodies[2]) != "abcde" || string(srv.bodies[3]) != "abcde" {
		t.Fatalf("server got %q", srv.bodies)
	}
}

func TestChunkedLen(t *testing.T) {
	for _, c := range []struct {
		in     string
		n      int
		data   int64
		chunks int
		ok     bool
	}{
		{"0\r\n\r\n", 5, 0, 0, true},
		{"3\r\nabc\r\n0\r\n\r\nGET", 13, 3, 1, true},
		{"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nA: b\r\n\r\n", 30, 5, 2, true},
		{"3\nabc\n0\n\n", 9, 3, 1, true},
		{"3\r\nabc\r\n", 0, 0, 0, false},
		{"3\r\nab", 0, 0, 0, false},
		{"3\r\nabcX\r\n0\r\n\r\n", 0, 0, 0, false},
		{"z\r\n", 0, 0, 0, false},
	} {
		n, data, chunks, ok := chunkedLen([]byte(c.in))
		if n != c.n || data != c.data || chunks != c.chunks || ok != c.ok {
			t.Errorf("chunkedLen(%q) = %d %d %d %v, want %d %d %d %v", c.in, n, data, chunks, ok, c.n, c.data, c.chunks, c.ok)
		}
	}
}

// TestRetryOnAllocs checks that keeping a request for retry-on costs no
// allocation: the body stays in the client buffer.
func TestRetryOnAllocs(t *testing.T) {
	g := newGraph(rules.ModeHTTP)
	be := g.backend("be", fixedServer(t, benchResp))
	be.RetryOn |= rules.RetryStatus(503) | rules.RetryEmptyResponse
	_, addr, _ := start(t, g)
	c := dial(t, addr)
	req := []byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	buf := make([]byte, 4096)
	want := len("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-server: bench\r\n\r\nok")
	do := func() {
		c.c.Write(req)
		for n := 0; n < want; {
			k, err := c.c.Read(buf[n:])
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
	}
	for range 50 {
		do()
	}
	if n := testing.AllocsPerRun(200, do); n > 0 {
		t.Fatalf("%v allocations per request kept for retry-on, want 0", n)
	}
}
