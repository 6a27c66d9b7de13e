package parser

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// serverTLSValues are the server options of TLS and the PROXY protocol
// that take a value.
var serverTLSValues = map[string]func(d *serverDefaults, v string) error{
	"verify": func(d *serverDefaults, v string) error {
		if v != "none" && v != "required" {
			return fmt.Errorf("expects 'none' or 'required', got '%s'", v)
		}
		d.verify = v
		return nil
	},
	"ca-file": func(d *serverDefaults, v string) error { d.caFile = v; return nil },
	"cookie":  func(d *serverDefaults, v string) error { d.cookie = v; return nil },
	"on-marked-down": func(d *serverDefaults, v string) error {
		if v != "shutdown-sessions" {
			return fmt.Errorf("only 'shutdown-sessions' is supported, got '%s'", v)
		}
		d.shutdownOnDown = true
		return nil
	},
	"crt":  func(d *serverDefaults, v string) error { d.crt = v; return nil },
	"alpn": func(d *serverDefaults, v string) error { d.alpn = strings.Split(v, ","); return nil },
	"sni": func(d *serverDefaults, v string) error {
		// A sample expression, evaluated per connection; a fixed name
		// goes in the TLS configuration.
		d.sni, d.sniExpr = "", ""
		if name, ok := strings.CutPrefix(v, "str("); ok && strings.HasSuffix(name, ")") && !strings.Contains(name, "),") {
			d.sni = strings.TrimSuffix(name, ")")
		} else {
			d.sniExpr = v
		}
		return nil
	},
}

// serverTLSFlags are the value-less TLS and PROXY protocol options.
var serverTLSFlags = map[string]func(d *serverDefaults){
	"ssl":           func(d *serverDefaults) { d.ssl = true },
	"no-ssl":        func(d *serverDefaults) { d.ssl = false },
	"check-ssl":     func(d *serverDefaults) { d.checkSSL = true },
	"send-proxy":    func(d *serverDefaults) { d.proxyProto = 1 },
	"send-proxy-v2": func(d *serverDefaults) { d.proxyProto = 2 },
	"no-send-proxy": func(d *serverDefaults) { d.proxyProto = 0 },
	"no-verifyhost": func(*serverDefaults) {},
}

// serverTLSConfig builds the client side TLS of a server with "ssl". As
// in haproxy, the certificate is verified unless "verify none", which
// then needs a ca-file; the chain is checked, and the name when sni is
// set.
func (c *compiler) serverTLSConfig(d *serverDefaults) (*tls.Config, []string, error) {
	var warns []string
	cfg := &tls.Config{ServerName: d.sni, MinVersion: tls.VersionTLS12}
	for _, p := range d.alpn {
		if p == "http/1.1" || p == "http/1.0" {
			cfg.NextProtos = append(cfg.NextProtos, p)
		} else {
			warns = append(warns, fmt.Sprintf("alpn '%s' is not offered: gohap speaks HTTP/1.1 to servers", p))
		}
	}
	if d.crt != "" {
		cert, err := loadPEM(d.crt, c.cfg.ReadFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if d.verify == "none" {
		cfg.InsecureSkipVerify = true
		return cfg, warns, nil
	}
	if d.caFile == "" {
		return nil, nil, errors.New("verify is enabled by default but no CA file specified; set 'ca-file' or 'verify none'")
	}
	data, err := c.cfg.ReadFile(d.caFile)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, nil, fmt.Errorf("ca-file '%s' holds no certificate", d.caFile)
	}
	cfg.RootCAs = pool
	if d.sni == "" {
		// No name to check: verify the chain only, as haproxy does.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		}
	}
	return cfg, warns, nil
}

// verifyChain checks that the peer's chain leads to a root in pool.
func verifyChain(raw [][]byte, pool *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
	return err
}
