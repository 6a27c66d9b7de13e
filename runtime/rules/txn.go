package rules

import (
	"bytes"
	"net/netip"
)

// Header is one request header as received: name case is kept so it can
// be matched case-insensitively and re-emitted the way HAProxy does.
type Header struct {
	Name, Value []byte
}

// Request is the HTTP request as the rules see and edit it. The runtime's
// parser fills it with slices into its read buffer; they stay valid until
// Txn.Reset, so do not retain them.
type Request struct {
	Method  []byte
	URI     []byte // as received: origin-form "/p?q" or absolute-form "http://h/p?q"
	Version []byte // "HTTP/1.1"
	Headers []Header
}

// PathQuery returns the URI without scheme and authority: what HAProxy
// compares with monitor-uri.
func (r *Request) PathQuery() []byte {
	u := r.URI
	if len(u) == 0 || u[0] == '/' || u[0] == '*' {
		return u
	}
	// absolute-form: scheme "://" authority path
	if i := bytes.Index(u, []byte("://")); i >= 0 {
		rest := u[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return nil
	}
	return u
}

// Path returns the request path: from the first slash of the path to the
// character before '?', as HAProxy's path fetch defines it.
func (r *Request) Path() []byte {
	p := r.PathQuery()
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// Query returns what follows the first '?' of the URI, without it.
func (r *Request) Query() []byte {
	if i := bytes.IndexByte(r.URI, '?'); i >= 0 {
		return r.URI[i+1:]
	}
	return nil
}

// Header returns the index of the next header named name (compared without
// case) at or after index from, or -1.
func (r *Request) Header(name []byte, from int) int {
	for i := from; i < len(r.Headers); i++ {
		if bytes.EqualFold(r.Headers[i].Name, name) {
			return i
		}
	}
	return -1
}

// DelHeader removes every header named name.
func (r *Request) DelHeader(name []byte) { r.Headers = DelHeaders(r.Headers, name) }

// DelHeaders removes every header named name (compared without case)
// from hdrs, in place, and returns what is left.
func DelHeaders(hdrs []Header, name []byte) []Header {
	out := hdrs[:0]
	for _, h := range hdrs {
		if !bytes.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

// Response is the response head as http-response rules see and edit it,
// filled by the runtime from the server's response.
type Response struct {
	Status int
	// Reason replaces the status line's reason when an action changed
	// Status; nil: the standard one for Status.
	Reason  []byte
	Headers []Header
}

// Txn is the state of one request while the rules run on it. The runtime
// pools Txns; Reset keeps their buffers' capacity.
type Txn struct {
	Req Request
	// Resp is the response, valid while InResponse: http-response rules
	// run then, and fetches of the request yield nothing, as in haproxy.
	Resp       Response
	InResponse bool
	Src        netip.AddrPort
	Dst        netip.AddrPort
	Vars       VarStore
	State      StateView

	// Payload is what the client sent first, read by the runtime for
	// tcp-request content rules (req.ssl_sni, req.len); nil in HTTP.
	Payload []byte
	// TLS reports whether the client connection is TLS (ssl_fc); SNI is
	// the server name the client asked for (ssl_fc_sni), if any.
	TLS bool
	SNI []byte

	// Track are the sticky counters sc0 to sc2. Reset keeps those the
	// connection tracks and stops those of the request; the runtime ends
	// them all when the connection closes (Trackers.End).
	Track Trackers

	// ReqCounter is the request's number in the process, from 0
	// (haproxy's %rt); set by the runtime.
	ReqCounter uint64
	// PID is the proxy's process id (%pid): the leader's when several
	// worker processes serve, as haproxy's threads share one.
	PID int
	// UniqueIDFormat is the frontend's "unique-id-format", set by the
	// runtime; nil: the request has no unique ID (see UniqueID).
	UniqueIDFormat *Format
	uid            []byte
	uidDone        bool

	// Log is what the request's log line reports, filled by the runtime
	// when the frontend logs (rules.Log); the log-format variables read it.
	Log LogInfo

	// Reply is set by an action that answers the request itself
	// (http-request return, deny); the runtime sends it.
	Reply *Reply
	// Service is set by "use-service": it answers the request, or talks
	// to the client, instead of a backend.
	Service Service
	// reply holds replies built per request (redirects); its buffer is
	// reused across requests.
	reply Reply

	// scratch is where fetches put the bytes they build; it is reused
	// across requests. Samples point into it until the next fetch.
	scratch []byte
	smp     Sample
	conv    Sample
	// owned holds bytes that actions allocated for the request (set-header
	// values), so they outlive the scratch buffer.
	owned []byte
	// fmtBuf is where formats are evaluated before being kept.
	fmtBuf []byte
	// convBuf holds what converters produce during the request.
	convBuf []byte
	// keyBuf is where stick table keys are built.
	keyBuf []byte

	// vars are the sess, txn, req and res variables (index 0, proc, is
	// unused: those live in Vars). Reset clears all but sess, which lives
	// until EndSession. varTable names the variables of the Graph t runs
	// on (UseVarTable; nil: only run-time names), sessTable the one sess
	// was indexed by.
	vars      [numScopes]varSet
	varTable  *VarTable
	sessTable *VarTable
}

// Reset clears t for the next request, keeping buffer capacity. The
// session variables stay: EndSession clears them.
func (t *Txn) Reset() {
	t.Track.EndRequest()
	t.Req.Method, t.Req.URI, t.Req.Version = nil, nil, nil
	t.Req.Headers = t.Req.Headers[:0]
	t.Resp.Status, t.Resp.Reason, t.Resp.Headers, t.InResponse = 0, nil, nil, false
	t.Src, t.Dst = netip.AddrPort{}, netip.AddrPort{}
	t.Reply, t.Service = nil, nil
	t.TLS, t.SNI, t.Payload = false, nil, nil
	t.ReqCounter, t.UniqueIDFormat, t.uid, t.uidDone = 0, nil, t.uid[:0], false
	t.reply.Raw = t.reply.Raw[:0]
	t.convBuf = t.convBuf[:0]
	t.scratch = t.scratch[:0]
	t.owned = t.owned[:0]
	t.smp = Sample{}
	t.conv = Sample{}
	for sc := ScopeTxn; sc < numScopes; sc++ {
		t.vars[sc].clear()
	}
}

// keep copies b into storage owned by the Txn for the rest of the request.
func (t *Txn) keep(b []byte) []byte {
	n := t.reserve(len(b))
	t.owned = append(t.owned, b...)
	return t.owned[n:len(t.owned):len(t.owned)]
}

// reserve makes room for n more owned bytes and returns where they start.
func (t *Txn) reserve(n int) int {
	if cap(t.owned)-len(t.owned) < n {
		// A new block: earlier slices keep pointing at the old one.
		t.owned = make([]byte, 0, max(4096, 2*n))
	}
	return len(t.owned)
}
