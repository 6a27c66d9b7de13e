package runtime

import (
	"fmt"
	"strings"
	"testing"
)

// TestTCPFrontendHTTPBackend checks that a "mode tcp" frontend whose
// backend is in "mode http" serves HTTP, keep-alive included, with the
// backend's rules.
func TestTCPFrontendHTTPBackend(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		b := strings.Fields(head)[1]
		if strings.Contains(head, "x-up: 1\r\n") {
			b += " up"
		}
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	e := startConfig(t, fmt.Sprintf(`
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    mode http
    http-request set-header X-Up 1
    server s %s
`, srv.addr()))
	c := dial(t, e.Addrs("f")[0].String())
	for _, path := range []string{"/one", "/two", "/three"} {
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, status, body := c.response("GET"); status != 200 || body != path+" up" {
			t.Fatalf("%s: %d %q", path, status, body)
		}
	}
	if _, n := srv.snapshot(); n != 1 {
		t.Errorf("%d server connections, want 1 kept alive", n)
	}
}
