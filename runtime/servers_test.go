package runtime

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// serveConns accepts connections on a new loopback listener until the
// test ends and runs handle on each, with a 2 s deadline, in its own
// goroutine. It returns the listener's address.
func serveConns(t *testing.T, handle func(c net.Conn)) string {
	return acceptConns(t, 2*time.Second, handle)
}

// acceptConns is serveConns with deadline d on each connection (0:
// none, for benchmarks).
func acceptConns(tb testing.TB, d time.Duration, handle func(c net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return serveListener(tb, ln, d, handle)
}

// serveListener is acceptConns on ln, which is closed when the test
// ends.
func serveListener(tb testing.TB, ln net.Listener, d time.Duration, handle func(c net.Conn)) string {
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if d > 0 {
					c.SetDeadline(time.Now().Add(d))
				}
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// serverCert writes a new self-signed certificate for names (see
// writeCert) and returns it loaded, for a TLS test server, with its PEM
// path, for the ca-file of the servers that reach it.
func serverCert(t *testing.T, names ...string) (tls.Certificate, string) {
	t.Helper()
	certPath, _ := writeCert(t, t.TempDir(), names...)
	cert, err := tls.LoadX509KeyPair(certPath, certPath)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPath
}

// tlsListener listens on loopback with a new self-signed certificate for
// name, and returns the listener and the certificate's PEM path.
func tlsListener(t *testing.T, name string) (net.Listener, string) {
	cert, certPath := serverCert(t, name)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, certPath
}
