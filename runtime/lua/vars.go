package lua

import (
	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// getVar is txn:get_var(name) and applet:get_var(name): the value, or nil
// when the variable is not set.
func (st *state) getVar(L *glua.LState) int {
	t := st.needTxn("", "get_var")
	v, ok := t.LookupVar(st.varName(L), false)
	if !ok || !t.LoadVar(v, &st.smp) {
		L.Push(glua.LNil)
		return 1
	}
	if st.smp.Type == rules.TypeBool {
		L.Push(glua.LBool(st.smp.Int != 0))
		return 1
	}
	st.pushSample(false)
	return 1
}

// setVar is txn:set_var(name, value): a string, a number or a boolean.
// It returns whether it stored: a proc variable must be one the
// configuration uses. haproxy 2.6 takes no "ifexist" argument: a fourth
// one changes nothing, as there.
func (st *state) setVar(L *glua.LState) int {
	t := st.needTxn("", "set_var")
	name := st.varName(L)
	s := &st.smp
	*s = rules.Sample{}
	switch v := L.Get(3).(type) {
	case glua.LString:
		st.fetches.text = append(st.fetches.text[:0], v...)
		s.Type, s.Str = rules.TypeStr, st.fetches.text
	case glua.LNumber:
		if f := float64(v); f == float64(int64(f)) {
			s.Type, s.Int = rules.TypeInt, int64(f)
		} else {
			st.fetches.text = append(st.fetches.text[:0], v.String()...)
			s.Type, s.Str = rules.TypeStr, st.fetches.text
		}
	case glua.LBool:
		s.Type = rules.TypeBool
		if v {
			s.Int = 1
		}
	default:
		L.ArgError(3, "a string, a number or a boolean expected")
	}
	v, ok := t.LookupVar(name, true)
	L.Push(glua.LBool(ok && t.SetVar(v, 0, s)))
	return 1
}

// unsetVar is txn:unset_var(name).
func (st *state) unsetVar(L *glua.LState) int {
	t := st.needTxn("", "unset_var")
	if v, ok := t.LookupVar(st.varName(L), false); ok {
		t.UnsetVar(v)
	}
	return 0
}

// varName returns the variable name argument, checked: a bad one is a
// script error, as in haproxy.
func (st *state) varName(L *glua.LState) string {
	name := L.CheckString(2)
	if _, _, err := rules.ParseVarName(name); err != nil {
		L.ArgError(2, err.Error())
	}
	return name
}
