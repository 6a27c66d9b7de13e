package rules

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
)

var verdictNames = [...]string{"continue", "stop", "answer"}

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

// Exec sets the reply.
func (a ReplyAction) Exec(t *Txn) Verdict {
	t.Reply = a.Reply
	return Answer
}

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
}

// HeaderOp selects what HeaderAction does.
type HeaderOp uint8

// The header edits.
const (
	SetHeader HeaderOp = iota
	AddHeader
	DelHeader
)

// Exec edits t's request headers.
func (a *HeaderAction) Exec(t *Txn) Verdict {
	switch a.Op {
	case SetHeader:
		v := a.Value.eval(t) // before the delete: the value may read the header
		t.Req.DelHeader(a.Name)
		t.Req.Headers = append(t.Req.Headers, Header{Name: a.Name, Value: v})
	case AddHeader:
		t.Req.Headers = append(t.Req.Headers, Header{Name: a.Name, Value: a.Value.eval(t)})
	case DelHeader:
		t.Req.DelHeader(a.Name)
	}
	return Continue
}
