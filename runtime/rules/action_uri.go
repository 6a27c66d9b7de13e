package rules

import (
	"bytes"
	"regexp"
)

// URIPart selects what a URI action rewrites.
type URIPart uint8

// The parts set-uri, set-path and set-query write.
const (
	URIWhole URIPart = iota
	URIPath
	URIQuery
)

// SetURIAction is "set-uri", "set-path" and "set-query": the part takes
// the format's value; the rest of the URI is kept.
type SetURIAction struct {
	Part  URIPart
	Value *Format
}

// Exec rewrites the request's URI.
func (a *SetURIAction) Exec(t *Txn) Verdict {
	v := a.Value.eval(t)
	t.Req.URI = t.keep(setURIPart(t.fmtBuf[:0], &t.Req, a.Part, v))
	return Continue
}

// setURIPart appends the URI of r with part replaced by v.
func setURIPart(b []byte, r *Request, part URIPart, v []byte) []byte {
	if part == URIWhole {
		return append(b, v...)
	}
	pq := r.PathQuery()
	b = append(b, r.URI[:len(r.URI)-len(pq)]...) // scheme and authority, if any
	path, query, hasQuery := bytes.Cut(pq, []byte("?"))
	if part == URIPath {
		b = append(b, v...)
		if hasQuery {
			b = append(append(b, '?'), query...)
		}
		return b
	}
	b = append(b, path...)
	if len(v) > 0 {
		b = append(append(b, '?'), v...)
	}
	return b
}

// ReplaceURIAction is "replace-uri" and "replace-path": when the regex
// matches the URI (or its path), the part becomes the template expanded
// with the match's groups.
type ReplaceURIAction struct {
	Part     URIPart // URIWhole or URIPath
	Re       *regexp.Regexp
	Template []byte
}

// Exec rewrites the request's URI when the regex matches.
func (a *ReplaceURIAction) Exec(t *Txn) Verdict {
	src := t.Req.URI
	if a.Part == URIPath {
		src = t.Req.Path()
	}
	m := a.Re.FindSubmatchIndex(src)
	if m == nil {
		return Continue
	}
	v := t.keep(a.Re.Expand(t.fmtBuf[:0], a.Template, src, m))
	t.Req.URI = t.keep(setURIPart(t.fmtBuf[:0], &t.Req, a.Part, v))
	return Continue
}

// SetMethodAction is "set-method": the request's method becomes Method.
type SetMethodAction struct{ Method []byte }

// Exec sets the method.
func (a SetMethodAction) Exec(t *Txn) Verdict {
	t.Req.Method = a.Method
	return Continue
}
