package runtime

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testFrontend starts the configurations of the sni, source and retry
// tests: testDefaults, and frontend f on a free loopback port.
const testFrontend = testDefaults + `frontend f
    bind 127.0.0.1:0
`

// sniServer is a TLS backend for names: it answers each request with the
// server name its connection negotiated, and counts the connections.
type sniServer struct {
	addr, cert string
	mu         sync.Mutex
	hellos     []string // the SNI of each connection, in order
}

func newSNIServer(t *testing.T, names ...string) *sniServer {
	cert, certPath := serverCert(t, names...)
	s := &sniServer{cert: certPath}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		s.mu.Lock()
		s.hellos = append(s.hellos, h.ServerName)
		s.mu.Unlock()
		return nil, nil
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "sni=%s", r.TLS.ServerName)
	}), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return s
}

func (s *sniServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hellos...)
}

// TestServerSNIExpression covers "sni req.hdr(host)": each connection
// sends the name of the request that opens it, the certificate is checked
// against it, and a connection is reused only for the same name.
func TestServerSNIExpression(t *testing.T) {
	srv := newSNIServer(t, "a.example", "b.example")
	e := startConfig(t, testDefaults+fmt.Sprintf(`    retries 0
frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    server s %s ssl ca-file %s sni req.hdr(host)
`, srv.addr, srv.cert))
	c := dial(t, e.Addrs("f")[0].String())
	for i, host := range []string{"a.example", "b.example", "a.example", "b.example", "c.example", "a.example"} {
		c.send("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
		_, status, body := c.response("GET")
		want := 200
		if host == "c.example" {
			want = 503 // the certificate does not name it
		}
		if status != want || (want == 200 && body != "sni="+host) {
			t.Fatalf("request %d for %s: %d %q, want %d", i, host, status, body, want)
		}
	}
	// a, b, then c (refused); the rest reused a's and b's connections.
	if got := fmt.Sprint(srv.seen()); got != "[a.example b.example c.example]" {
		t.Errorf("connections with SNI %s", got)
	}
}

// TestServerSNIIdleByName checks that connections kept idle for one name
// do not serve another client's request for another name.
func TestServerSNIIdleByName(t *testing.T) {
	srv := newSNIServer(t, "a.example", "b.example")
	e := startConfig(t, fmt.Sprintf(testFrontend+`    default_backend b
backend b
    server s %s ssl verify none sni req.hdr(host),lower
`, srv.addr))
	addr := e.Addrs("f")[0].String()
	c1, c2 := dial(t, addr), dial(t, addr)
	// c1 opens a, then b: a goes idle. c2 takes a from the idle
	// connections, but needs a new one for b, which c1 still holds.
	for i, step := range []struct {
		c    *client
		host string
	}{{c1, "A.example"}, {c1, "b.example"}, {c2, "a.example"}, {c2, "B.EXAMPLE"}} {
		step.c.send("GET / HTTP/1.1\r\nHost: " + step.host + "\r\n\r\n")
		_, status, body := step.c.response("GET")
		if want := "sni=" + strings.ToLower(step.host); status != 200 || body != want {
			t.Fatalf("request %d: %d %q, want %q", i, status, body, want)
		}
	}
	if got := fmt.Sprint(srv.seen()); got != "[a.example b.example b.example]" {
		t.Errorf("connections with SNI %s", got)
	}
}
