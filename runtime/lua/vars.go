package lua

import glua "github.com/yuin/gopher-lua"

// getVar is txn:get_var(name) and applet:get_var(name).
func (st *state) getVar(L *glua.LState) int {
	st.needTxn("", "get_var")
	L.RaiseError("get_var('%s'): transaction variables are not supported by gohap yet", L.CheckString(2))
	return 0
}

// setVar is txn:set_var(name, value [, ifexist]).
func (st *state) setVar(L *glua.LState) int {
	st.needTxn("", "set_var")
	L.RaiseError("set_var('%s'): transaction variables are not supported by gohap yet", L.CheckString(2))
	return 0
}

// unsetVar is txn:unset_var(name).
func (st *state) unsetVar(name string) {
	st.needTxn("", "unset_var")
	st.L.RaiseError("unset_var('%s'): transaction variables are not supported by gohap yet", name)
}
