package runtime

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestSNIRouting is TLS passthrough: mode tcp, the ClientHello inspected
// for its server name, the connection relayed to the backend that holds
// the certificate, untouched.
func TestSNIRouting(t *testing.T) {
	backend := func(name string) net.Addr {
		ln, _ := tlsListener(t, name)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					fmt.Fprintf(c, "hello from %s\n", name)
				}()
			}
		}()
		return ln.Addr()
	}
	a, b, alpnBackend := backend("a.example"), backend("b.example"), backend("alpn.example")
	plain := serveConns(t, func(c net.Conn) { io.WriteString(c, "plain\n") })
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend tls_in
    bind 127.0.0.1:0
    tcp-request connection reject if { src 127.0.0.2 }
    tcp-request inspect-delay 2s
    tcp-request content accept if { req_ssl_hello_type 1 }
    tcp-request content accept if { req.len gt 0 } !{ req.ssl_hello_type -m found }
    tcp-request content reject
    use_backend alpn if { req.ssl_alpn acme-tls/1 }
    use_backend a if { req_ssl_sni -i a.example }
    use_backend b if { req.ssl_sni -m end .b.example } || { req.ssl_sni b.example }
    default_backend other
backend a
    server s %s
backend b
    server s %s
backend other
    server s %s
backend alpn
    server s %s
`, a, b, plain, alpnBackend))
	fe := e.Addrs("tls_in")[0].String()
	for sni, want := range map[string]string{"a.example": "a.example", "b.example": "b.example", "www.b.example": "b.example"} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", fe, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName
		line, _ := io.ReadAll(c)
		c.Close()
		if cn != want || string(line) != "hello from "+want+"\n" {
			t.Errorf("SNI %s: certificate %s, %q; want %s", sni, cn, line, want)
		}
	}
	// An ACME TLS-ALPN client goes by its protocol, whatever its name.
	c0, err := tls.Dial("tcp", fe, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true, NextProtos: []string{"x-other", "acme-tls/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if cn := c0.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "alpn.example" {
		t.Errorf("alpn acme-tls/1 went to %s", cn)
	}
	c0.Close()
	// Not TLS: accepted by the second rule, default backend.
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "PING\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if got, _ := io.ReadAll(c); string(got) != "plain\n" {
		t.Errorf("plain client: %q", got)
	}
	c.Close()
	// Rejected at the connection stage: closed with a reset, as haproxy
	// does.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	c, err = d.Dial("tcp", fe)
	switch {
	case errors.Is(err, syscall.ECONNRESET): // the reset came before connect returned
	case err != nil:
		t.Fatal(err)
	default:
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if got, err := io.ReadAll(c); len(got) != 0 || !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("rejected client got %q, %v; want a reset", got, err)
		}
		c.Close()
	}
}

// TestBackendContentReject: a backend's own tcp-request content rules run
// once it is chosen (corpus 051's reject_backend).
func TestBackendContentReject(t *testing.T) {
	ok := serveConns(t, func(c net.Conn) { io.WriteString(c, "served\n") })
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend in
    bind 127.0.0.1:0
    tcp-request inspect-delay 1s
    use_backend reject_backend if { req.len gt 0 } { req.len lt 4 }
    default_backend ok
backend ok
    server s %s
backend reject_backend
    tcp-request content reject
    server s %s
`, ok, ok))
	fe := e.Addrs("in")[0].String()
	for msg, want := range map[string]string{"long message": "served\n", "no": ""} {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, msg)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != want {
			t.Errorf("%q: got %q, want %q", msg, got, want)
		}
	}
}
