package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envConfig is checked against haproxy 2.6.12: "haproxy -c" with
// HOME=/root printed these .notice lines.
const envConfig = `global
    pidfile "/run/${A-unset}.pid"
    setenv A one
    setenv B "${A}-two"
    setenv A "${A}x"
    .notice "A=${A} B=${B}"
    presetenv A pre
    presetenv C pre
    .notice "A=${A} C=${C}"
    .if defined(C)
    .notice "C defined"
    .endif
    .if streq("${A}",onex)
    .notice "streq ok"
    .endif
    unsetenv A C
    .notice "after unset A=${A-none} C=${C-none} B=${B}"
    .if defined(A)
    .notice "A still defined"
    .endif
    setenv D d
    resetenv B HOME
    .notice "after reset B=${B} D=${D-none} HOME=${HOME-none} PATH=${PATH-none}"
defaults
    mode http
frontend "fe_${B}_${D-none}"
    bind :8080
    default_backend be
backend be
`

func TestSetenvExpansionOrder(t *testing.T) {
	opt := Options{Version: "2.6", Env: env("HOME", "/root", "PATH", "/usr/bin")}
	p, err := ParseFile("env.cfg", envConfig, opt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range p.Diags {
		got = append(got, d.Msg)
	}
	want := []string{"A=onex B=one-two", "A=onex C=pre", "C defined", "streq ok",
		"after unset A=none C=none B=one-two", "after reset B=one-two D=none HOME=/root PATH=none"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	res, err := Compile([]*Parsed{p}, Config{Options: opt})
	if err != nil {
		t.Fatal(err)
	}
	// pidfile is read before the first setenv, the frontend after resetenv.
	if res.Graph.Global.PIDFile != "/run/unset.pid" {
		t.Errorf("pidfile = %q, want the value before setenv", res.Graph.Global.PIDFile)
	}
	if name := res.Graph.Frontends[0].Name; name != "fe_one-two_none" {
		t.Errorf("frontend = %q, want fe_one-two_none", name)
	}
	if v, ok := p.Env().Lookup("B"); !ok || v != "one-two" {
		t.Errorf("final B = %q, %v", v, ok)
	}
	if _, ok := p.Env().Lookup("PATH"); ok {
		t.Errorf("PATH survived resetenv")
	}
}

// TestSetenvLeavesProcess checks that reading a configuration does not
// change gohap's own environment: a check must have no side effect.
func TestSetenvLeavesProcess(t *testing.T) {
	t.Setenv("GOHAP_ENV_TEST_KEEP", "kept")
	os.Unsetenv("GOHAP_ENV_TEST_NEW")
	src := "global\n    setenv GOHAP_ENV_TEST_NEW x\n    unsetenv GOHAP_ENV_TEST_KEEP\n    .notice \"${GOHAP_ENV_TEST_NEW}${GOHAP_ENV_TEST_KEEP-gone}\"\n"
	p, err := ParseFile("t.cfg", src, Options{Env: os.LookupEnv})
	if err != nil {
		t.Fatal(err)
	}
	if p.Diags[0].Msg != "xgone" {
		t.Errorf("notice = %q, want xgone", p.Diags[0].Msg)
	}
	if _, ok := os.LookupEnv("GOHAP_ENV_TEST_NEW"); ok {
		t.Errorf("setenv changed the process environment")
	}
	if os.Getenv("GOHAP_ENV_TEST_KEEP") != "kept" {
		t.Errorf("unsetenv changed the process environment")
	}
}

// TestSetenvNextFile checks that a file sees the setenv of the files
// before it, as haproxy reads every -f in one process.
func TestSetenvNextFile(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "1.cfg")
	second := filepath.Join(dir, "2.cfg")
	os.WriteFile(first, []byte("global\n    setenv SITE blue\ndefaults\n    mode http\n"), 0o644)
	os.WriteFile(second, []byte(".if streq(\"${SITE}\",blue)\nfrontend \"fe_${SITE}\"\n    bind :8080\n    default_backend be\nbackend be\n.endif\n"), 0o644)
	res, err := Load([]string{first, second}, Config{Options: Options{Version: "2.6"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Graph.Frontends) != 1 || res.Graph.Frontends[0].Name != "fe_blue" {
		t.Fatalf("frontends = %v, want fe_blue", res.Graph.Frontends)
	}
}

// The messages follow haproxy 2.6's; a setenv in a disabled .if block
// changes nothing.
func TestSetenvErrors(t *testing.T) {
	src := `global
    setenv A
    presetenv
    unsetenv
    setenv "A=B" x
    setenv "" x
    .if defined(NOPE)
    setenv A x
    .endif
    .notice "${A-unset}"
defaults
    setenv A b
`
	p, err := ParseFile("e.cfg", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Diags[0].Msg != "unset" {
		t.Errorf("notice = %q: a line with an error or in a false .if changed the environment", p.Diags[0].Msg)
	}
	_, err = Compile([]*Parsed{p}, Config{})
	want := `e.cfg:2:5: 'setenv' expects a name and a value
e.cfg:3:5: 'presetenv' expects a name and a value
e.cfg:4:5: 'unsetenv' expects at least one variable name
e.cfg:5:5: 'setenv' failed on variable 'A=B': invalid argument
e.cfg:6:5: 'setenv' failed on variable '': invalid argument
e.cfg:12:5: 'setenv' is not allowed in 'defaults' section`
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

func TestSetenvExtraWords(t *testing.T) {
	src := "global\n    setenv A b c\n    .notice \"${A}\"\ndefaults\n    mode http\nfrontend f\n    bind :80\n    default_backend be\nbackend be\n"
	p, err := ParseFile("w.cfg", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Diags[0].Msg != "b" {
		t.Errorf("notice = %q, want b", p.Diags[0].Msg)
	}
	res, err := Compile([]*Parsed{p}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) == 0 || !strings.HasPrefix(res.Warnings[0].String(), "w.cfg:2:16: 'setenv' ignores 'c'") {
		t.Errorf("warnings = %v", res.Warnings)
	}
}
