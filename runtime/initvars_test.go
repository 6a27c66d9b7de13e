package runtime

import (
	"testing"

	"gohap/runtime/rules"
)

// initVarsConfig gives proc.maintenance_mode the initial value false;
// the frontend answers 503 while it is true.
const initVarsConfig = `global
    set-var proc.maintenance_mode str(false)
` + testDefaults + `
frontend fe
    bind 127.0.0.1:0
    http-request return status 503 if { var(proc.maintenance_mode) -m str true }
    http-request return status 200 content-type text/plain lf-string "mode=%[var(proc.maintenance_mode)]"
`

// startInitVars starts an engine on initVarsConfig with vars as the
// store, and returns it with the slot of proc.maintenance_mode.
func startInitVars(t *testing.T, vars rules.VarStore) (*Engine, int) {
	t.Helper()
	res, err := compileString(initVarsConfig)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Graph: res.Graph, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, res.Graph.Vars[0].Slot
}

// TestGlobalSetVarAtStart: an unset variable takes the global set-var's
// value when the engine starts, before the first request.
func TestGlobalSetVarAtStart(t *testing.T) {
	e, _ := startInitVars(t, &fakeVars{})
	if code, body := status(t, e.Addrs("fe")[0].String(), "/"); code != 200 || body != "mode=false" {
		t.Errorf("got %d %q, want 200 mode=false", code, body)
	}
}

// TestGlobalSetVarKeepsStoreValue: a value the store already holds (an
// operator's gohap -S maintenance_mode=true) survives the start and a
// reload; the configured value is only an initial value.
func TestGlobalSetVarKeepsStoreValue(t *testing.T) {
	vars := &fakeVars{}
	vars.SetSlot(0, []byte("true"))
	e, slot := startInitVars(t, vars)
	if slot != 0 {
		t.Fatalf("slot = %d, want 0", slot)
	}
	addr := e.Addrs("fe")[0].String()
	if code, _ := status(t, addr, "/"); code != 503 {
		t.Errorf("after start: %d, want 503 (the operator's value)", code)
	}
	res, err := compileString(initVarsConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(res.Graph); err != nil {
		t.Fatal(err)
	}
	if code, _ := status(t, e.Addrs("fe")[0].String(), "/"); code != 503 {
		t.Errorf("after reload: %d, want 503 (the operator's value)", code)
	}
}
