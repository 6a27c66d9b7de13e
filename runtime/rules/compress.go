package rules

// CompAlgo is an HTTP compression algorithm of "compression algo".
type CompAlgo uint8

// The algorithms HAProxy 2.6 offers; CompNone means no compression.
const (
	CompNone CompAlgo = iota
	CompIdentity
	CompDeflate
	CompRawDeflate
	CompGzip
)

var compAlgoNames = [...]string{"", "identity", "deflate", "raw-deflate", "gzip"}

// compAlgoTokens are the Accept-Encoding and Content-Encoding tokens: a
// raw deflate stream is announced as "deflate", as haproxy does.
var compAlgoTokens = [...]string{"", "identity", "deflate", "deflate", "gzip"}

func (a CompAlgo) String() string { return compAlgoNames[a] }

// Token returns the content-coding name clients ask for and responses
// announce.
func (a CompAlgo) Token() string { return compAlgoTokens[a] }

// ParseCompAlgo returns the algorithm "compression algo" names s.
func ParseCompAlgo(s string) (CompAlgo, bool) {
	for i, n := range compAlgoNames {
		if i > 0 && n == s {
			return CompAlgo(i), true
		}
	}
	return CompNone, false
}

// Compression is a proxy's HTTP response compression, from the
// "compression" keyword. When a backend and its frontend both have one,
// the backend's algorithms and types come first, as in haproxy.
type Compression struct {
	// Algos are tried in this order: haproxy puts each algorithm written
	// in front of the ones before it, so the last written comes first.
	Algos []CompAlgo
	// Types are the Content-Type prefixes to compress, matched without
	// case; empty: every type (but multipart).
	Types [][]byte
	// Offload removes Accept-Encoding from the request once an algorithm
	// is chosen, so that the server does not compress.
	Offload bool
}
