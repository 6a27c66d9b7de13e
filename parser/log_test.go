package parser

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// TestLogTargets checks the targets of global and proxy "log" lines,
// "log global", "no log" and the inheritance from defaults.
func TestLogTargets(t *testing.T) {
	res, err := compileString(t, `global
    log 127.0.0.1:5514 local0
    log /dev/log len 2048 format rfc5424 local1 notice err
defaults d
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    log global
    option httplog
frontend inherits from d
    bind :80
frontend nolog from d
    bind :81
    no log
frontend own from d
    bind :82
    no log
    log stdout format raw daemon
    log udp@[::1]:600 user debug
    log logs.example local7
    option tcplog
`)
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	want := []rules.LogTarget{
		{Network: "udp", Addr: "127.0.0.1:5514", MaxLen: 1024, Facility: 16, Level: 7},
		{Network: "unixgram", Addr: "/dev/log", Framing: rules.FramingRFC5424, MaxLen: 2048, Facility: 17, Level: 5, MinLevel: 3},
	}
	checkTargets(t, "global", g.Global.Logs, want)
	inh := g.Frontends[0].Log
	if inh == nil {
		t.Fatal("frontend inherits: no log")
	}
	checkTargets(t, "inherits", inh.Targets, want)
	if g.Frontends[1].Log != nil {
		t.Errorf("frontend nolog logs to %v", g.Frontends[1].Log.Targets)
	}
	checkTargets(t, "own", g.Frontends[2].Log.Targets, []rules.LogTarget{
		{Network: "fd", Addr: "stdout", Framing: rules.FramingRaw, MaxLen: 1024, Facility: 3, Level: 7},
		{Network: "udp", Addr: "[::1]:600", MaxLen: 1024, Facility: 1, Level: 7},
		{Network: "udp", Addr: "logs.example:514", MaxLen: 1024, Facility: 23, Level: 7},
	})
}

func checkTargets(t *testing.T, name string, got, want []rules.LogTarget) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d targets, want %d: %+v", name, len(got), len(want), got)
	}
	for i := range got {
		g := got[i]
		g.Pos = ""
		if g != want[i] {
			t.Errorf("%s: target %d = %+v, want %+v", name, i, g, want[i])
		}
	}
}

// TestLogFormats checks which format each option gives, as a traffic
// log line prints it for a request that failed early.
func TestLogFormats(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{"option httplog", `-:- [` + "DATE" + `] f f/<NOSRV> -1/-1/-1/-1/-1 -1 0 - - ---- 0/0/0/0/0 0/0 "<BADREQ>"`},
		{"option tcplog", `-:- [DATE] f f/<NOSRV> -1/-1/-1 0 -- 0/0/0/0/0 0/0`},
		{"option httplog\n option tcplog", `-:- [DATE] f f/<NOSRV> -1/-1/-1 0 -- 0/0/0/0/0 0/0`},
		// haproxy 2.6.12: 127.0.0.1 - - [24/Nov/2026:05:59:37 +0000] "<BADREQ>" 400 0 "" "" 48888 547 "fe" "fe" "<NOSRV>" -1 -1 -1 -1 0 PR-- 1 1 0 0 0 0 0 "" ""
		{"option httplog clf", `- - - [DATE] "<BADREQ>" -1 0 "" "" "" 842 "f" "f" "<NOSRV>" -1 -1 -1 -1 -1 ---- 0 0 0 0 0 0 0 "" "" `},
		{"option httpslog", `-:- [DATE] f f/<NOSRV> -1/-1/-1/-1/-1 -1 0 - - ---- 0/0/0/0/0 0/0 "<BADREQ>" 0/-/-/-/0 -/-/-`},
		{`log-format "%{+Q}b %[src] %rc%%"`, `"f" - 0%`},
		{"", `-:- [DATE] f f/<NOSRV> -1/-1/-1 0 -- 0/0/0/0/0 0/0`},
	} {
		res, err := compileString(t, uidHead+"frontend f\n bind :80\n log stderr local0\n "+tc.opts+"\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.opts, err)
		}
		lg := res.Graph.Frontends[0].Log
		var tx rules.Txn
		tx.Log.Reset(time.Date(2026, 11, 24, 5, 59, 36, 842e6, time.UTC))
		tx.Log.Frontend = "f"
		tx.Log.BadReq = true
		got := string(lg.Format.Append(&tx, nil))
		got = dateRE.ReplaceAllString(got, "DATE")
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.opts, got, tc.want)
		}
	}
}

// TestLogWarnings checks the warning of option httplog in mode tcp.
func TestLogWarnings(t *testing.T) {
	res, err := compileString(t, "frontend f\n mode tcp\n bind :80\n log stderr local0\n option httplog\n timeout client 1s\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Msg, "'option httplog' not usable with frontend 'f' (needs 'mode http'). Falling back to 'option tcplog'.") {
		t.Fatalf("warnings %v", res.Warnings)
	}
}

var dateRE = regexp.MustCompile(`\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d(\.\d{3}| [+-]\d{4})`)
