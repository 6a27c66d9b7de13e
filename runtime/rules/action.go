package rules

import (
	"bytes"
	"regexp"
)

// Verdict is what a rule list decided for a request.
type Verdict uint8

// The outcomes of running rules.
const (
	// Continue: go on with the next rule, or the next stage.
	Continue Verdict = iota
	// Stop: skip the remaining rules of this list (http-request allow).
	Stop
	// Answer: the request is answered with Txn.Reply; nothing is forwarded.
	Answer
	// Reject: the connection is closed at once (tcp-request ... reject).
	Reject
	// Drop: the connection is dropped without telling the client
	// (silent-drop).
	Drop
)

var verdictNames = [...]string{"continue", "stop", "answer", "reject", "drop"}

func (v Verdict) String() string { return verdictNames[v] }

// Action is what an http-request rule does when its condition holds.
type Action interface {
	Exec(t *Txn) Verdict
}

// Rule is one "http-request" line.
type Rule struct {
	Pos    string
	Cond   *Cond // nil: always
	Action Action
}

// Run executes rules in order and returns the first verdict that is not
// Continue, or Continue when all ran.
func Run(rules []Rule, t *Txn) Verdict {
	for i := range rules {
		r := &rules[i]
		if !r.Cond.Eval(t) {
			continue
		}
		if v := r.Action.Exec(t); v != Continue {
			return v
		}
	}
	return Continue
}

// ReplyAction answers the request with a fixed reply: "http-request
// return", "http-request deny" and the like.
type ReplyAction struct{ Reply *Reply }

// Exec sets the reply, built for t when it holds samples.
func (a ReplyAction) Exec(t *Txn) Verdict {
	t.Reply = a.Reply.Eval(t)
	return Answer
}

// RejectAction closes the connection: "tcp-request ... reject".
type RejectAction struct{}

// Exec rejects.
func (RejectAction) Exec(*Txn) Verdict { return Reject }

// AllowAction stops the evaluation of the remaining rules of the list.
type AllowAction struct{}

// Exec stops the rule list.
func (AllowAction) Exec(*Txn) Verdict { return Stop }

// HeaderAction edits a request header: set-header replaces every
// occurrence, add-header appends one, del-header removes all.
type HeaderAction struct {
	Op    HeaderOp
	Name  []byte
	Value *Format
	// Resp selects the response headers (http-response) instead of the
	// request's.
	Resp bool
}

// HeaderOp selects what HeaderAction does.
type HeaderOp uint8

// The header edits.
const (
	SetHeader HeaderOp = iota
	AddHeader
	DelHeader
)

// Exec edits t's request or response headers.
func (a *HeaderAction) Exec(t *Txn) Verdict {
	hdrs := &t.Req.Headers
	if a.Resp {
		hdrs = &t.Resp.Headers
	}
	switch a.Op {
	case SetHeader:
		v := a.Value.eval(t) // before the delete: the value may read the header
		*hdrs = DelHeaders(*hdrs, a.Name)
		*hdrs = append(*hdrs, Header{Name: a.Name, Value: v})
	case AddHeader:
		*hdrs = append(*hdrs, Header{Name: a.Name, Value: a.Value.eval(t)})
	case DelHeader:
		*hdrs = DelHeaders(*hdrs, a.Name)
	}
	return Continue
}

// ReplaceHeaderAction is "replace-header NAME REGEX FMT": each value of
// the header that the regex matches becomes FMT (the whole value, as in
// haproxy), where
// \1 to \9 are the regex's groups. With Split it is "replace-value":
// the regex applies to each comma-separated value of the header instead.
type ReplaceHeaderAction struct {
	Name []byte
	Re   *regexp.Regexp
	// Template is FMT in regexp.Expand's syntax.
	Template []byte
	Resp     bool
	Split    bool
}

// Exec replaces the matching header values.
func (a *ReplaceHeaderAction) Exec(t *Txn) Verdict {
	hdrs := t.Req.Headers
	if a.Resp {
		hdrs = t.Resp.Headers
	}
	for i := range hdrs {
		h := &hdrs[i]
		if !bytes.EqualFold(h.Name, a.Name) {
			continue
		}
		if a.Split {
			a.replaceValues(t, h)
			continue
		}
		m := a.Re.FindSubmatchIndex(h.Value)
		if m == nil {
			continue
		}
		t.fmtBuf = a.Re.Expand(t.fmtBuf[:0], a.Template, h.Value, m)
		h.Value = t.keep(t.fmtBuf)
	}
	return Continue
}

// replaceValues runs replace-value on one header line. As haproxy, a
// replaced value loses the blanks around it, the others keep theirs, and
// a comma inside a quoted string does not split.
func (a *ReplaceHeaderAction) replaceValues(t *Txn, h *Header) {
	out, changed := t.fmtBuf[:0], false
	rest, more := h.Value, true
	for n := 0; more; n++ {
		var v []byte
		v, rest, more = cutValue(rest)
		if n > 0 {
			out = append(out, ',')
		}
		trimmed := bytes.Trim(v, " \t")
		if m := a.Re.FindSubmatchIndex(trimmed); m != nil {
			out, changed = a.Re.Expand(out, a.Template, trimmed, m), true
		} else {
			out = append(out, v...)
		}
	}
	t.fmtBuf = out
	if changed {
		h.Value = t.keep(out)
	}
}

// cutValue returns the value of a comma-separated list up to the first
// comma outside a quoted string, what follows that comma, and whether
// there was one.
func cutValue(b []byte) (value, rest []byte, found bool) {
	quoted := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// SetStatusAction is "set-status CODE [reason TEXT]": the response gets
// status CODE, with TEXT or the standard reason (nil Reason).
type SetStatusAction struct {
	Status int
	Reason []byte
}

// Exec changes the response status.
func (a SetStatusAction) Exec(t *Txn) Verdict {
	t.Resp.Status, t.Resp.Reason = a.Status, a.Reason
	return Continue
}
