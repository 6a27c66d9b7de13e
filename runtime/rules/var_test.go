package rules

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseVarName(t *testing.T) {
	for _, c := range []struct {
		in, name, err string
		scope         Scope
	}{
		{in: "txn.host", scope: ScopeTxn, name: "host"},
		{in: "sess.a.b_C9", scope: ScopeSess, name: "a.b_C9"},
		{in: "proc.x", scope: ScopeProc, name: "x"},
		{in: "req.x", scope: ScopeReq, name: "x"},
		{in: "res.x", scope: ScopeRes, name: "x"},
		{in: "foo.x", err: "must start with its scope"},
		{in: "Txn.x", err: "must start with its scope"},
		{in: "txn.", err: "must start with its scope"},
		{in: "x", err: "must start with its scope"},
		{in: "txn.a-b", err: "only letters, digits"},
	} {
		scope, name, err := ParseVarName(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || scope != c.scope || name != c.name):
			t.Errorf("%s: %v %q %v", c.in, scope, name, err)
		}
	}
}

// TestSetVarConds follows what haproxy 2.6.12 does with the same
// sequences (see testdata/compat/vars.txt).
func TestSetVarConds(t *testing.T) {
	str := func(s string) *Sample { return &Sample{Type: TypeStr, Str: []byte(s)} }
	num := func(n int64) *Sample { return &Sample{Type: TypeInt, Int: n} }
	type step struct {
		conds string
		val   *Sample
		unset bool
	}
	for _, c := range []struct {
		name  string
		steps []step
		want  string // "" for unset
	}{
		{"ifgt keeps the smaller", []step{{"ifgt", num(5), false}, {"ifgt", num(3), false}, {"ifgt", num(9), false}}, "int 3"},
		{"iflt keeps the larger", []step{{"iflt", num(5), false}, {"iflt", num(3), false}, {"iflt", num(9), false}}, "int 9"},
		{"ifgt on a string holds", []step{{"", str("a"), false}, {"ifgt", num(1), false}}, "int 1"},
		{"ifnotexists", []step{{"ifnotexists", str("a"), false}, {"ifnotexists", str("b"), false}}, "str a"},
		{"ifexists on nothing", []step{{"ifexists", str("a"), false}}, ""},
		{"unset then ifnotexists", []step{{"", str("a"), false}, {"", nil, true}, {"ifnotexists", str("b"), false}}, "str b"},
		{"unset then ifnotset", []step{{"", str("a"), false}, {"", nil, true}, {"ifnotset", str("c"), false}}, "str c"},
		{"ifset on nothing", []step{{"ifset", str("a"), false}}, ""},
		{"ifnotempty refuses empty", []step{{"ifnotempty", str(""), false}}, ""},
		{"ifempty takes empty", []step{{"ifempty", str(""), false}}, "str "},
		{"ifempty refuses an int", []step{{"ifempty", num(0), false}}, ""},
		{"two conditions", []step{{"ifnotempty,ifnotexists", str("x"), false}, {"ifnotempty,ifnotexists", str("y"), false}}, "str x"},
	} {
		var tx Txn
		v := VarRef{ScopeTxn, 3}
		for _, st := range c.steps {
			if st.unset {
				tx.UnsetVar(v)
				continue
			}
			var words []string
			if st.conds != "" {
				words = strings.Split(st.conds, ",")
			}
			conds, err := ParseVarConds(words)
			if err != nil {
				t.Fatal(err)
			}
			tx.SetVar(v, conds, st.val)
		}
		var s Sample
		got := ""
		if tx.LoadVar(v, &s) {
			got = s.Type.String()[:3] + " " + string(s.Str)
			if s.Type == TypeInt {
				got = "int " + strconv.FormatInt(s.Int, 10)
			}
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := ParseVarConds([]string{"bogus"}); err == nil {
		t.Error("unknown condition accepted")
	}
	if _, err := ParseVarConds(strings.Split("ifset,ifset,ifset,ifset,ifset", ",")); err == nil {
		t.Error("five conditions accepted")
	}
}

// TestVarTypes: a variable keeps the type it was stored with.
func TestVarTypes(t *testing.T) {
	var tx Txn
	addr := netip.MustParseAddr("192.0.2.7")
	for i, in := range []Sample{{Type: TypeIP, Addr: addr}, {Type: TypeBool, Int: 1}, {Type: TypeInt, Int: -4}, {Type: TypeStr, Str: []byte("s")}} {
		v := VarRef{ScopeSess, i}
		tx.SetVar(v, 0, &in)
		var out Sample
		if !tx.LoadVar(v, &out) || out.Type != in.Type || out.Int != in.Int || out.Addr != in.Addr || string(out.Str) != string(in.Str) {
			t.Errorf("%d: stored %+v, loaded %+v", i, in, out)
		}
	}
}

func TestVarScopeLifetimes(t *testing.T) {
	var tx Txn
	set := func(sc Scope) bool {
		return tx.SetVar(VarRef{sc, 0}, 0, &Sample{Type: TypeStr, Str: []byte(sc.String())})
	}
	has := func(sc Scope) bool {
		var s Sample
		return tx.LoadVar(VarRef{sc, 0}, &s) && string(s.Str) == sc.String()
	}
	if set(ScopeRes) {
		t.Error("a res variable was set during the request")
	}
	set(ScopeSess)
	set(ScopeTxn)
	set(ScopeReq)
	tx.InResponse = true
	if has(ScopeReq) || !has(ScopeTxn) || !has(ScopeSess) {
		t.Error("in the response: req must be gone, txn and sess there")
	}
	if !set(ScopeRes) || !has(ScopeRes) {
		t.Error("res variable not set in the response")
	}
	tx.Reset()
	if has(ScopeTxn) || has(ScopeReq) || !has(ScopeSess) {
		t.Error("after Reset only sess must remain")
	}
	tx.InResponse = true
	if has(ScopeRes) {
		t.Error("res survived Reset")
	}
	tx.InResponse = false

	// Parking the connection moves its sess variables out and back.
	var parked SessVars
	tx.SwapSess(&parked)
	if has(ScopeSess) {
		t.Error("sess variable still in the Txn after SwapSess")
	}
	var other Txn
	other.SwapSess(&parked)
	if s := (Sample{}); !other.LoadVar(VarRef{ScopeSess, 0}, &s) || string(s.Str) != "sess" {
		t.Error("sess variable lost across SwapSess")
	}
	other.EndSession()
	if s := (Sample{}); other.LoadVar(VarRef{ScopeSess, 0}, &s) {
		t.Error("sess variable survived EndSession")
	}
}

// TestLookupVar covers the by-name access Lua uses, with names the
// configuration has and names it does not.
func TestLookupVar(t *testing.T) {
	var vt VarTable
	vt.Add(ScopeTxn, "known", 0)
	vt.Add(ScopeProc, "maint", 7)
	tx := Txn{Vars: mapVars{}}
	tx.UseVarTable(&vt)
	if v, ok := tx.LookupVar("txn.known", false); !ok || v != (VarRef{ScopeTxn, 0}) {
		t.Errorf("txn.known: %v %v", v, ok)
	}
	if v, ok := tx.LookupVar("proc.maint", false); !ok || v != (VarRef{ScopeProc, 7}) {
		t.Errorf("proc.maint: %v %v", v, ok)
	}
	if _, ok := tx.LookupVar("proc.other", true); ok {
		t.Error("a proc variable was created at run time")
	}
	if _, ok := tx.LookupVar("txn.new", false); ok {
		t.Error("txn.new found before it was created")
	}
	v, ok := tx.LookupVar("txn.new", true)
	if !ok || v != (VarRef{ScopeTxn, 1}) {
		t.Fatalf("txn.new: %v %v", v, ok)
	}
	tx.SetVar(v, 0, &Sample{Type: TypeStr, Str: []byte("x")})
	if again, _ := tx.LookupVar("txn.new", false); again != v {
		t.Errorf("txn.new resolved again to %v", again)
	}
	tx.Reset()
	if _, ok := tx.LookupVar("txn.new", false); ok {
		t.Error("run-time txn name survived Reset")
	}
	if _, ok := tx.LookupVar("bad", true); ok {
		t.Error("a name without scope resolved")
	}
}

// TestUseVarTableRemaps: after a reload changed the variable table, the
// session variables of a connection follow their names.
func TestUseVarTableRemaps(t *testing.T) {
	var old, cur VarTable
	old.Add(ScopeSess, "a", 0)
	old.Add(ScopeSess, "b", 1)
	cur.Add(ScopeSess, "b", 0)
	var tx Txn
	tx.UseVarTable(&old)
	tx.SetVar(VarRef{ScopeSess, 0}, 0, &Sample{Type: TypeStr, Str: []byte("va")})
	tx.SetVar(VarRef{ScopeSess, 1}, 0, &Sample{Type: TypeInt, Int: 2})
	tx.UseVarTable(&cur)
	var s Sample
	if !tx.LoadVar(VarRef{ScopeSess, 0}, &s) || s.Type != TypeInt || s.Int != 2 {
		t.Errorf("sess.b after the reload: %+v", s)
	}
	v, ok := tx.LookupVar("sess.a", false)
	if s = (Sample{}); !ok || !tx.LoadVar(v, &s) || string(s.Str) != "va" {
		t.Errorf("sess.a after the reload: %v %+v", ok, s)
	}
}

// mapVars is a VarStore for tests.
type mapVars map[int]string

func (m mapVars) Load(slot int, dst []byte) []byte { return append(dst[:0], m[slot]...) }
func (m mapVars) Equal(slot int, v []byte) bool    { return m[slot] == string(v) }
func (m mapVars) SetSlot(slot int, v []byte)       { m[slot] = string(v) }

func TestProcVarConds(t *testing.T) {
	m := mapVars{}
	tx := Txn{Vars: m}
	v := VarRef{ScopeProc, 1}
	ifset, _ := ParseVarConds([]string{"ifset"})
	if tx.SetVar(v, ifset, &Sample{Type: TypeStr, Str: []byte("x")}); m[1] != "" {
		t.Error("ifset set an empty proc variable")
	}
	tx.SetVar(v, 0, &Sample{Type: TypeInt, Int: 12})
	var s Sample
	if !tx.LoadVar(v, &s) || string(s.Str) != "12" {
		t.Errorf("proc int stored as %q", s.Str)
	}
	tx.UnsetVar(v)
	if tx.LoadVar(v, &s) {
		t.Error("proc variable still set after unset-var")
	}
}
