package runtime

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPCheckConnect: "http-check connect port P ssl sni S alpn A"
// checks a plain server on another port over TLS, with that SNI and
// ALPN; the same check without "ssl" reads TLS garbage and fails.
func TestHTTPCheckConnect(t *testing.T) {
	cert, _ := serverCert(t, "check.test")
	var mu sync.Mutex
	var hellos []string
	var reqs []string
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			hellos = append(hellos, h.ServerName+" "+strings.Join(h.SupportedProtos, ","))
			mu.Unlock()
			return nil, nil
		}}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveListener(t, tls.NewListener(raw, cfg), 2*time.Second, func(c net.Conn) {
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		mu.Lock()
		reqs = append(reqs, string(buf[:n]))
		mu.Unlock()
		c.Write([]byte("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"))
	})
	_, port, _ := net.SplitHostPort(raw.Addr().String())
	plain := okServer(t)
	const conf = testDefaults + `frontend fe
    bind 127.0.0.1:0
    default_backend b
backend b
    option httpchk
    http-check connect port ${P}${SSL}
    http-check send meth HEAD uri /
    http-check expect status 302
    server s1 ${S} check inter 200ms rise 1 fall 1
`
	// inter bounds the connect and the TLS handshake: 200 ms leaves room
	// for a loaded machine under -race.
	env := map[string]string{"P": port, "S": plain.addr(), "SSL": " ssl sni check.test alpn http/1.1"}
	e, _, lb := loadEngine(t, conf, env)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reqs) >= 3
	})
	mu.Lock()
	hello, req := hellos[0], reqs[0]
	mu.Unlock()
	if hello != "check.test http/1.1" {
		t.Errorf("client hello: %q, want SNI check.test and ALPN http/1.1", hello)
	}
	if !strings.HasPrefix(req, "HEAD / HTTP/1.0\r\n") {
		t.Errorf("check request %q", req)
	}
	if !e.gen.Load().backends[0].servers[0].up.Load() || strings.Contains(lb.String(), "DOWN") {
		t.Errorf("the check over TLS must pass:\n%s", lb.String())
	}

	env["SSL"] = ""
	_, _, lb = loadEngine(t, conf, env)
	waitLog(t, lb, "is DOWN")
}
