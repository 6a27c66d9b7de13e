package parser

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tlsVersions maps HAProxy's version names to Go's.
var tlsVersions = map[string]uint16{"TLSv1.0": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

// bindTLS collects the TLS options of one bind line, or of one line of a
// crt-list, which overrides its bind line's.
type bindTLS struct {
	ssl      bool
	crts     []crtArg
	alpn     []string
	min, max uint16
	noTicket bool
	caFile   string
	verify   string
	// crtPath and caPath resolve the relative names of a crt-list's
	// lines (crt-base, ca-base, default-path); nil: as written.
	crtPath, caPath func(string) string
}

// crtArg is a "crt" or "crt-list" option, in the order of the line: the
// first certificate is the default one.
type crtArg struct {
	path string
	list bool
}

// tlsOption reads one TLS bind option at opts[i]; it returns how many
// words it used (0: not a TLS option) or an error.
func (b *bindTLS) option(opts []string, i int) (int, error) {
	val := func() (string, error) {
		if i+1 >= len(opts) {
			return "", fmt.Errorf("bind option '%s' expects a value", opts[i])
		}
		return opts[i+1], nil
	}
	switch o := opts[i]; o {
	case "ssl":
		b.ssl = true
	case "crt", "crt-list", "alpn", "ssl-min-ver", "ssl-max-ver", "ca-file", "verify":
		v, err := val()
		if err != nil {
			return 0, err
		}
		switch o {
		case "crt", "crt-list":
			b.crts = append(b.crts, crtArg{path: v, list: o == "crt-list"})
		case "alpn":
			b.alpn = strings.Split(v, ",")
		case "ssl-min-ver", "ssl-max-ver":
			ver, ok := tlsVersions[v]
			if !ok {
				return 0, fmt.Errorf("'%s' expects one of TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, got '%s'", o, v)
			}
			if o == "ssl-min-ver" {
				b.min = ver
			} else {
				b.max = ver
			}
		case "ca-file":
			b.caFile = v
		case "verify":
			if v != "none" && v != "optional" && v != "required" {
				return 0, fmt.Errorf("'verify' expects none, optional or required, got '%s'", v)
			}
			b.verify = v
		}
		return 2, nil
	case "no-sslv3":
	case "no-tlsv10":
		b.min = max(b.min, tls.VersionTLS11)
	case "no-tlsv11":
		b.min = max(b.min, tls.VersionTLS12)
	case "no-tlsv12":
		if b.min <= tls.VersionTLS12 {
			b.min = tls.VersionTLS13
		}
	case "no-tlsv13":
		b.max = tls.VersionTLS12
	case "force-tlsv12":
		b.min, b.max = tls.VersionTLS12, tls.VersionTLS12
	case "force-tlsv13":
		b.min, b.max = tls.VersionTLS13, tls.VersionTLS13
	case "no-tls-tickets":
		b.noTicket = true
	default:
		return 0, nil
	}
	return 1, nil
}

// tlsTuning are TLS bind options that only tune the handshake; Go picks
// its own secure cipher suites and curves.
var tlsTuning = map[string]bool{"ciphers": true, "ciphersuites": true, "curves": true, "ecdhe": true,
	"npn": true, "dhparam": true}

// config builds the tls.Config, loading every certificate now so that a
// missing or bad file is a configuration error. With several
// certificates, the one whose names match the client's SNI is picked as
// haproxy picks it (see sniTable).
func (b *bindTLS) config(readFile func(string) ([]byte, error)) (*tls.Config, []string, error) {
	if len(b.crts) == 0 {
		return nil, nil, fmt.Errorf("'ssl' needs at least one 'crt'")
	}
	cfg, warns, err := b.base(readFile)
	if err != nil {
		return nil, nil, err
	}
	var entries []*crtEntry
	for _, crt := range b.crts {
		if crt.list {
			list, w, err := b.crtList(crt.path, cfg, readFile)
			if err != nil {
				return nil, nil, err
			}
			entries, warns = append(entries, list...), append(warns, w...)
			continue
		}
		files, err := crtFiles(crt.path)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			cert, err := loadPEM(f, readFile)
			if err != nil {
				return nil, nil, err
			}
			entries = append(entries, &crtEntry{cert: cert})
		}
	}
	if len(entries) == 0 {
		return nil, nil, fmt.Errorf("no certificate in '%s'", b.crts[0].path)
	}
	for _, e := range entries {
		cfg.Certificates = append(cfg.Certificates, e.cert)
	}
	if len(entries) > 1 {
		t := newSNITable(entries)
		cfg.GetCertificate = t.getCertificate
		if t.perEntry {
			cfg.GetConfigForClient = t.getConfigForClient
		}
	}
	return cfg, warns, nil
}

// base builds the tls.Config of b's options, without certificates.
func (b *bindTLS) base(readFile func(string) ([]byte, error)) (*tls.Config, []string, error) {
	var warns []string
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, SessionTicketsDisabled: b.noTicket}
	if b.min != 0 {
		cfg.MinVersion = b.min
	}
	if b.max != 0 {
		cfg.MaxVersion = b.max
	}
	cfg.NextProtos = []string{"http/1.1"}
	if b.alpn != nil {
		cfg.NextProtos = nil
		for _, p := range b.alpn {
			if p == "http/1.1" || p == "http/1.0" {
				cfg.NextProtos = append(cfg.NextProtos, p)
			} else {
				warns = append(warns, fmt.Sprintf("alpn '%s' is not offered: gohap speaks HTTP/1.1 only", p))
			}
		}
	}
	if b.verify != "" && b.verify != "none" {
		if b.caFile == "" {
			return nil, nil, fmt.Errorf("'verify %s' needs a 'ca-file'", b.verify)
		}
		pemBytes, err := readFile(b.caFile)
		if err != nil {
			return nil, nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, nil, fmt.Errorf("ca-file '%s' holds no certificate", b.caFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if b.verify == "optional" {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return cfg, warns, nil
}

// crtFiles lists the certificate files of a crt argument: the file, or a
// directory's files in name order without the companion files HAProxy
// skips (.key, .ocsp, .issuer, .sctl).
func crtFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("unable to load SSL certificate '%s': %v", path, err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".key", ".ocsp", ".issuer", ".sctl":
			continue
		}
		if !e.IsDir() {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// loadPEM reads a certificate and its key as HAProxy keeps them: in one
// file, or the key in FILE.key.
func loadPEM(path string, readFile func(string) ([]byte, error)) (tls.Certificate, error) {
	data, err := readFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate '%s': %v", path, err)
	}
	key := data
	if !hasPEMKey(data) {
		if key, err = readFile(path + ".key"); err != nil {
			return tls.Certificate{}, fmt.Errorf("unable to load SSL private key for '%s': no key in the file and %v", path, err)
		}
	}
	cert, err := tls.X509KeyPair(data, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to load SSL certificate '%s': %v", path, err)
	}
	return cert, nil
}

func hasPEMKey(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
}
