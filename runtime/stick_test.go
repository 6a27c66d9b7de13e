package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStickRateLimit: corpus 021's rate limit with a threshold of 5
// requests per 10s, and the client errors counted on the way.
func TestStickRateLimit(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		if strings.HasPrefix(head, "GET /missing") {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 1m expire 1m store http_req_rate(10s),http_err_cnt
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }
    http-request return status 200 content-type text/plain lf-string "%%[sc0_http_req_rate] %%[src_http_err_cnt]" if { path /count }
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	want := []int{200, 404, 200, 404, 200, 429, 429}
	for i, w := range want {
		path := "/"
		if i%2 == 1 {
			path = "/missing"
		}
		if i == 4 {
			path = "/count"
		}
		code, body := status(t, addr, path)
		if code != w {
			t.Errorf("request %d (%s): %d, want %d", i+1, path, code, w)
		}
		if i == 4 && body != "5 2" { // 5 requests so far, 2 of them got a 404
			t.Errorf("counters: %q, want \"5 2\"", body)
		}
	}
	// The answered and denied requests never reached the server.
	if heads, _ := srv.snapshot(); len(heads) != 4 {
		t.Errorf("the server saw %d requests, want 4", len(heads))
	}
}

// TestStickConnTracking follows a connection's counters across its
// keep-alive requests, while it waits idle between them (in the parker),
// and after it closes.
func TestStickConnTracking(t *testing.T) {
	srv := newRawServer(t, nil)
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 store conn_cur,conn_cnt,sess_cnt,http_req_cnt
    tcp-request connection track-sc0 src
    http-response set-header x-cnt "%%[sc0_conn_cur] %%[sc0_conn_cnt] %%[sc0_sess_cnt] %%[sc0_http_req_cnt]"
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	get := func(c *client) string {
		t.Helper()
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		head, _, _ := c.response("GET")
		_, v, _ := strings.Cut(head, "x-cnt: ")
		v, _, _ = strings.Cut(v, "\r\n")
		return v
	}
	a := dial(t, addr)
	if got := get(a); got != "1 1 1 1" {
		t.Errorf("first request: %q", got)
	}
	time.Sleep(50 * time.Millisecond) // idle: the connection is parked
	if got := get(a); got != "1 1 1 2" {
		t.Errorf("second request on the same connection: %q", got)
	}
	b := dial(t, addr)
	if got := get(b); got != "2 2 2 3" {
		t.Errorf("second connection: %q", got)
	}
	a.c.Close()
	// conn_cur goes back to 1 once the proxy saw the close.
	for i := 0; ; i++ {
		got := get(b)
		if strings.HasPrefix(got, "1 2 2 ") {
			break
		}
		if i == 50 {
			t.Fatalf("after the first connection closed: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStickTCPConnLimit is corpus 136's limit in mode tcp: a third
// concurrent connection from the same address is reset.
func TestStickTCPConnLimit(t *testing.T) {
	echo := serveConns(t, func(c net.Conn) { io.Copy(c, c) })
	e := startConfig(t, fmt.Sprintf(strings.Replace(testDefaults, "http", "tcp", 1)+`frontend in
    bind 127.0.0.1:0
    stick-table type ip size 1m expire 60s store conn_cur,conn_rate(60s)
    tcp-request connection reject if { src_conn_cur ge 2 }
    tcp-request connection track-sc0 src
    default_backend echo
backend echo
    server s %s
`, echo))
	addr := e.Addrs("in")[0].String()
	ping := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "ping"); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := ping(c); err != nil {
			t.Fatalf("connection %d: %v", len(held)+1, err)
		}
		held = append(held, c)
	}
	// dialPing opens a connection and pings through it.
	dialPing := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err // a reset may come before connect returns
		}
		defer c.Close()
		return ping(c)
	}
	if err := dialPing(); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("third connection: %v, want it reset", err)
	}
	held[0].Close()
	// Once the proxy saw the close, a new connection is accepted.
	for i := 0; ; i++ {
		err := dialPing()
		if err == nil {
			break
		}
		if i == 50 {
			t.Fatalf("after a close, still refused: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSilentDrop: the client gets no answer at all, neither a response
// nor a close; without the privilege haproxy also lacks, a reset.
func TestSilentDrop(t *testing.T) {
	e := startConfig(t, testDefaults+`frontend fe
    bind 127.0.0.1:0
    http-request silent-drop if { path /drop }
    tcp-request content reject if { path /reject }
    http-request return status 200
`)
	addr := e.Addrs("fe")[0].String()
	c := dial(t, addr)
	c.send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
	c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := c.c.Read(make([]byte, 100))
	var ne net.Error
	switch {
	case n > 0:
		t.Errorf("silent-drop: the client got %d bytes", n)
	case errors.As(err, &ne) && ne.Timeout():
	case errors.Is(err, syscall.ECONNRESET) && os.Geteuid() != 0:
		t.Log("no CAP_NET_ADMIN: the connection was reset")
	default:
		t.Errorf("silent-drop: %v, want no answer", err)
	}
	// A tcp-request content rule rejects the request in mode http: no
	// response, a reset.
	c = dial(t, addr)
	c.send("GET /reject HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := c.c.Read(make([]byte, 100)); n > 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("tcp-request content reject: %d bytes, %v", n, err)
	}
	if code, _ := status(t, addr, "/"); code != 200 {
		t.Errorf("after the drops: %d", code)
	}
}

// TestStickCountsAbortedRequests: as in haproxy, a connection closed
// before its request was complete counts as a request and a client
// error.
func TestStickCountsAbortedRequests(t *testing.T) {
	e := startConfig(t, testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 store http_req_cnt,http_err_cnt
    tcp-request connection track-sc0 src
    http-request return status 200 content-type text/plain lf-string "%[src_http_req_cnt] %[src_http_err_cnt]"
`)
	addr := e.Addrs("fe")[0].String()
	for _, sent := range []string{"", "GET / HTTP/1.1\r\n"} {
		c := dial(t, addr)
		c.send(sent)
		c.c.Close()
	}
	for i := 0; ; i++ {
		_, got := status(t, addr, "/")
		if got == fmt.Sprintf("%d 2", 3+i) {
			break
		}
		if i == 50 {
			t.Fatalf("after two aborted requests: %q, want \"N 2\"", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
