package parser

import (
	"testing"

	"gohap/runtime/rules"
)

// globalVarSite sets proc variables in the global section; the values
// were checked against haproxy 2.6.12 serving "%[var(proc.NAME)]":
// x=ABC y=hello-ABC z= (env() reads the environment of its line).
const globalVarSite = `global
    setenv GREETING hello
    set-var proc.maintenance_mode str(false)
    set-var proc.x str(abc),upper
    set-var-fmt proc.y "%[env(GREETING)]-%[var(proc.x)]"
    unsetenv GREETING
    set-var proc.z env(GREETING)
defaults
    mode http
frontend www
    bind :8080
    acl variable maintenance_mode true
    acl y var(proc.y) -m str hello-ABC
    use_backend maintenance if maintenance_mode
    use_backend y if y
    default_backend app
backend maintenance
backend y
backend app
`

func compileGlobalVars(t *testing.T, resolve func(string) (int, error)) *rules.Graph {
	t.Helper()
	p, err := ParseFile("g.cfg", globalVarSite, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compile([]*Parsed{p}, Config{Var: resolve})
	if err != nil {
		t.Fatal(err)
	}
	return res.Graph
}

// TestGlobalSetVar: the values of the global set-var lines are what the
// rules see once the graph's InitVars ran.
func TestGlobalSetVar(t *testing.T) {
	store := openStore(t)
	g := compileGlobalVars(t, store.Resolve)
	g.InitVars(store)
	for name, want := range map[string]string{"maintenance_mode": "false", "x": "ABC", "y": "hello-ABC", "z": ""} {
		if got, _ := store.Get(name); got != want {
			t.Errorf("proc.%s = %q, want %q", name, got, want)
		}
	}
	if got := pickBackend(g.Frontends[0], newTxn("GET", "/", store, fakeState{})); got != "y" {
		t.Errorf("backend = %q, want y", got)
	}
}

// TestGlobalSetVarKeepsOperatorValue: a value already in the store, set
// by an operator with gohap -S before a start or a reload, wins over the
// configuration's initial value; an unset (empty) variable takes it.
func TestGlobalSetVarKeepsOperatorValue(t *testing.T) {
	store := openStore(t)
	if err := store.Set("maintenance_mode", "true"); err != nil {
		t.Fatal(err)
	}
	g := compileGlobalVars(t, store.Resolve)
	g.InitVars(store)
	fe := g.Frontends[0]
	if got, _ := store.Get("maintenance_mode"); got != "true" {
		t.Fatalf("start overwrote the operator's value: %q", got)
	}
	if got := pickBackend(fe, newTxn("GET", "/", store, fakeState{})); got != "maintenance" {
		t.Errorf("backend = %q, want maintenance", got)
	}
	// A reload runs InitVars of a new graph: the switch stays.
	compileGlobalVars(t, store.Resolve).InitVars(store)
	if got, _ := store.Get("maintenance_mode"); got != "true" {
		t.Errorf("reload overwrote the operator's value: %q", got)
	}
	// Unset by the operator (gohap -S maintenance_mode=): the next
	// reload gives it the configured value again.
	store.Set("maintenance_mode", "")
	compileGlobalVars(t, store.Resolve).InitVars(store)
	if got, _ := store.Get("maintenance_mode"); got != "false" {
		t.Errorf("after unset and reload: %q, want false", got)
	}
	if got := pickBackend(fe, newTxn("GET", "/", store, fakeState{})); got != "y" {
		t.Errorf("backend = %q, want y", got)
	}
}

// The messages of the first two follow haproxy 2.6's.
func TestGlobalSetVarErrors(t *testing.T) {
	src := `global
    set-var txn.x int(5)
    set-var proc.x
    set-var-fmt sess.y "a"
    set-var proc.a src
    set-var proc.b req.hdr(host)
    set-var proc.c var(txn.y)
    set-var-fmt proc.d "%ci"
    set-var-fmt proc.e "%[src]"
    set-var x int(1)
    set-var proc.f nbsrv(be)
defaults
    set-var proc.g int(1)
`
	p, err := ParseFile("e.cfg", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile([]*Parsed{p}, Config{})
	want := `e.cfg:2:13: 'set-var': cannot set variable 'txn.x', only scope 'proc' is permitted in the global section
e.cfg:3:5: 'set-var' requires a process-wide variable name ('proc.<name>') and a sample expression
e.cfg:4:17: 'set-var-fmt': cannot set variable 'sess.y', only scope 'proc' is permitted in the global section
e.cfg:5:20: fetch method 'src' needs a connection, a request or the servers' state, which a global set-var has not; use str, int, bool, env, var(proc.NAME) or always_true/always_false
e.cfg:6:20: fetch method 'req.hdr' needs a connection, a request or the servers' state, which a global set-var has not; use str, int, bool, env, var(proc.NAME) or always_true/always_false
e.cfg:7:20: 'var(txn.y)' has no value at startup: a global set-var can read only 'proc' variables
e.cfg:8:24: log-format variable '%ci' needs a connection, which a global set-var-fmt has not
e.cfg:9:24: fetch method 'src' needs a connection, a request or the servers' state, which a global set-var has not; use str, int, bool, env, var(proc.NAME) or always_true/always_false
e.cfg:10:13: 'set-var': invalid variable name 'x': it must start with its scope, one of 'proc', 'sess', 'txn', 'req' and 'res', and a '.'
e.cfg:11:20: fetch method 'nbsrv' needs a connection, a request or the servers' state, which a global set-var has not; use str, int, bool, env, var(proc.NAME) or always_true/always_false
e.cfg:13:5: 'set-var' is not allowed in 'defaults' section`
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestEnvFetch: env() in a proxy reads the environment as the whole
// configuration left it.
func TestEnvFetch(t *testing.T) {
	src := `global
    setenv COLOR green
    setenv SHADE "${COLOR}-dark"
    setenv COLOR blue
defaults
    mode http
frontend f
    bind :80
    use_backend blue if { env(COLOR) -m str blue }
    use_backend unset if !{ env(NOPE) -m found }
    default_backend other
backend blue
backend unset
backend other
`
	p, err := ParseFile("env.cfg", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compile([]*Parsed{p}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pickBackend(res.Graph.Frontends[0], newTxn("GET", "/", nil, fakeState{})); got != "blue" {
		t.Errorf("backend = %q, want blue", got)
	}
}
