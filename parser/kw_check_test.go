package parser

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

func compileString(t *testing.T, src string) (*Result, error) {
	t.Helper()
	p, err := ParseFile("t.cfg", src, Options{Version: "2.6"})
	if err != nil {
		return nil, err
	}
	return Compile([]*Parsed{p}, Config{Options: Options{Version: "2.6"}})
}

const checkHead = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"

// TestHTTPCheckRequest compares the check requests with the bytes
// haproxy 2.6.12 sends for the same lines (captured with a raw server).
func TestHTTPCheckRequest(t *testing.T) {
	cases := []struct{ lines, want string }{
		{"option httpchk", "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"option httpchk /only-uri", "OPTIONS /only-uri HTTP/1.0\r\n\r\n"},
		{"option httpchk HEAD /z", "HEAD /z HTTP/1.0\r\n\r\n"},
		{`option httpchk GET /health HTTP/1.1\r\nHost:\ www`, "GET /health HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n"},
		{`option httpchk GET /h HTTP/1.0\r\nHost:\ www\r\nX-Foo:\ bar`, "GET /h HTTP/1.0\r\nhost: www\r\nx-foo: bar\r\n\r\n"},
		{"option httpchk GET /health HTTP/1.1", "GET /health HTTP/1.1\r\nconnection: close\r\n\r\n"},
		{"option httpchk\n http-check send hdr X-A b", "OPTIONS / HTTP/1.0\r\nx-a: b\r\n\r\n"},
		{"option httpchk POST /a HTTP/1.1\n http-check send meth PUT body \"hello\"", "PUT /a HTTP/1.1\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"},
		{"option httpchk\n http-check send meth GET uri /x ver HTTP/1.1 hdr Host foo hdr Connection x body \"abc\"", "GET /x HTTP/1.1\r\nhost: foo\r\nconnection: x\r\ncontent-length: 3\r\n\r\nabc"},
		{"option httpchk\n http-check send meth GET uri /x ver HTTP/1.1 hdr Content-Length 99 body \"abc\"", "GET /x HTTP/1.1\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc"},
		{`option httpchk GET /x HTTP/1.1\r\nConnection:\ keep-alive`, "GET /x HTTP/1.1\r\n\r\n"},
		{"option httpchk GET /x HTTP/2", "GET /x HTTP/1.1\r\n\r\n"},
		{"option httpchk GET /x http/1.1", "GET /x HTTP/1.1\r\nconnection: close\r\n\r\n"},
		{"option httpchk GET /x HTTP/1.0\n http-check send hdr Connection keep-alive", "GET /x HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"},
	}
	for _, tc := range cases {
		res, err := compileString(t, checkHead+"backend b\n "+tc.lines+"\n server s 127.0.0.1:80 check\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.lines, err)
		}
		hc := res.Graph.Backends[0].Check
		if hc == nil || hc.Kind != rules.CheckHTTP || string(hc.Request) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.lines, hc.Request, tc.want)
		}
	}
}

func TestCheckRules(t *testing.T) {
	res, err := compileString(t, checkHead+` option httpchk GET /d
 http-check expect status 200
backend a
 http-check expect ! rstatus ^5
 http-check expect string ok comment "body"
 server s 127.0.0.1:80 check
backend b
 server s 127.0.0.1:80 check
backend c
 option tcp-check
 tcp-check comment hello
 tcp-check connect port 6379
 tcp-check send PING\r\n
 tcp-check send-binary 0a0b
 tcp-check expect ! string -ERR
 tcp-check expect binary 2b50
 server s 127.0.0.1:80 check
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := res.Graph.Backends[0].Check, res.Graph.Backends[1].Check, res.Graph.Backends[2].Check
	if len(a.Expect) != 2 || !a.Expect[0].Inverse || a.Expect[0].Kind != rules.ExpectRStatus || !a.NeedBody || a.Expect[1].Comment != "body" {
		t.Errorf("a: own rules replace the inherited ones: %+v", a.Expect)
	}
	if len(b.Expect) != 1 || !b.Expect[0].MatchStatus(200) || b.Expect[0].MatchStatus(201) || string(b.Request) != "GET /d HTTP/1.0\r\n\r\n" {
		t.Errorf("b inherits: %+v %q", b.Expect, b.Request)
	}
	if c.Kind != rules.CheckTCPRules || len(c.Steps) != 6 || c.Steps[1].Port != 6379 ||
		string(c.Steps[2].Data) != "PING\r\n" || string(c.Steps[3].Data) != "\n\v" || string(c.Steps[5].Expect.Data) != "+P" {
		t.Errorf("c: %+v", c.Steps)
	}
	st := &rules.CheckExpect{Kind: rules.ExpectStatus}
	st.Status, _ = parseStatusRanges("200-299,404")
	for code, want := range map[int]bool{200: true, 299: true, 300: false, 404: true} {
		if st.MatchStatus(code) != want {
			t.Errorf("status %d: %v", code, !want)
		}
	}
}

func TestCheckWarningsAndErrors(t *testing.T) {
	res, err := compileString(t, checkHead+`backend b
 option tcp-check
 http-check expect string x
 server s 127.0.0.1:80 check
backend c
 tcp-check expect string x
 server s 127.0.0.1:80 check
`)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, w := range res.Warnings {
		msgs = append(msgs, w.Msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"backend 'b' uses http-check rules without 'option httpchk', so the rules are ignored.",
		"backend 'c' uses tcp-check rules without 'option tcp-check', so the rules are ignored.",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing warning %q in:\n%s", want, all)
		}
	}
	for src, want := range map[string]string{
		"no option httpchk":     "negation/default is not supported for option 'httpchk'",
		"http-check send-state": "'http-check send-state' is not supported",
		"http-check expect status 200\n http-check send meth GET": "unable to add http-check send rule after an expect rule",
		"http-check expect hdr name x":                            "'http-check expect hdr' is not supported",
		"http-check expect rstatus (":                             "invalid pattern '('",
		"tcp-check connect via-socks4":                            "'tcp-check connect via-socks4' is not supported",
		"http-check send meth GET\n http-check connect ssl":       "one connect rule, before any send or expect rule",
		"http-check connect port x":                               "'http-check connect port'",
		"tcp-check send-lf x":                                     "'tcp-check send-lf' is not supported",
		"tcp-check expect binary zz":                              "invalid pattern 'zz'",
		"tcp-check send x\n tcp-check connect":                    "first step MUST also be a 'connect'",
		"option httpchk a b c d":                                  "expects at most 3 arguments",
	} {
		_, err := compileString(t, checkHead+"backend b\n "+src+"\n server s 127.0.0.1:80 check\n")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", src, err, want)
		}
	}
}

// TestMysqlCheckPacket compares the login gohap sends with the bytes
// captured from haproxy 2.6 for "option mysql-check user root".
func TestMysqlCheckPacket(t *testing.T) {
	res := mustCompile(t, "backend b\n    option mysql-check user root\n    server s 127.0.0.1:3306 check\n", Config{})
	steps := res.Graph.Backends[0].Check.Steps
	const captured = "260000010082000000800001210000000000000000000000000000000000000000000000726f6f7400000100000001"
	if len(steps) != 3 || hex.EncodeToString(steps[1].Data) != captured {
		t.Fatalf("steps %d, login %x\nwant %s", len(steps), steps[1].Data, captured)
	}
}

func TestNbthread(t *testing.T) {
	res, err := compileString(t, "global\n    nbthread 3\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Graph.Global.NbThread; got != 3 {
		t.Errorf("nbthread 3 compiled to %d", got)
	}
	for _, bad := range []string{"0", "65", "two"} {
		if _, err := compileString(t, "global\n    nbthread "+bad+"\n"); err == nil || !strings.Contains(err.Error(), "nbthread") {
			t.Errorf("nbthread %s: error %v, want one naming nbthread", bad, err)
		}
	}
}

func TestHardStopAfter(t *testing.T) {
	res, err := compileString(t, "global\n    hard-stop-after 30s\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Graph.Global.HardStopAfter; got != 30*time.Second {
		t.Errorf("hard-stop-after 30s compiled to %v", got)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	for _, bad := range []string{"soon", "-1s", "1 2"} {
		if _, err := compileString(t, "global\n    hard-stop-after "+bad+"\n"); err == nil || !strings.Contains(err.Error(), "hard-stop-after") {
			t.Errorf("hard-stop-after %s: error %v, want one naming hard-stop-after", bad, err)
		}
	}
}

func TestNoMemoryTrimming(t *testing.T) {
	for src, want := range map[string]bool{"global\n    no-memory-trimming\n": true, "global\n    maxconn 10\n": false} {
		res, err := compileString(t, src)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Graph.Global.NoMemoryTrimming; got != want {
			t.Errorf("%q: NoMemoryTrimming %v, want %v", src, got, want)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("%q: warnings %v", src, res.Warnings)
		}
	}
	if _, err := compileString(t, "global\n    no-memory-trimming now\n"); err == nil || !strings.Contains(err.Error(), "no-memory-trimming") {
		t.Errorf("no-memory-trimming with an argument: error %v, want one naming it", err)
	}
}

// TestTCPKeepAliveOptions: clitcpka needs a frontend and srvtcpka a
// backend, or they are ignored with haproxy's warning; tcpka sets the
// side the section has.
func TestTCPKeepAliveOptions(t *testing.T) {
	res, err := compileString(t, `defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend f
    bind 127.0.0.1:8999
    option srvtcpka
    option tcpka
    default_backend b
backend b
    option clitcpka
    server s 127.0.0.1:1
listen l
    bind 127.0.0.1:8998
    option clitcpka
    option srvtcpka
    server s 127.0.0.1:1
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"'srvtcpka' ignored because frontend 'f' has no backend capability",
		"'clitcpka' ignored because backend 'b' has no frontend capability",
	}
	got := fmt.Sprint(res.Warnings)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("warnings %q lack %q", got, w)
		}
	}
	if len(res.Warnings) != len(want) {
		t.Errorf("warnings %q, want %d", res.Warnings, len(want))
	}
	for _, fe := range res.Graph.Frontends {
		if !fe.Options.ClientTCPKA {
			t.Errorf("frontend %s: no client keep-alive", fe.Name)
		}
	}
	for _, be := range res.Graph.Backends {
		if be.Options.ServerTCPKA != (be.Name == "l") {
			t.Errorf("backend %s: server keep-alive %v", be.Name, be.Options.ServerTCPKA)
		}
		if be.Name == "b" && be.Options.ClientTCPKA {
			t.Errorf("backend b: the ignored clitcpka was set")
		}
	}
}
