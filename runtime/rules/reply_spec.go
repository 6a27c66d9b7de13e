package rules

import "strconv"

// ReplyHeader is a "hdr NAME FMT" of a reply: a header whose value may
// hold samples.
type ReplyHeader struct {
	Name  string // as written to the client: haproxy lower-cases it
	Value *Format
}

// ReplySpec is a reply as "http-request return" and "http-error" describe
// it. HAProxy writes the status line, the hdr headers, content-length,
// content-type, then the body.
type ReplySpec struct {
	Status      int
	Headers     []ReplyHeader
	ContentType string  // "": no content-type header
	Body        *Format // nil: no body
}

// replyFormat is a reply built per request: a ReplySpec with its fixed
// parts rendered.
type replyFormat struct {
	status  []byte // "HTTP/1.1 200 OK\r\n"
	headers []ReplyHeader
	ctype   []byte // "content-type: ...\r\n", or empty
	extra   []byte // header lines after content-type (www-authenticate)
	body    *Format
	noLen   bool // a 204 or 1xx carries no length
}

// NewReply builds the reply s describes: ready-made when nothing in it
// depends on the request, else built per request by Eval.
func NewReply(s ReplySpec) *Reply {
	f := &replyFormat{
		status:  []byte("HTTP/1.1 " + strconv.Itoa(s.Status) + " " + StatusReason(s.Status) + "\r\n"),
		headers: s.Headers,
		body:    s.Body,
		noLen:   s.Status == 204 || s.Status < 200,
	}
	if s.ContentType != "" {
		f.ctype = []byte("content-type: " + s.ContentType + "\r\n")
	}
	if f.body == nil {
		f.body = &Format{Static: []byte{}}
	}
	r := &Reply{Status: s.Status, dyn: f}
	if f.static() {
		raw, head := f.render(nil, nil, f.body.Static)
		return &Reply{Status: s.Status, Raw: raw, HeadLen: head}
	}
	return r
}

// static reports whether every part of f is fixed.
func (f *replyFormat) static() bool {
	for _, h := range f.headers {
		if h.Value.Static == nil {
			return false
		}
	}
	return f.body.Static != nil
}

// render appends the reply with body to dst (t is only read when f has
// samples) and returns it with the length of its head.
func (f *replyFormat) render(t *Txn, dst, body []byte) ([]byte, int) {
	dst = append(dst, f.status...)
	for _, h := range f.headers {
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = h.Value.Append(t, dst)
		dst = append(dst, "\r\n"...)
	}
	if !f.noLen {
		dst = append(dst, "content-length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, f.ctype...)
	dst = append(dst, f.extra...)
	dst = append(dst, "\r\n"...)
	head := len(dst)
	return append(dst, body...), head
}

// Eval returns r ready to send: r itself, or for a reply with samples
// one built into t's buffers, valid until t.Reset.
func (r *Reply) Eval(t *Txn) *Reply {
	if r.dyn == nil {
		return r
	}
	t.fmtBuf = r.dyn.body.Append(t, t.fmtBuf[:0])
	raw, head := r.dyn.render(t, t.reply.Raw[:0], t.fmtBuf)
	t.reply = Reply{Status: r.Status, Raw: raw, HeadLen: head}
	return &t.reply
}
