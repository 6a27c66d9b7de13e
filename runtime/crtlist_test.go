package runtime

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// presented returns the CN of the certificate the server at addr shows a
// client that sends sni ("" sends none), or the handshake error.
func presented(addr, sni string, maxVersion uint16) (string, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MaxVersion: maxVersion})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// TestCrtList picks certificates by SNI from a crt-list as haproxy 2.6.12
// did with the same list and names (checked with openssl s_client): exact
// names first, then wildcards, "!name" excluding a name from its line's
// wildcard, "!*" and negation-only filters leaving a certificate no name,
// and the first certificate as the default.
func TestCrtList(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"def.example", "a.example", "*.w.example", "x.example", "y.example", "first.example"} {
		writeCert(t, dir, n)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(`# comment
def.example.pem !*

a.example.pem
  *.w.example.pem   *.w.example !secret.w.example
x.example.pem [alpn http/1.1 ssl-min-ver TLSv1.3] secret.w.example other.example
y.example.pem !foo.example
`), 0o600)
	e := startConfig(t, fmt.Sprintf(`
global
    crt-base %s
defaults
    mode http
    timeout client 5s
frontend fe
    bind 127.0.0.1:0 ssl crt-list list.txt
    http-request return status 200
frontend crtfirst
    bind 127.0.0.1:0 ssl crt first.example.pem crt-list list.txt
    http-request return status 200
`, dir))
	addr := e.Addrs("fe")[0].String()
	for _, c := range []struct{ sni, want string }{
		{"", "def.example"},
		{"a.example", "a.example"},
		{"A.EXAMPLE", "a.example"},
		{"foo.w.example", "*.w.example"},
		{"secret.w.example", "x.example"},
		{"other.example", "x.example"},
		{"def.example", "def.example"},
		{"a.b.w.example", "def.example"},
		{"y.example", "def.example"},
		{"foo.example", "def.example"},
		{"w.example", "def.example"},
		{"unknown.example", "def.example"},
	} {
		got, err := presented(addr, c.sni, 0)
		if err != nil || got != c.want {
			t.Errorf("SNI %q: %q, %v; want %q", c.sni, got, err, c.want)
		}
	}
	// x.example's line asks for TLS 1.3: its names refuse TLS 1.2, the
	// others take it.
	if _, err := presented(addr, "other.example", tls.VersionTLS12); err == nil {
		t.Error("TLS 1.2 handshake for other.example succeeded despite ssl-min-ver TLSv1.3 on its line")
	}
	if got, err := presented(addr, "a.example", tls.VersionTLS12); err != nil || got != "a.example" {
		t.Errorf("TLS 1.2 for a.example: %q, %v", got, err)
	}
	// A crt before the crt-list is the default certificate.
	first := e.Addrs("crtfirst")[0].String()
	for sni, want := range map[string]string{"": "first.example", "nomatch": "first.example", "a.example": "a.example"} {
		if got, err := presented(first, sni, 0); err != nil || got != want {
			t.Errorf("crt then crt-list, SNI %q: %q, %v; want %q", sni, got, err, want)
		}
	}
}

func TestCrtListErrors(t *testing.T) {
	dir := t.TempDir()
	cert, _ := writeCert(t, dir, "c.example")
	for _, c := range []struct{ list, want string }{
		{"missing.pem\n", "crt-list '" + dir + "/list.txt' line 1: unable to load SSL certificate"},
		{"\n" + cert + " [alpn http/1.1\n", "line 2: missing ']' after the options"},
		{cert + " [crl-file x.pem]\n", "line 1: option 'crl-file' is not supported"},
		{cert + " [crt x.pem]\n", "line 1: 'crt' is not allowed in a crt-list line"},
		{cert + " [verify required]\n", "line 1: 'verify required' needs a 'ca-file'"},
		{"# only a comment\n", "no certificate in '" + dir + "/list.txt'"},
	} {
		list := filepath.Join(dir, "list.txt")
		os.WriteFile(list, []byte(c.list), 0o600)
		_, err := compileString(fmt.Sprintf("global\n    crt-base %s\nfrontend f\n    bind 127.0.0.1:0 ssl crt-list %s\n", dir, list))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.list, err, c.want)
		}
	}
}
