package rules

import (
	"fmt"
	"net/netip"
	"strings"
)

// Scope is where a variable lives and for how long, named by the prefix
// of its name as in haproxy ("txn.host").
type Scope uint8

// The variable scopes. ScopeProc is gohap's shared-memory store; the
// others live in the Txn.
const (
	// ScopeProc: the whole process, in the shared-memory store (VarStore),
	// where "gohap -S" reads and writes it too.
	ScopeProc Scope = iota
	// ScopeSess: the client connection, from its first rule to its close.
	ScopeSess
	// ScopeTxn: one request and its response.
	ScopeTxn
	// ScopeReq: while the request is processed; gone once the response
	// rules run.
	ScopeReq
	// ScopeRes: while the response is processed.
	ScopeRes

	numScopes = iota
)

var scopeNames = [numScopes]string{"proc", "sess", "txn", "req", "res"}

func (s Scope) String() string { return scopeNames[s] }

// ParseVarName splits a variable name as haproxy writes it, "SCOPE.NAME",
// and checks it: the scope is one of proc, sess, txn, req and res, and
// the name is letters, digits, '_' and '.'.
func ParseVarName(full string) (Scope, string, error) {
	prefix, name, _ := strings.Cut(full, ".")
	scope := -1
	for i, n := range scopeNames {
		if n == prefix {
			scope = i
		}
	}
	if prefix == "check" && name != "" {
		return 0, "", fmt.Errorf("variable scope 'check' (health checks) is not supported (in '%s')", full)
	}
	if scope < 0 || name == "" {
		return 0, "", fmt.Errorf("invalid variable name '%s': it must start with its scope, one of 'proc', 'sess', 'txn', 'req' and 'res', and a '.'", full)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return 0, "", fmt.Errorf("invalid variable name '%s': only letters, digits, '_' and '.' may follow the scope", full)
		}
	}
	return Scope(scope), name, nil
}

// VarRef is a variable resolved at compile time: its scope and its index
// there, a shared-memory slot for ScopeProc and a place in the Txn's
// storage for the other scopes.
type VarRef struct {
	Scope Scope
	Index int
}

// VarTable maps the variable names of a configuration to their VarRef.
// The compile step fills it and it is frozen with the Graph; Txn.LookupVar
// uses it to reach variables by name at run time (Lua).
type VarTable struct {
	index [numScopes]map[string]int
	names [numScopes][]string // by index, for the non-proc scopes
}

// Add records name in scope at index (a slot for ScopeProc), or returns
// the index it already has. Only the compile step calls it.
func (vt *VarTable) Add(scope Scope, name string, index int) int {
	if i, ok := vt.index[scope][name]; ok {
		return i
	}
	if vt.index[scope] == nil {
		vt.index[scope] = map[string]int{}
	}
	vt.index[scope][name] = index
	if scope != ScopeProc {
		vt.names[scope] = append(vt.names[scope], name)
	}
	return index
}

// Len returns how many variables scope holds in the table.
func (vt *VarTable) Len(scope Scope) int { return len(vt.index[scope]) }

// Lookup returns the variable name of scope, if the configuration has it.
func (vt *VarTable) Lookup(scope Scope, name string) (VarRef, bool) {
	i, ok := vt.index[scope][name]
	return VarRef{scope, i}, ok
}

// VarConds are the conditions of "set-var(NAME,COND...)": the value is
// stored only when all of them hold.
type VarConds uint8

// The set-var conditions, as haproxy names them.
const (
	IfExists VarConds = 1 << iota
	IfNotExists
	IfEmpty
	IfNotEmpty
	IfSet
	IfNotSet
	IfGt
	IfLt
)

var varCondNames = [...]string{"ifexists", "ifnotexists", "ifempty", "ifnotempty", "ifset", "ifnotset", "ifgt", "iflt"}

// ParseVarConds reads the conditions of a set-var; haproxy takes at most
// four.
func ParseVarConds(words []string) (VarConds, error) {
	if len(words) > 4 {
		return 0, fmt.Errorf("at most 4 set-var conditions, got %d", len(words))
	}
	var c VarConds
	for _, w := range words {
		found := false
		for i, n := range varCondNames {
			if n == w {
				c |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown set-var condition '%s' (expected one of %s)", w, strings.Join(varCondNames[:], ", "))
		}
	}
	return c, nil
}

// varValue is one variable of a Txn. buf keeps a string value's bytes and
// is reused by the next value, across requests.
type varValue struct {
	set  bool
	typ  Type
	num  int64
	addr netip.Addr
	buf  []byte
}

// varSet is the storage of one scope in a Txn: the table's variables by
// index, then those created at run time by name (names holds theirs).
type varSet struct {
	vals  []varValue
	names []string
}

func (vs *varSet) clear() {
	for i := range vs.vals {
		vs.vals[i].set = false
	}
	vs.names = vs.names[:0]
}

// any reports whether a variable of the set holds a value.
func (vs *varSet) any() bool {
	for i := range vs.vals {
		if vs.vals[i].set {
			return true
		}
	}
	return false
}

// slot returns the storage of index i, growing the set the first time.
func (vs *varSet) slot(i int) *varValue {
	if i >= len(vs.vals) {
		if i < cap(vs.vals) {
			vs.vals = vs.vals[:i+1]
		} else {
			vs.vals = append(vs.vals, make([]varValue, i+1-len(vs.vals))...)
		}
	}
	return &vs.vals[i]
}

// visible reports whether variables of scope can be read or written now:
// req variables only while the request is processed, res variables only
// while the response is, as haproxy keeps one store for both.
func (t *Txn) visible(scope Scope) bool {
	switch scope {
	case ScopeReq:
		return !t.InResponse
	case ScopeRes:
		return t.InResponse
	}
	return true
}

// LoadVar fills s with the value of v and reports whether v is set. A
// string value points into the variable's storage: valid until v is set
// again or the Txn is reset; do not retain it.
func (t *Txn) LoadVar(v VarRef, s *Sample) bool {
	if v.Scope == ScopeProc {
		t.scratch = t.Vars.Load(v.Index, t.scratch[:0])
		s.Type, s.Str = TypeStr, t.scratch
		return len(t.scratch) > 0
	}
	vs := &t.vars[v.Scope]
	if !t.visible(v.Scope) || v.Index >= len(vs.vals) || !vs.vals[v.Index].set {
		return false
	}
	x := &vs.vals[v.Index]
	s.Type, s.Int, s.Addr, s.Str = x.typ, x.num, x.addr, nil
	if x.typ == TypeStr {
		s.Str = x.buf[:len(x.buf):len(x.buf)]
	}
	return true
}

// SetVar stores s in v when the conditions c hold (0: always), as
// haproxy's set-var does, and reports whether it did. A proc variable is
// written to the shared-memory store as text.
func (t *Txn) SetVar(v VarRef, c VarConds, s *Sample) bool {
	if v.Scope == ScopeProc {
		return t.setProcVar(v.Index, c, s)
	}
	if !t.visible(v.Scope) {
		return false
	}
	vs := &t.vars[v.Scope]
	var x *varValue
	if v.Index < len(vs.vals) {
		x = &vs.vals[v.Index]
	}
	var old *varValue // the value in place, if any
	if x != nil && x.set {
		old = x
	}
	if !condsHold(c, old != nil, old != nil, old, s) {
		return false
	}
	if x == nil {
		x = vs.slot(v.Index)
	}
	x.set, x.typ, x.num, x.addr = true, s.Type, s.Int, s.Addr
	x.buf = x.buf[:0]
	if s.Type == TypeStr {
		x.buf = append(x.buf, s.Str...)
	}
	return true
}

// setProcVar writes a proc variable. Proc variables exist from the start,
// as in haproxy, and one holding the empty value counts as not set.
func (t *Txn) setProcVar(slot int, c VarConds, s *Sample) bool {
	if c != 0 {
		t.conv.Str = t.Vars.Load(slot, t.conv.Str[:0])
		if !condsHold(c, true, len(t.conv.Str) > 0, nil, s) {
			return false
		}
	}
	t.Vars.SetSlot(slot, asStr(t, s))
	return true
}

// condsHold evaluates set-var conditions for the value s and a variable
// that exists, is set, and holds old (nil: no typed value to compare).
func condsHold(c VarConds, exists, set bool, old *varValue, s *Sample) bool {
	if c == 0 {
		return true
	}
	// Scalars are never empty.
	empty := s.Type == TypeStr && len(s.Str) == 0
	switch {
	case c&IfExists != 0 && !exists, c&IfNotExists != 0 && exists,
		c&IfSet != 0 && !set, c&IfNotSet != 0 && set,
		c&IfEmpty != 0 && !empty, c&IfNotEmpty != 0 && empty:
		return false
	}
	// ifgt and iflt compare only two integers; otherwise they hold.
	if old != nil && old.typ == TypeInt && s.Type == TypeInt {
		if c&IfGt != 0 && old.num <= s.Int || c&IfLt != 0 && old.num >= s.Int {
			return false
		}
	}
	return true
}

// UnsetVar removes the value of v; a proc variable becomes empty.
func (t *Txn) UnsetVar(v VarRef) {
	if v.Scope == ScopeProc {
		t.Vars.SetSlot(v.Index, nil)
		return
	}
	vs := &t.vars[v.Scope]
	if t.visible(v.Scope) && v.Index < len(vs.vals) {
		vs.vals[v.Index].set = false
	}
}

// LookupVar resolves a full variable name ("txn.foo") at run time, for
// Lua's txn:get_var and txn:set_var. A name the configuration does not
// use gets a place of its own in this Txn when create is set (it lives
// as long as its scope); a proc name must be in the configuration, since
// the shared-memory slots are resolved when it is compiled.
func (t *Txn) LookupVar(full string, create bool) (VarRef, bool) {
	scope, name, err := ParseVarName(full)
	if err != nil {
		return VarRef{}, false
	}
	if t.varTable != nil {
		if v, ok := t.varTable.Lookup(scope, name); ok {
			return v, true
		}
	}
	if scope == ScopeProc {
		return VarRef{}, false
	}
	base := 0
	if t.varTable != nil {
		base = t.varTable.Len(scope)
	}
	vs := &t.vars[scope]
	for i, n := range vs.names {
		if n == name {
			return VarRef{scope, base + i}, true
		}
	}
	if !create {
		return VarRef{}, false
	}
	vs.names = append(vs.names, name)
	return VarRef{scope, base + len(vs.names) - 1}, true
}

// SessVars holds the session variables of a client connection while no
// Txn serves it (an idle keep-alive connection handed to the parker).
type SessVars struct {
	vs    varSet
	table *VarTable
}

// SwapSess exchanges the session variables of t with those of sv: a
// connection keeps its sess variables when its Txn changes. Buffers move
// with them; nothing is copied.
func (t *Txn) SwapSess(sv *SessVars) {
	t.vars[ScopeSess], sv.vs = sv.vs, t.vars[ScopeSess]
	t.sessTable, sv.table = sv.table, t.sessTable
}

// HasSessVars reports whether a session variable is set.
func (t *Txn) HasSessVars() bool { return t.vars[ScopeSess].any() }

// EndSession clears the session variables: the connection closed and the
// Txn will serve another one.
func (t *Txn) EndSession() {
	t.vars[ScopeSess].clear()
	t.sessTable = nil
}

// UseVarTable sets the table of the Graph t runs on. When a reload changed
// the table during a connection, its session variables are moved to the
// new table's places by name; those the new configuration does not name
// are kept as run-time names.
func (t *Txn) UseVarTable(vt *VarTable) {
	t.varTable = vt
	old := t.sessTable
	t.sessTable = vt
	if old == nil || old == vt || !t.vars[ScopeSess].any() {
		return
	}
	prev := t.vars[ScopeSess]
	t.vars[ScopeSess] = varSet{}
	for i := range prev.vals {
		x := &prev.vals[i]
		if !x.set {
			continue
		}
		name := ""
		if i < len(old.names[ScopeSess]) {
			name = old.names[ScopeSess][i]
		} else if j := i - len(old.names[ScopeSess]); j < len(prev.names) {
			name = prev.names[j]
		}
		if v, ok := t.LookupVar("sess."+name, true); ok {
			*t.vars[ScopeSess].slot(v.Index) = *x
		}
	}
}
