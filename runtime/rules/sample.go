package rules

import "net/netip"

// Type is the type of a sample, as HAProxy types fetch and converter outputs.
type Type uint8

// The sample types gohap uses.
const (
	TypeBool Type = iota
	TypeInt
	TypeStr
	TypeIP
)

var typeNames = [...]string{"boolean", "integer", "string", "ip"}

func (t Type) String() string { return typeNames[t] }

// Sample is one value produced by a fetch and passed through converters to
// a matcher. Str points into the request or the Txn's scratch buffer and is
// valid until the next fetch on the same Txn.
type Sample struct {
	Type Type
	Int  int64 // TypeInt, and TypeBool as 0 or 1
	Str  []byte
	Addr netip.Addr
	// More reports that the fetch can produce another value for the same
	// expression (each occurrence of a header, say); ctx and off are its
	// position.
	More bool
	ctx  int
	off  int
}

// Fetcher produces samples for an expression. It writes into s and reports
// whether it produced a value; it may set s.More to be called again.
type Fetcher interface {
	Fetch(t *Txn, s *Sample) bool
}

// Converter transforms a sample in place; it reports false when the value
// cannot be converted, which fails the expression.
type Converter interface {
	Convert(t *Txn, s *Sample) bool
}
