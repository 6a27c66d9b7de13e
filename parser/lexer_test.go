package parser

import (
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// The expected values were read from haproxy 2.6 serving each word with
// "http-request return ... string WORD".
func TestUnquote(t *testing.T) {
	e := env("TWO", "p q", "ONE", "one")
	cases := []struct{ raw, want string }{
		{`plain`, "plain"},
		{`${TWO}`, "${TWO}"}, // not expanded outside double quotes
		{`"${TWO}"`, "p q"},
		{`"x${UNSET-def}y"`, "xdefy"},
		{`"x${UNSET}y"`, "xy"},
		{`'x${TWO}y'`, "x${TWO}y"},
		{`x\ y\"z`, `x y"z`},
		{`"a\"b\\c\td"`, "a\"b\\c\td"},
		{`${ONE}z`, "${ONE}z"},
		{`"$ONE/x"`, "one/x"},
		{`'a'"b"c`, "abc"},
		{`"\x41"`, "A"},
		{`'it''s'`, "its"},
		{`/new/\1`, `/new/\1`},
		{`"a\2b"`, `a\2b`},
		{`a\zb\#c\$d`, `a\zb#c\$d`}, // haproxy 2.6: only \$ in double quotes escapes
		{`"\${X}"`, `${X}`},
	}
	for _, c := range cases {
		got, err := unquote(c.raw, e)
		if err != nil {
			t.Errorf("unquote(%s): %v", c.raw, err)
			continue
		}
		if got != c.want {
			t.Errorf("unquote(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestSplitLine(t *testing.T) {
	cases := []struct {
		line string
		want []string
		cols []int
	}{
		{"  bind :80  # comment", []string{"bind", ":80"}, []int{3, 8}},
		{"\tacl a hdr(x) \"a b\" 'c#d' e\\ f", []string{"acl", "a", "hdr(x)", `"a b"`, `'c#d'`, `e\ f`}, []int{2, 6, 8, 15, 21, 27}},
		{"x\\#y #z", []string{`x\#y`}, []int{1}},
		{"a\r", []string{"a"}, []int{1}},
		{"# only", nil, nil},
	}
	for _, c := range cases {
		words, err := splitLine(c.line, lexPos(1))
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		var got []string
		for i, w := range words {
			got = append(got, w.text)
			if i < len(c.cols) && w.pos.Column != c.cols[i] {
				t.Errorf("%q word %d column %d, want %d", c.line, i, w.pos.Column, c.cols[i])
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: got %q want %q", c.line, got, c.want)
		}
	}
	if _, err := splitLine(`a "b c`, lexPos(3)); err == nil || !strings.Contains(err.Error(), ":3:3: unmatched quote") {
		t.Errorf("unterminated quote: got %v", err)
	}
}

func TestConditionalBlocks(t *testing.T) {
	src := `global
.if defined(FOO)
    maxconn 1
.elif streq("${BAR}",yes)
    maxconn 2
.else
    maxconn 3
.endif
.if version_atleast(2.4) && !version_before(2.6) && feature(EPOLL)
    pidfile /a
.endif
.if 0
.if 1
    bogus keyword
.endif
.endif
.notice "hello ${BAR}"
`
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"FOO", ""}, "1"},
		{[]string{"BAR", "yes"}, "2"},
		{nil, "3"},
	}
	for _, c := range cases {
		opt := Options{Env: env(c.env...), Version: "2.6", Features: []string{"EPOLL"}}
		p, err := ParseFile("t.cfg", src, opt)
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		res, err := Compile([]*Parsed{p}, Config{Options: opt})
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if got := res.Graph.Global.MaxConn; got != int(c.want[0]-'0') {
			t.Errorf("env %v: maxconn %d, want %s", c.env, got, c.want)
		}
		if res.Graph.Global.PIDFile != "/a" {
			t.Errorf("version/feature block not taken")
		}
		if len(res.Diags) != 1 || res.Diags[0].Level != "NOTICE" {
			t.Errorf("diags %+v", res.Diags)
		}
	}
}

func TestEvalCond(t *testing.T) {
	opt := Options{Env: env("A", "1"), Version: "2.6", Features: []string{"EPOLL"}}
	cases := []struct {
		expr string
		want bool
		err  bool
	}{
		{"1", true, false}, {"0", false, false}, {"defined(A)", true, false}, {"defined(B)", false, false},
		{"!defined(B)", true, false}, {"defined(A) && defined(B)", false, false},
		{"defined(A) || defined(B)", true, false}, {"(0 || 1) && !(0)", true, false},
		{"streq(a,a)", true, false}, {"strneq(a,a)", false, false}, {`streq("${A}",1)`, true, false},
		{"version_atleast(2.6)", true, false}, {"version_atleast(2.6.1)", false, false},
		{"version_before(2.10)", true, false}, {"feature(EPOLL)", true, false}, {"feature(OPENSSL)", false, false},
		{"nosuch(x)", false, true}, {"defined(A", false, true}, {"abc", false, true}, {"", false, true},
		{"1 &&", false, true},
	}
	for _, c := range cases {
		got, err := EvalCond(c.expr, opt)
		if (err != nil) != c.err {
			t.Errorf("%q: err %v, want err %v", c.expr, err, c.err)
			continue
		}
		if got != c.want {
			t.Errorf("%q = %v, want %v", c.expr, got, c.want)
		}
	}
}

func lexPos(line int) lexer.Position { return lexer.Position{Filename: "t.cfg", Line: line, Column: 1} }

func TestBindAddresses(t *testing.T) {
	src := "frontend f\n    bind :::6443,127.0.0.1:80-82,ipv6@[::1]:90,*:91,unix@/tmp/x.sock,fd@3,abns@gohap\n"
	res := mustCompile(t, src, Config{})
	var got []string
	for _, b := range res.Graph.Frontends[0].Binds {
		got = append(got, b.Network+" "+b.Addr+" "+string(rune('0'+b.FD+1)))
	}
	want := []string{"tcp [::]:6443 0", "tcp 127.0.0.1:80 0", "tcp 127.0.0.1:81 0", "tcp 127.0.0.1:82 0",
		"tcp6 [::1]:90 0", "tcp :91 0", "unix /tmp/x.sock 0", "tcp  4", "unix @gohap 0"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("binds:\n got %q\nwant %q", got, want)
	}
}

// TestCRLFAndTabs reads a file with CRLF line ends and tabs, as haproxy
// does.
func TestCRLFAndTabs(t *testing.T) {
	src := "global\r\n\tmaxconn 100\r\n\r\ndefaults\r\n\tmode http\r\nfrontend f\r\n\tbind\t127.0.0.1:8090\r\n\tacl is_a\tpath_beg\t/a\r\n\thttp-request deny if is_a\r\n"
	res := mustCompile(t, src, Config{})
	fe := res.Graph.Frontends[0]
	if len(fe.Binds) != 1 || fe.Binds[0].Addr != "127.0.0.1:8090" || len(fe.HTTPRequest) != 1 || res.Graph.Global.MaxConn != 100 {
		t.Fatalf("binds %+v, rules %d, maxconn %d", fe.Binds, len(fe.HTTPRequest), res.Graph.Global.MaxConn)
	}
}
