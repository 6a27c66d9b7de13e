package rules

import (
	"bytes"
	"strconv"
)

// RedirectKind selects how a redirect builds its Location.
type RedirectKind uint8

// The redirect forms of "redirect" and "http-request redirect".
const (
	// RedirectLocation sends Value as is.
	RedirectLocation RedirectKind = iota
	// RedirectPrefix sends Value followed by the request's path and query.
	RedirectPrefix
	// RedirectScheme sends Value "://" Host, then the path and query.
	RedirectScheme
)

// RedirectAction answers with a redirect whose Location depends on the
// request, built the way haproxy 2.6 builds it.
type RedirectAction struct {
	Kind        RedirectKind
	Value       []byte
	Code        int // 301, 302 (default), 303, 307 or 308
	DropQuery   bool
	AppendSlash bool
	SetCookie   []byte // "NAME=value", or nil
	// head is the status line and content-length, built once.
	head []byte
}

// NewRedirect builds a redirect action.
func NewRedirect(kind RedirectKind, value string, code int, dropQuery, appendSlash bool, setCookie string) *RedirectAction {
	a := &RedirectAction{Kind: kind, Value: []byte(value), Code: code, DropQuery: dropQuery, AppendSlash: appendSlash}
	if setCookie != "" {
		a.SetCookie = []byte(setCookie)
	}
	a.head = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + Reason(code) + "\r\ncontent-length: 0\r\nlocation: ")
	return a
}

var hostName = []byte("host")

// Exec builds the reply into the Txn's buffers.
func (a *RedirectAction) Exec(t *Txn) Verdict {
	b := t.reply.Raw[:0]
	b = append(b, a.head...)
	switch a.Kind {
	case RedirectLocation:
		b = append(b, a.Value...)
	case RedirectPrefix, RedirectScheme:
		if a.Kind == RedirectScheme {
			b = append(b, a.Value...)
			b = append(b, "://"...)
			if i := t.Req.Header(hostName, 0); i >= 0 {
				b = append(b, t.Req.Headers[i].Value...)
			}
		} else if !bytes.Equal(a.Value, []byte("/")) {
			b = append(b, a.Value...)
		}
		uri := t.Req.PathQuery()
		if a.DropQuery {
			uri = t.Req.Path()
		}
		b = append(b, uri...)
		if a.AppendSlash && (len(uri) == 0 || uri[len(uri)-1] != '/') {
			b = append(b, '/')
		}
	}
	b = append(b, "\r\n"...)
	if a.Code == 302 || a.Code == 303 || a.Code == 307 {
		b = append(b, "cache-control: no-cache\r\n"...)
	}
	if a.SetCookie != nil {
		b = append(b, "set-cookie: "...)
		b = append(b, a.SetCookie...)
		b = append(b, "; path=/;\r\n"...)
	}
	b = append(b, "\r\n"...)
	t.reply = Reply{Status: a.Code, Raw: b, HeadLen: len(b)}
	t.Reply = &t.reply
	return Answer
}
