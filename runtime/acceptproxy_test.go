package runtime

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestAcceptProxy: on an accept-proxy bind the client's address comes
// from the PROXY header (v1 or v2), TLS starts after it, and a connection
// without a header is closed.
func TestAcceptProxy(t *testing.T) {
	certPath, _ := writeCert(t, t.TempDir(), "p.example")
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 2s
frontend plain
    bind 127.0.0.1:0 accept-proxy
    http-request return status 200 content-type text/plain lf-string "src=%%[src]:%%[src_port]"
frontend secure
    bind 127.0.0.1:0 accept-proxy ssl crt %s
    http-request return status 200 content-type text/plain lf-string "tls src=%%[src] ssl=%%[ssl_fc]"
`, certPath))
	get := func(c net.Conn) string {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	plain := e.Addrs("plain")[0].String()
	c, _ := net.Dial("tcp", plain)
	fmt.Fprint(c, "PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n")
	if got := get(c); got != "src=192.0.2.7:5555" {
		t.Errorf("v1: %q", got)
	}
	c.Close()
	c, _ = net.Dial("tcp", plain)
	c.Write(appendProxyHeader(nil, 2, netip.MustParseAddrPort("[2001:db8::9]:6666"), netip.MustParseAddrPort("[2001:db8::1]:80")))
	if got := get(c); got != "src=2001:db8::9:6666" {
		t.Errorf("v2: %q", got)
	}
	c.Close()
	c, _ = net.Dial("tcp", plain)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("no PROXY header: answered %q", b)
	}
	c.Close()

	raw, _ := net.Dial("tcp", e.Addrs("secure")[0].String())
	fmt.Fprint(raw, "PROXY TCP4 198.51.100.3 127.0.0.1 7777 443\r\n")
	tc := tls.Client(raw, &tls.Config{ServerName: "p.example", InsecureSkipVerify: true})
	if got := get(tc); got != "tls src=198.51.100.3 ssl=1" {
		t.Errorf("tls: %q", got)
	}
	tc.Close()
}

// TestAcceptProxyParked: the addresses a PROXY header gave stay the
// client's when its keep-alive connection waits idle in the parker.
func TestAcceptProxyParked(t *testing.T) {
	srv := newRawServer(t, nil)
	e := startConfig(t, testDefaults+fmt.Sprintf(`frontend plain
    bind 127.0.0.1:0 accept-proxy
    http-response set-header X-Addrs "src=%%[src]:%%[src_port] dst=%%[dst]"
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	c, err := net.Dial("tcp", e.Addrs("plain")[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() string {
		t.Helper()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Addrs")
	}
	fmt.Fprint(c, "PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\n")
	const want = "src=192.0.2.7:5555 dst=198.51.100.1"
	if got := get(); got != want {
		t.Fatalf("first request: %q, want %q", got, want)
	}
	for deadline := time.Now().Add(5 * time.Second); parkedConns(e) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never parked")
		}
	}
	if got := get(); got != want {
		t.Errorf("after parking: %q, want %q", got, want)
	}
}
