package runtime

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key in one PEM file,
// as HAProxy keeps them, and returns its path and the certificate.
func writeCert(t *testing.T, dir string, names ...string) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	path := filepath.Join(dir, names[0]+".pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return path, cert
}

func TestTLSBind(t *testing.T) {
	dir := t.TempDir()
	certA, a := writeCert(t, dir, "a.example")
	certB, b := writeCert(t, dir, "b.example")
	e := startConfig(t, testDefaults+fmt.Sprintf(`frontend plain
    bind 127.0.0.1:0
    redirect scheme https code 301 if !{ ssl_fc }
frontend secure
    bind 127.0.0.1:0 ssl crt %s crt %s alpn h2,http/1.1 no-tlsv11
    http-request return status 200 content-type text/plain lf-string "tls sni=%%[ssl_fc_sni]" if { ssl_fc }
`, certA, certB))
	plain := e.Addrs("plain")[0].String()
	secure := e.Addrs("secure")[0].String()

	resp, _ := statsGet(t, plain, "/x?y", "")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://x/x?y" {
		t.Fatalf("plain: %d %v", resp.StatusCode, resp.Header)
	}
	pool := x509.NewCertPool()
	pool.AddCert(a)
	pool.AddCert(b)
	for _, sni := range []string{"a.example", "b.example"} {
		c, err := tls.Dial("tcp", secure, &tls.Config{ServerName: sni, RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
			t.Errorf("alpn: %q, want http/1.1 (gohap does not offer h2)", got)
		}
		if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != sni {
			t.Errorf("certificate for %s: %s", sni, got)
		}
		// Two requests on the connection: the SNI stays known.
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "tls sni="+sni {
				t.Errorf("%s request %d: %q", sni, i, body)
			}
		}
		c.Close()
	}
	// TLS 1.1 is refused (no-tlsv11; 1.2 is the minimum).
	if c, err := tls.Dial("tcp", secure, &tls.Config{ServerName: "a.example", RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	keyless := filepath.Join(dir, "nokey.pem")
	path, _ := writeCert(t, dir, "c.example")
	data, _ := os.ReadFile(path)
	os.WriteFile(keyless, data[:strings.Index(string(data), "-----BEGIN EC PRIVATE KEY")], 0o600)
	for _, c := range []struct{ opts, want string }{
		{"ssl", "'ssl' needs at least one 'crt'"},
		{"ssl crt " + filepath.Join(dir, "missing.pem"), "unable to load SSL certificate"},
		{"ssl crt " + keyless, "unable to load SSL private key"},
		{"ssl crt " + path + " ssl-min-ver TLSv9", "expects one of TLSv1.0"},
		{"ssl crt " + path + " crt-list /x", "unable to load crt-list '/x'"},
	} {
		_, err := compileString("frontend f\n    bind 127.0.0.1:0 " + c.opts + "\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.opts, err, c.want)
		}
	}
}
