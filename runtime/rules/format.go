package rules

import (
	"strconv"
	"strings"
)

// Format is a log-format string as header actions and "lf-string" use it:
// literal text and samples, evaluated per request.
type Format struct {
	parts []formatPart
	// Static is the value when the format has no sample; nil otherwise.
	Static []byte
	// DashMissing prints a sample that cannot be fetched as "-", as a
	// traffic log line does; false: as nothing.
	DashMissing bool
}

type formatPart struct {
	lit  []byte
	expr SampleExpr // Fetch is nil for a literal
	opts VarOpts
	// sep is a log line's separator (see LogLit): one space, none at
	// the start or after another.
	sep bool
	// isVar: a log-format variable, which when it prints nothing leaves
	// the separator state as it was (haproxy's %hr with no capture).
	isVar bool
}

// VarOpts are the flags of a log-format variable ("%{+X}ci").
type VarOpts uint8

// The flags gohap applies, as haproxy's LOG_OPT_HEXA and LOG_OPT_QUOTE.
const (
	// VarHex prints an address as hexadecimal bytes and an integer as
	// at least four upper-case hexadecimal digits.
	VarHex VarOpts = 1 << iota
	// VarQuote puts a string or an address in double quotes.
	VarQuote
)

// FormatBuilder assembles a Format part by part.
type FormatBuilder struct{ f Format }

// Lit appends literal text.
func (b *FormatBuilder) Lit(s string) {
	if n := len(b.f.parts); n > 0 && b.f.parts[n-1].expr.Fetch == nil && !b.f.parts[n-1].sep {
		b.f.parts[n-1].lit = append(b.f.parts[n-1].lit, s...)
		return
	}
	b.f.parts = append(b.f.parts, formatPart{lit: []byte(s)})
}

// LogLit appends literal text as haproxy reads it in a log line
// ("unique-id-format", "log-format"): each run of spaces is a separator,
// printed as one space unless the line is empty so far or ends with a
// separator already printed.
func (b *FormatBuilder) LogLit(s string) {
	for len(s) > 0 {
		word, rest, space := strings.Cut(s, " ")
		if word != "" {
			b.Lit(word)
		}
		if n := len(b.f.parts); space && (n == 0 || !b.f.parts[n-1].sep) {
			b.f.parts = append(b.f.parts, formatPart{sep: true})
		}
		s = rest
	}
}

// Sample appends the string form of a fetch's first value, through
// converters.
func (b *FormatBuilder) Sample(f Fetcher, convs ...Converter) {
	b.f.parts = append(b.f.parts, formatPart{expr: SampleExpr{Fetch: f, Convs: convs}})
}

// QuotedSample appends a sample as a traffic log line prints it: with
// the +Q and +X flags of opts.
func (b *FormatBuilder) QuotedSample(opts VarOpts, f Fetcher, convs ...Converter) {
	b.f.parts = append(b.f.parts, formatPart{expr: SampleExpr{Fetch: f, Convs: convs}, opts: opts})
}

// Var appends a log-format variable (see LogVar) printed with opts.
func (b *FormatBuilder) Var(f Fetcher, opts VarOpts) {
	if lf, ok := f.(logField); ok && lf.unquoted() {
		opts &^= VarQuote
	}
	b.f.parts = append(b.f.parts, formatPart{expr: SampleExpr{Fetch: f}, opts: opts, isVar: true})
}

// Format returns the built format.
func (b *FormatBuilder) Format() *Format {
	f := b.f
	switch {
	case len(f.parts) == 0:
		f.Static = []byte{}
	case len(f.parts) == 1 && f.parts[0].expr.Fetch == nil && !f.parts[0].sep:
		f.Static = f.parts[0].lit
	}
	return &f
}

// Append evaluates the format for t and appends it to dst. A sample that
// cannot be fetched adds nothing, as in haproxy.
func (f *Format) Append(t *Txn, dst []byte) []byte {
	lastSep := true // haproxy's last_isspace
	for i := range f.parts {
		p := &f.parts[i]
		if p.sep {
			if !lastSep {
				dst = append(dst, ' ')
			}
			lastSep = true
			continue
		}
		if p.expr.Fetch == nil {
			lastSep = false
			dst = append(dst, p.lit...)
			continue
		}
		n := len(dst)
		s := &t.smp
		*s = Sample{}
		ok := p.expr.Eval(t, s)
		switch {
		case p.opts == 0:
			if ok {
				dst = AppendText(dst, s)
			}
		case ok:
			dst = appendVar(dst, s, p.opts)
		}
		if !ok && f.DashMissing {
			dst = appendDash(dst, p.opts)
		}
		lastSep = lastSep && p.isVar && len(dst) == n
	}
	return dst
}

// appendDash appends a missing log field: "-", or "" with +Q.
func appendDash(dst []byte, opts VarOpts) []byte {
	if opts&VarQuote != 0 {
		return append(dst, `""`...)
	}
	return append(dst, '-')
}

// AppendText appends the text of s, as a format prints it: a string as
// is, an integer or boolean in decimal, an address in its usual form.
func AppendText(dst []byte, s *Sample) []byte {
	switch s.Type {
	case TypeStr:
		return append(dst, s.Str...)
	case TypeIP:
		return s.Addr.AppendTo(dst)
	}
	return strconv.AppendInt(dst, s.Int, 10)
}

// eval returns the format's value for t: the static bytes, or the
// evaluated ones in storage owned by t for the rest of the request.
func (f *Format) eval(t *Txn) []byte {
	if f.Static != nil {
		return f.Static
	}
	t.fmtBuf = f.Append(t, t.fmtBuf[:0])
	return t.keep(t.fmtBuf)
}

// LiteralFormat is a format with fixed text and no sample.
func LiteralFormat(s string) *Format {
	var b FormatBuilder
	b.Lit(s)
	return b.Format()
}
