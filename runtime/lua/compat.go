package lua

import glua "github.com/yuin/gopher-lua"

// installCompat smooths what scripts written for HAProxy's Lua 5.3 meet in
// a Lua 5.1: table.unpack is unpack, and the utf8 library, which 5.1
// lacks, fails with a message that says so instead of "attempt to index
// a nil value".
func installCompat(L *glua.LState) {
	if tbl, ok := L.GetGlobal("table").(*glua.LTable); ok && L.GetField(tbl, "unpack") == glua.LNil {
		L.SetField(tbl, "unpack", L.GetGlobal("unpack"))
	}
	utf8 := L.NewTable()
	mt := L.NewTable()
	L.SetField(mt, "__index", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("utf8.%s: the utf8 library is Lua 5.3's; gohap runs Lua 5.1", L.CheckString(2))
		return 0
	}))
	L.SetMetatable(utf8, mt)
	L.SetGlobal("utf8", utf8)
}
