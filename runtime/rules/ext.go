package rules

import (
	"regexp"
	"strings"
)

// This file is what code outside the rule graph (Lua scripts) uses to read
// and edit a request the way the rules do.

// FetchValue runs f then convs on t and leaves in s the first value, as a
// format takes it; it reports false when there is none. s must not be a
// Sample the caller's caller is using: pass one of your own.
func FetchValue(t *Txn, f Fetcher, convs []Converter, s *Sample) bool {
	*s = Sample{}
	e := SampleExpr{Fetch: f, Convs: convs}
	return e.Eval(t, s)
}

// KeepString copies s into storage t owns until Reset, so that a header or
// sample may point at it.
func (t *Txn) KeepString(s string) []byte {
	n := t.reserve(len(s))
	t.owned = append(t.owned, s...)
	return t.owned[n:len(t.owned):len(t.owned)]
}

// EditHeader applies op to the request headers, or the response's when
// resp is set, as set-header, add-header and del-header do; value is
// copied.
func (t *Txn) EditHeader(op HeaderOp, resp bool, name, value string) {
	hdrs := &t.Req.Headers
	if resp {
		hdrs = &t.Resp.Headers
	}
	n := t.KeepString(strings.ToLower(name))
	if op == SetHeader || op == DelHeader {
		*hdrs = DelHeaders(*hdrs, n)
	}
	if op != DelHeader {
		*hdrs = append(*hdrs, Header{Name: n, Value: t.KeepString(value)})
	}
}

// ReplaceHeader is replace-header at run time: each value of header name
// that re matches becomes template, with \1..\9 standing for the groups.
func (t *Txn) ReplaceHeader(resp bool, name string, re *regexp.Regexp, template string) {
	a := ReplaceHeaderAction{Name: []byte(name), Re: re, Template: []byte(BackrefTemplate(template)), Resp: resp}
	a.Exec(t)
}

// SetURIPart replaces part of the request URI by v, as set-uri, set-path
// and set-query do.
func (t *Txn) SetURIPart(part URIPart, v string) {
	t.Req.URI = t.keep(setURIPart(t.fmtBuf[:0], &t.Req, part, t.KeepString(v)))
}

// BackrefTemplate turns haproxy's \1..\9 group references into
// regexp.Expand's ${1}..${9}, and escapes '$'.
func BackrefTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			b.WriteString("$$")
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + s[i+1:i+2] + "}")
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
