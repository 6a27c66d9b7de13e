package rules

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Reply is a complete HTTP response built at compile time: an errorfile,
// a default error page, or what "http-request return" sends.
type Reply struct {
	Status int
	Raw    []byte // the bytes sent to the client, head and body
	// HeadLen is the length of the head in Raw, through its empty line:
	// what a HEAD request gets.
	HeadLen int
	// Close reports whether the connection must be closed after Raw: its
	// body has no length, or HAProxy closes after this status.
	Close bool
	// dyn, when set, builds Raw per request (see Eval); Raw is then empty.
	dyn *replyFormat
}

// ErrorSet maps a status code to the reply a proxy sends for it ("errorfile").
type ErrorSet map[int]*Reply

// defaultPages are HAProxy's built-in pages: reason phrase and message.
var defaultPages = map[int][2]string{
	200: {"OK", "Service ready."},
	400: {"Bad request", "Your browser sent an invalid request."},
	401: {"Unauthorized", "You need a valid user and password to access this content."},
	403: {"Forbidden", "Request forbidden by administrative rules."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"},
	407: {"Unauthorized", "You need a valid user and password to access this content."},
	408: {"Request Time-out", "Your browser didn't send a complete request in time."},
	410: {"Gone", "The resource is no longer available and will not be available again."},
	413: {"Payload Too Large", "The request entity exceeds the maximum allowed."},
	425: {"Too Early", "Your browser sent early data."},
	429: {"Too Many Requests", "You have sent too many requests in a given amount of time."},
	500: {"Internal Server Error", "An internal server error occurred."},
	501: {"Not Implemented", ".The server does not support the functionality required to fulfill the request."},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response."},
	503: {"Service Unavailable", "No server is available to handle this request."},
	504: {"Gateway Time-out", "The server didn't respond in time."},
}

// defaultReplies holds the built pages; it is filled once at init and
// never written again.
var defaultReplies = func() map[int]*Reply {
	m := make(map[int]*Reply, len(defaultPages))
	for code, p := range defaultPages {
		body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, p[0], p[1])
		closeConn := code == 400 || code == 408
		head := fmt.Sprintf("HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n", code, p[0], len(body))
		if closeConn {
			head += "connection: close\r\n"
		}
		m[code] = newReply(code, []byte(head+"\r\n"+body), closeConn)
	}
	return m
}()

// ErrorCodes reports whether HAProxy lets an errorfile or error page be
// defined for code.
func ErrorCodes(code int) bool {
	_, ok := defaultPages[code]
	return ok
}

// DefaultReply returns HAProxy's built-in page for code, or nil if HAProxy
// has none.
func DefaultReply(code int) *Reply { return defaultReplies[code] }

// Lookup returns the reply for code from the first set that has one, else
// the default page. The runtime passes the backend's set, then the
// frontend's, as HAProxy does.
func Lookup(code int, sets ...ErrorSet) *Reply {
	for _, s := range sets {
		if r := s[code]; r != nil {
			return r
		}
	}
	return DefaultReply(code)
}

// ParseReply reads a raw HTTP response as an errorfile holds it and
// rebuilds it the way HAProxy re-emits one: the status line as written,
// header names in lower case, no Connection header, and a close after the
// body when it carries no length.
func ParseReply(raw []byte) (*Reply, error) {
	headEnd, sepLen := bytes.Index(raw, []byte("\r\n\r\n")), 4
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 && (headEnd < 0 || i < headEnd) {
		headEnd, sepLen = i, 2
	}
	if headEnd < 0 {
		return nil, errors.New("no empty line after the headers")
	}
	body := raw[headEnd+sepLen:]
	lines := bytes.Split(raw[:headEnd], []byte("\n"))
	status := bytes.TrimRight(lines[0], "\r")
	parts := bytes.SplitN(status, []byte(" "), 3)
	if len(parts) < 2 || !bytes.HasPrefix(parts[0], []byte("HTTP/")) {
		return nil, fmt.Errorf("bad status line %q", status)
	}
	code, err := strconv.Atoi(string(parts[1]))
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("bad status code %q", parts[1])
	}
	var out bytes.Buffer
	out.Write(status)
	out.WriteString("\r\n")
	hasLen := false
	for _, l := range lines[1:] {
		l = bytes.TrimRight(l, "\r")
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(name) == 0 {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		name = bytes.ToLower(bytes.TrimSpace(name))
		value = bytes.TrimSpace(value)
		switch string(name) {
		case "connection", "keep-alive", "proxy-connection":
			continue
		case "content-length", "transfer-encoding":
			hasLen = true
		}
		out.Write(name)
		out.WriteString(": ")
		out.Write(value)
		out.WriteString("\r\n")
	}
	out.WriteString("\r\n")
	out.Write(body)
	return newReply(code, out.Bytes(), !hasLen), nil
}

// newReply builds a Reply, finding where its head ends.
func newReply(code int, raw []byte, closeConn bool) *Reply {
	n := len(raw)
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		n = i + 4
	}
	return &Reply{Status: code, Raw: raw, HeadLen: n, Close: closeConn}
}

// ReturnReply builds what "http-request return" sends: status, optional
// content type, and a body with its length. A 204 or 1xx carries no
// length, as HAProxy's HTTP/1 layer writes them.
func ReturnReply(code int, contentType string, body []byte) *Reply {
	if body == nil {
		body = []byte{} // a nil Static would mean a body with samples
	}
	return NewReply(ReplySpec{Status: code, ContentType: contentType, Body: &Format{Static: body}})
}

// Reason returns the reason phrase HAProxy writes for code.
func Reason(code int) string {
	if p, ok := defaultPages[code]; ok {
		return p[0]
	}
	if r, ok := reasons[code]; ok {
		return r
	}
	return "Other"
}

var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 201: "Created", 202: "Accepted",
	203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
	303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	406: "Not Acceptable", 409: "Conflict", 411: "Length Required", 412: "Precondition Failed",
	414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Requested range unsatisfiable",
	417: "Expectation failed", 421: "Misdirected Request", 422: "Unprocessable Content",
	426: "Upgrade Required", 505: "HTTP Version Not Supported",
}
