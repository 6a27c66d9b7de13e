package runtime

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestStickBytes follows bytes_in and bytes_out over keep-alive requests.
// As in haproxy, a request's bytes count once it is over: its own
// http-response rules do not see them yet, the next request's do.
func TestStickBytes(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + strings.Repeat("x", 3000)
	})
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 expire 1m store bytes_in_cnt,bytes_in_rate(10s),bytes_out_cnt,bytes_out_rate(10s)
    http-request track-sc0 src
    http-request set-var-fmt(txn.req) "%%[sc0_bytes_out_rate]"
    http-response set-header x-b "%%[sc0_kbytes_in] %%[sc0_bytes_in_rate] %%[src_kbytes_out] %%[sc_bytes_out_rate(0)] %%[var(txn.req)]"
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	c := dial(t, e.Addrs("fe")[0].String())
	req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("y", 5000)
	in, out := 0, 0
	for i := range 3 {
		c.send(req)
		head, code, body := c.response("POST")
		_, got, _ := strings.Cut(head, "x-b: ")
		got, _, _ = strings.Cut(got, "\r\n")
		// Only the requests before this one count, here and in its
		// http-request rules.
		want := fmt.Sprintf("%d %d %d %d %d", in>>10, in, out>>10, out, out)
		if code != 200 || got != want {
			t.Errorf("request %d: %d, x-b %q, want %q", i+1, code, got, want)
		}
		in, out = in+len(req), out+len(head)+len(body)
	}
}

// TestStickBytesOutRateDeny limits a client's download rate: once its
// responses passed 5000 bytes in the period, its requests are denied.
func TestStickBytesOutRateDeny(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + strings.Repeat("x", 3000)
	})
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 expire 1m store bytes_out_rate(1m)
    tcp-request connection track-sc1 src
    http-request deny deny_status 429 if { sc1_bytes_out_rate gt 5000 }
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	// New connections each time: the connection's counter counts each
	// of its requests, and the entry outlives the connection.
	// Each response's bytes count when its stream ends, just before gohap
	// closes the connection: the client waits for that close.
	for i, want := range []int{200, 200, 429, 429} {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if _, code, _ := c.response("GET"); code != want {
			t.Errorf("request %d: %d, want %d", i+1, code, want)
		}
		if _, err := io.Copy(io.Discard, c.br); err != nil {
			t.Fatal(err)
		}
		c.c.Close()
	}
}

// TestStickBytesMidStream checks that a long response counts in the
// tables while it passes, as in haproxy: another request of the same
// client sees the bytes of a download that has not ended.
func TestStickBytesMidStream(t *testing.T) {
	const size = 16 << 20
	srv := newRawServer(t, func(string, []byte) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size) + strings.Repeat("x", size)
	})
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 10 expire 1m store bytes_out_cnt
    http-request track-sc0 src
    http-request return status 200 content-type text/plain lf-string "%%[sc0_kbytes_out]" if { path /peek }
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	// Read 1 MiB of the 16, then stop reading: the download is under way.
	if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, body := status(t, addr, "/peek")
		kb, _ := strconv.Atoi(body)
		return kb >= 1024
	})
}
