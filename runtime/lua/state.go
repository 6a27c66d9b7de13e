package lua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// role is what a state is built for.
type role uint8

const (
	roleFirst role = iota // the load-time state: records registrations
	rolePool              // serves calls
	roleTask              // runs one register_task function
)

// state is one Lua interpreter loaded with every script. It is owned by
// one goroutine at a time: the one that took it from the pool.
type state struct {
	s    *Scripts
	L    *glua.LState
	role role
	// inBody is set while the scripts' bodies run: only then may they
	// register.
	inBody bool
	// fns are the registered functions of this state, by registration.
	fns   []*glua.LFunction
	tasks []*glua.LFunction
	ctx   context.Context // tasks: stops sleeps; nil elsewhere

	// The call in progress.
	t      *rules.Txn
	hook   Hook // the rule set an action runs in; 0 outside actions
	done   bool // core.done or txn:done ended the call
	doneV  glua.LValue
	finish finish // what txn:done asked for
	reply  *rules.Reply
	priv   glua.LValue
	app    *applet

	// Objects built once per state and handed to each call.
	txn        *glua.LTable
	httpObj    *glua.LTable
	httpApplet *glua.LTable // metatables of the applet classes, built on first use
	tcpApplet  *glua.LTable
	doneErr    *glua.LUserData // raised by core.done to unwind the call
	fetches    fetchCache
	smp        rules.Sample
}

// finish is how txn:done ended a transaction.
type finish uint8

const (
	finishNone  finish = iota
	finishClose        // no reply: the connection is closed
	finishReply        // st.reply is sent
)

// newState builds an interpreter, installs HAProxy's classes and runs
// every script body in it.
func (s *Scripts) newState(r role) (*state, error) {
	L := glua.NewState(glua.Options{CallStackSize: 120, RegistrySize: 1024, RegistryMaxSize: 1024 * 64, MinimizeStackMemory: true})
	st := &state{s: s, L: L, role: r, fns: make([]*glua.LFunction, len(s.regs)), priv: glua.LNil}
	st.doneErr = L.NewUserData()
	st.install()
	for _, f := range s.files {
		if err := st.runBody(f.proto); err != nil {
			L.Close()
			return nil, err
		}
	}
	st.fillProxies()
	return st, nil
}

// install sets up the globals HAProxy's Lua has and the package paths.
func (st *state) install() {
	L := st.L
	installCompat(L)
	st.installCore()
	st.txn = st.newTxnObject()
	pkg, ok := L.GetGlobal("package").(*glua.LTable)
	if !ok {
		return
	}
	for _, p := range st.s.paths {
		L.SetField(pkg, "path", glua.LString(p+";"+glua.LVAsString(L.GetField(pkg, "path"))))
	}
	for _, p := range st.s.cpaths {
		L.SetField(pkg, "cpath", glua.LString(p+";"+glua.LVAsString(L.GetField(pkg, "cpath"))))
	}
}

// runBody runs a compiled file, which may register.
func (st *state) runBody(proto *glua.FunctionProto) error {
	st.inBody = true
	defer func() { st.inBody = false }()
	st.L.Push(st.L.NewFunctionFromProto(proto))
	if err := st.L.PCall(0, 0, nil); err != nil {
		if st.done {
			st.done = false
			return nil
		}
		return fmt.Errorf("Lua runtime error: %s", errorText(err))
	}
	return nil
}

// call runs fn with args; its first result is left in st.doneV. A
// core.done() ends the call normally.
func (st *state) call(fn *glua.LFunction, args ...glua.LValue) error {
	st.L.Push(fn)
	for _, a := range args {
		st.L.Push(a)
	}
	return st.run(len(args))
}

// run calls the function the caller pushed, followed by its n arguments,
// as call does.
func (st *state) run(n int) error {
	L := st.L
	if err := L.PCall(n, 1, nil); err != nil {
		if st.done {
			return nil
		}
		st.doneV = glua.LNil
		return err
	}
	if !st.done {
		st.doneV = L.Get(-1)
	}
	L.Pop(1)
	return nil
}

// reset clears what the last call left.
func (st *state) reset() {
	st.t, st.hook, st.done, st.doneV = nil, 0, false, glua.LNil
	st.finish, st.reply, st.priv, st.app = finishNone, nil, glua.LNil, nil
	st.L.SetTop(0)
}

// stop unwinds the running call (core.done, txn:done) with v as its
// result.
func (st *state) stop(v glua.LValue) {
	st.done, st.doneV = true, v
	st.L.Error(st.doneErr, 1)
}

// errorText is the message of a Lua error, without the traceback, on one
// line.
func errorText(err error) string {
	msg := err.Error()
	var ae *glua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		msg = ae.Object.String()
	}
	return strings.Join(strings.Fields(msg), " ")
}

// callErr logs a failed call the way HAProxy words it.
func (st *state) callErr(what, name string, err error) {
	st.s.logf(levelAlert, "Lua %s '%s': runtime error: %s", what, name, errorText(err))
}

// toString is Lua's tostring for the values HAProxy converts to text:
// strings and numbers; nil for the others.
func toString(v glua.LValue) (string, bool) {
	switch v := v.(type) {
	case glua.LString:
		return string(v), true
	case glua.LNumber:
		return v.String(), true
	}
	return "", false
}

// sampleOf stores a Lua value in s as HAProxy converts it: strings,
// integers and booleans keep their type; a non-integral number becomes
// its text; any other value is the boolean false.
func sampleOf(t *rules.Txn, v glua.LValue, s *rules.Sample) {
	*s = rules.Sample{}
	switch v := v.(type) {
	case glua.LString:
		s.Type, s.Str = rules.TypeStr, t.KeepString(string(v))
	case glua.LNumber:
		if f := float64(v); f == float64(int64(f)) {
			s.Type, s.Int = rules.TypeInt, int64(f)
		} else {
			s.Type, s.Str = rules.TypeStr, t.KeepString(v.String())
		}
	case glua.LBool:
		s.Type = rules.TypeBool
		if v {
			s.Int = 1
		}
	default:
		s.Type = rules.TypeBool
	}
}

// valueOf is a sample as a Lua value: integers and booleans as numbers
// and booleans, the rest as text.
func valueOf(s *rules.Sample, scratch []byte) (glua.LValue, []byte) {
	switch s.Type {
	case rules.TypeInt:
		return glua.LNumber(s.Int), scratch
	case rules.TypeBool:
		return glua.LBool(s.Int != 0), scratch
	}
	scratch = rules.AppendText(scratch[:0], s)
	return glua.LString(scratch), scratch
}
