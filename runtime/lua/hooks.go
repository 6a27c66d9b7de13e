package lua

import (
	"fmt"
	"io"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// This file holds what the rule graph calls: Lua actions, services, sample
// fetches and converters, and their constructors for the compile step.

// Action is a Lua action in a rule: "http-request lua.NAME ARGS".
type Action struct {
	s    *Scripts
	idx  int
	name string
	hook Hook
	args []glua.LValue
	// errs are the proxy's error pages, for the replies act.DENY and
	// friends ask for.
	errs []rules.ErrorSet
}

var (
	_ rules.Action    = (*Action)(nil)
	_ rules.Fetcher   = (*Fetch)(nil)
	_ rules.Converter = (*Conv)(nil)
	_ rules.Service   = (*Service)(nil)
)

// UnknownError is the error of a name the scripts did not register.
type UnknownError struct {
	Kind Kind
	Name string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("'lua.%s' is not a Lua %s the scripts registered", e.Name, e.Kind)
}

// NewAction builds action name for rule set hook, with its arguments;
// errs are the proxy's error pages, backend first.
func (s *Scripts) NewAction(name string, hook Hook, args []string, errs ...rules.ErrorSet) (*Action, error) {
	i, ok := s.lookup(KindAction, name)
	if !ok {
		return nil, &UnknownError{KindAction, name}
	}
	if have := s.regs[i].hooks; have&hook == 0 {
		return nil, fmt.Errorf("'lua.%s' is registered for %s, not %s", name, have, hook)
	}
	if n := s.regs[i].nargs; len(args) != n {
		return nil, fmt.Errorf("'lua.%s' expects %d argument(s), got %d", name, n, len(args))
	}
	return &Action{s: s, idx: i, name: name, hook: hook, args: luaStrings(args), errs: errs}, nil
}

func luaStrings(args []string) []glua.LValue {
	out := make([]glua.LValue, len(args))
	for i, a := range args {
		out[i] = glua.LString(a)
	}
	return out
}

// Exec runs the action on t. A runtime error is logged and the rules go
// on, as in haproxy.
func (a *Action) Exec(t *rules.Txn) rules.Verdict {
	st, err := a.s.get()
	if err != nil {
		a.s.logf(levelAlert, "Lua function '%s': %v", a.name, err)
		return rules.Continue
	}
	st.t, st.hook = t, a.hook
	L := st.L
	L.Push(st.fns[a.idx])
	L.Push(st.txn)
	for _, v := range a.args {
		L.Push(v)
	}
	v := rules.Continue
	switch err := st.run(1 + len(a.args)); {
	case err != nil:
		st.callErr("function", a.name, err)
	case st.finish == finishReply:
		t.Reply, v = st.reply, rules.Answer
	case st.finish == finishClose:
		v = rules.Reject
	default:
		v = a.verdict(t, st.doneV)
	}
	a.s.put(st)
	return v
}

// verdict maps what the action returned (act.*) to the rules' verdict.
func (a *Action) verdict(t *rules.Txn, ret glua.LValue) rules.Verdict {
	n, ok := ret.(glua.LNumber)
	if !ok {
		return rules.Continue
	}
	http := a.hook&(HookHTTPReq|HookHTTPRes) != 0
	code := 0
	switch int(n) {
	case actStop, actDone:
		return rules.Stop
	case actError:
		code = 500
	case actDeny:
		code = 403
	case actInvalid:
		code = 400
	case actAbort:
		// haproxy 2.6 answers an aborted request with a 503.
		code = 503
	default:
		return rules.Continue
	}
	if !http {
		return rules.Reject
	}
	if a.hook == HookHTTPRes {
		code = 502
	}
	t.Reply = rules.Lookup(code, a.errs...)
	return rules.Answer
}

// sampleCall is what Lua fetches and converters share: the registered
// function runs with a first value (the TXN object, or the sample as a
// string) and the arguments of the configuration; what it returns is the
// sample (see sampleOf). A runtime error yields no sample.
type sampleCall struct {
	s    *Scripts
	idx  int
	name string
	what string // "sample-fetch" or "converter", for messages
	args []glua.LValue
}

func (c *sampleCall) call(t *rules.Txn, smp *rules.Sample, conv bool) bool {
	st, err := c.s.get()
	if err != nil {
		c.s.logf(levelAlert, "Lua %s '%s': %v", c.what, c.name, err)
		return false
	}
	st.t = t
	L := st.L
	L.Push(st.fns[c.idx])
	if conv {
		st.fetches.text = rules.AppendText(st.fetches.text[:0], smp)
		L.Push(glua.LString(st.fetches.text))
	} else {
		L.Push(st.txn)
	}
	for _, v := range c.args {
		L.Push(v)
	}
	err = st.run(1 + len(c.args))
	if err == nil {
		sampleOf(t, st.doneV, smp)
	} else {
		st.callErr(c.what, c.name, err)
	}
	c.s.put(st)
	return err == nil
}

// Fetch is a Lua sample fetch: "lua.NAME(args)".
type Fetch struct{ sampleCall }

// NewFetch builds fetch name with its arguments.
func (s *Scripts) NewFetch(name string, args []string) (*Fetch, error) {
	i, ok := s.lookup(KindFetch, name)
	if !ok {
		return nil, &UnknownError{KindFetch, name}
	}
	return &Fetch{sampleCall{s: s, idx: i, name: name, what: "sample-fetch", args: luaStrings(args)}}, nil
}

// Fetch calls the function with the TXN object.
func (f *Fetch) Fetch(t *rules.Txn, smp *rules.Sample) bool { return f.call(t, smp, false) }

// Conv is a Lua converter: ",lua.NAME(args)".
type Conv struct{ sampleCall }

// NewConv builds converter name with its arguments.
func (s *Scripts) NewConv(name string, args []string) (*Conv, error) {
	i, ok := s.lookup(KindConv, name)
	if !ok {
		return nil, &UnknownError{KindConv, name}
	}
	return &Conv{sampleCall{s: s, idx: i, name: name, what: "converter", args: luaStrings(args)}}, nil
}

// Convert calls the function with the sample as a string.
func (c *Conv) Convert(t *rules.Txn, smp *rules.Sample) bool { return c.call(t, smp, true) }

// Service is a Lua service: "use-service lua.NAME".
type Service struct {
	s    *Scripts
	idx  int
	name string
	HTTP bool // registered for mode http, else tcp
}

// NewService returns service name.
func (s *Scripts) NewService(name string) (*Service, error) {
	i, ok := s.lookup(KindService, name)
	if !ok {
		return nil, &UnknownError{KindService, name}
	}
	return &Service{s: s, idx: i, name: name, HTTP: s.regs[i].http}, nil
}

// ServeHTTP runs the service for the request of t.
func (sv *Service) ServeHTTP(t *rules.Txn, a rules.HTTPApplet) error {
	return sv.serve(t, &applet{http: a, r: a, status: 200}, true)
}

// ServeTCP runs the service on the stream c.
func (sv *Service) ServeTCP(t *rules.Txn, c io.ReadWriter) error {
	return sv.serve(t, &applet{tcp: c, r: c}, false)
}

func (sv *Service) serve(t *rules.Txn, ap *applet, http bool) error {
	st, err := sv.s.get()
	if err != nil {
		sv.s.logf(levelAlert, "Lua applet '<lua.%s>': %v", sv.name, err)
		return err
	}
	defer sv.s.put(st)
	st.t, st.app = t, ap
	obj := st.newTCPApplet
	if http {
		obj = func() *glua.LTable { return st.newHTTPApplet(t) }
	}
	if err := st.call(st.fns[sv.idx], obj()); err != nil {
		kind := "tcp"
		if http {
			kind = "http"
		}
		st.callErr("applet "+kind, "<lua."+sv.name+">", err)
		return err
	}
	if http && !ap.started {
		return errNoResponse
	}
	return nil
}
