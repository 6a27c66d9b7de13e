package parser

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// crtEntry is one certificate of a bind line and the server names it is
// presented for.
type crtEntry struct {
	cert tls.Certificate
	// filters are a crt-list line's SNI filters as written; none: the
	// certificate's CN and DNS names.
	filters []string
	// cfg is the configuration of a crt-list line with its own options
	// ("[alpn ... verify ...]"), with cert as its only certificate; nil:
	// the bind line's.
	cfg *tls.Config
}

// crtList reads a crt-list file: one certificate a line, as
//
//	CERTFILE [\[OPTION ...\]] [[!]SNIFILTER ...]
//
// with '#' comments and blank lines skipped. Options are the bind line's
// TLS options, which they override for that certificate; base is the bind
// line's configuration.
func (b *bindTLS) crtList(path string, base *tls.Config, readFile func(string) ([]byte, error)) ([]*crtEntry, []string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to load crt-list '%s': %v", path, err)
	}
	var entries []*crtEntry
	var warns []string
	for n, line := range strings.Split(string(data), "\n") {
		words := strings.Fields(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		where := fmt.Sprintf("crt-list '%s' line %d", path, n+1)
		opts, filters, err := splitCrtListLine(words[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", where, err)
		}
		file := words[0]
		if b.crtPath != nil {
			file = b.crtPath(file)
		}
		files, err := crtFiles(file)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", where, err)
		}
		var cfg *tls.Config
		if len(opts) > 0 {
			line := bindTLS{alpn: b.alpn, min: b.min, max: b.max, noTicket: b.noTicket, caFile: b.caFile, verify: b.verify}
			for i := 0; i < len(opts); i++ {
				if opts[i] == "ca-file" && i+1 < len(opts) && b.caPath != nil {
					opts[i+1] = b.caPath(opts[i+1])
				}
				used, err := line.option(opts, i)
				switch {
				case err != nil:
					return nil, nil, fmt.Errorf("%s: %v", where, err)
				case used > 0 && (opts[i] == "crt" || opts[i] == "crt-list" || opts[i] == "ssl"):
					return nil, nil, fmt.Errorf("%s: '%s' is not allowed in a crt-list line", where, opts[i])
				case used > 0:
					i += used - 1
				case tlsTuning[opts[i]]:
					warns = append(warns, fmt.Sprintf("%s: option '%s' only tunes TLS; gohap uses Go's secure defaults", where, opts[i]))
					i++
				default:
					return nil, nil, fmt.Errorf("%s: option '%s' is not supported", where, opts[i])
				}
			}
			var w []string
			if cfg, w, err = line.base(readFile); err != nil {
				return nil, nil, fmt.Errorf("%s: %v", where, err)
			}
			for _, s := range w {
				warns = append(warns, where+": "+s)
			}
			cfg.SessionTicketsDisabled = base.SessionTicketsDisabled
		}
		for _, f := range files {
			cert, err := loadPEM(f, readFile)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", where, err)
			}
			e := &crtEntry{cert: cert, filters: filters}
			if cfg != nil {
				e.cfg = cfg.Clone()
				e.cfg.Certificates = []tls.Certificate{cert}
			}
			entries = append(entries, e)
		}
	}
	return entries, warns, nil
}

// splitCrtListLine separates the "[...]" options that may follow the
// certificate from the SNI filters.
func splitCrtListLine(words []string) (opts, filters []string, err error) {
	if len(words) == 0 || !strings.HasPrefix(words[0], "[") {
		return nil, words, nil
	}
	words[0] = words[0][1:]
	for i, w := range words {
		if strings.HasSuffix(w, "]") {
			if w = strings.TrimSuffix(w, "]"); w != "" {
				opts = append(opts, w)
			}
			return opts, words[i+1:], nil
		}
		if w != "" {
			opts = append(opts, w)
		}
	}
	return nil, nil, fmt.Errorf("missing ']' after the options")
}

// sniTable picks a bind line's certificate from the server name the
// client sent, as haproxy does: the certificates whose names equal it
// (compared in lower case), else those whose wildcard "*.domain" covers
// its first label, else the first certificate of the line. A
// certificate's names are its SNI filters, or its CN and DNS names when
// it has none; "!name" excludes a name from the same line's wildcards,
// and a filter list of negations only ("!*") leaves the certificate no
// name at all. Among several matches the first the client can use wins.
type sniTable struct {
	exact, wild map[string][]*crtEntry
	def         *crtEntry
	// perEntry: some certificate has its own options, so the whole
	// configuration is picked per client (GetConfigForClient).
	perEntry bool
}

func newSNITable(entries []*crtEntry) *sniTable {
	t := &sniTable{exact: map[string][]*crtEntry{}, wild: map[string][]*crtEntry{}, def: entries[0]}
	for _, e := range entries {
		t.perEntry = t.perEntry || e.cfg != nil
		names := e.filters
		if len(names) == 0 {
			if leaf := e.cert.Leaf; leaf != nil {
				names = append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
			}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			switch {
			case n == "" || strings.HasPrefix(n, "!"):
			case strings.HasPrefix(n, "*."):
				t.wild[n[1:]] = appendOnce(t.wild[n[1:]], e)
			default:
				t.exact[n] = appendOnce(t.exact[n], e)
			}
		}
	}
	return t
}

func appendOnce(list []*crtEntry, e *crtEntry) []*crtEntry {
	for _, x := range list {
		if x == e {
			return list
		}
	}
	return append(list, e)
}

// pick returns the entry for hello.
func (t *sniTable) pick(hello *tls.ClientHelloInfo) *crtEntry {
	name := strings.ToLower(hello.ServerName)
	if name == "" {
		return t.def
	}
	if e := firstUsable(hello, t.exact[name], ""); e != nil {
		return e
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if e := firstUsable(hello, t.wild[name[i:]], name); e != nil {
			return e
		}
	}
	return t.def
}

// firstUsable returns the first entry of list the client supports, else
// the first one; with name set, entries that exclude name ("!name") are
// skipped.
func firstUsable(hello *tls.ClientHelloInfo, list []*crtEntry, name string) *crtEntry {
	var first *crtEntry
	for _, e := range list {
		if name != "" && excludes(e, name) {
			continue
		}
		if first == nil {
			first = e
		}
		if hello.SupportsCertificate(&e.cert) == nil {
			return e
		}
	}
	return first
}

func excludes(e *crtEntry, name string) bool {
	for _, f := range e.filters {
		if strings.HasPrefix(f, "!") && strings.EqualFold(f[1:], name) {
			return true
		}
	}
	return false
}

func (t *sniTable) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &t.pick(hello).cert, nil
}

// getConfigForClient returns the configuration of the picked certificate's
// crt-list line, or nil for the bind line's (whose GetCertificate picks
// again).
func (t *sniTable) getConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	return t.pick(hello).cfg, nil
}
