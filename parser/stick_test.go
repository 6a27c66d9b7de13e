package parser

import (
	"net/netip"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// stickSite limits each client to 5 requests a second: corpus 021's
// pattern, with the ACL written before the table and a second table
// further down named by track-sc1.
const stickSite = `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend www
    bind :80
    acl too_fast sc_http_req_rate(0) gt 5
    acl src_fast src_http_req_rate() gt 5
    stick-table type ip size 1k expire 1m store http_req_rate(10s),http_req_cnt,conn_cur,gpc0
    http-request track-sc0 src
    http-request track-sc1 path table paths
    http-request sc-inc-gpc0(0) if { path /mark }
    http-request deny deny_status 429 if too_fast
    http-request deny deny_status 430 if src_fast
    http-request return status 200 content-type text/plain lf-string "%[sc0_http_req_cnt] %[sc1_http_req_cnt] %[sc_conn_cur(0)] %[src_get_gpc0] %[table_cnt(paths)]"
backend paths
    stick-table type string len 4 size 10 store http_req_cnt
`

// stickRequest runs the frontend's rules for one request from src, as the
// runtime does, and returns the reply's status and body.
func stickRequest(fe *rules.Frontend, src, path string) (int, string) {
	tx := newTxn("GET", path, nil, fakeState{})
	tx.Src = netip.MustParseAddrPort(src)
	defer tx.Track.End()
	tx.Track.CountRequest()
	if rules.Run(fe.HTTPRequest, tx) != rules.Answer {
		return 0, ""
	}
	raw := string(tx.Reply.Raw)
	return tx.Reply.Status, raw[strings.Index(raw, "\r\n\r\n")+4:]
}

func TestStickRateLimit(t *testing.T) {
	res := mustCompile(t, stickSite, Config{})
	fe := res.Graph.Frontends[0]
	if len(res.Graph.Tables) != 2 {
		t.Fatalf("%d tables, want 2", len(res.Graph.Tables))
	}
	// Each request counts once, at track-sc0; the path table cuts keys to
	// 4 bytes, so /abc1 and /abc2 share an entry.
	for i, want := range []string{"1 1 1 0 1", "2 2 1 0 1", "3 1 1 0 2", "4 1 1 1 3", "5 2 1 2 3"} {
		path := []string{"/abc1", "/abc2", "/x", "/mark", "/mark"}[i]
		status, body := stickRequest(fe, "10.0.0.1:1000", path)
		if status != 200 || body != want {
			t.Errorf("request %d (%s): %d %q, want 200 %q", i+1, path, status, body, want)
		}
	}
	// The sixth within the period is over the limit.
	if status, _ := stickRequest(fe, "10.0.0.1:1000", "/"); status != 429 {
		t.Errorf("sixth request: %d, want 429", status)
	}
	// Another client has its own entry.
	if status, body := stickRequest(fe, "10.0.0.2:1000", "/x"); status != 200 || body != "1 2 1 0 4" {
		t.Errorf("other client: %d %q", status, body)
	}
}

func TestStickTrackAllocs(t *testing.T) {
	res := mustCompile(t, stickSite, Config{})
	fe := res.Graph.Frontends[0]
	tx := newTxn("GET", "/abc1", nil, fakeState{})
	tx.Src = netip.MustParseAddrPort("10.0.0.1:1000")
	fe.HTTPRequest = fe.HTTPRequest[:4] // the tracking and counting, no reply
	run := func() {
		tx.Track.CountRequest()
		rules.Run(fe.HTTPRequest, tx)
		tx.Track.EndRequest()
	}
	run() // the entries are created once
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per tracked request", n)
	}
}

// BenchmarkStickTrack is one request on a stick table in steady state:
// the counting, two track-sc rules, the rate-limit checks and the end of
// the request.
func BenchmarkStickTrack(b *testing.B) {
	res := mustCompile(b, stickSite, Config{})
	fe := res.Graph.Frontends[0]
	fe.HTTPRequest = fe.HTTPRequest[:5]
	tx := newTxn("GET", "/abc1", nil, fakeState{})
	tx.Src = netip.MustParseAddrPort("10.0.0.1:1000")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tx.Track.CountRequest()
		rules.Run(fe.HTTPRequest, tx)
		tx.Track.EndRequest()
	}
}

func TestStickTableConfig(t *testing.T) {
	res := mustCompile(t, `
frontend f
    mode tcp
    bind :80
    stick-table type string len 64 size 2m expire 30s nopurge store conn_cur store conn_rate(60s),gpc0_rate(1m)
    tcp-request connection track-sc2 src
    tcp-request session track-sc1 src
    tcp-request content track-sc0 req.len
`, Config{})
	tb := res.Graph.Tables[0]
	if tb.Name != "f" || tb.Type != rules.KeyString || tb.KeyLen != 64 || tb.Size != 2<<20 ||
		tb.Expire.Seconds() != 30 || !tb.NoPurge {
		t.Errorf("table %+v", tb)
	}
	for d, p := range map[rules.DataType]int64{rules.DataConnCur: 0, rules.DataConnRate: 60000, rules.DataGPC0Rate: 60000} {
		if !tb.Store[d] || tb.Period[d] != p {
			t.Errorf("%s: stored %v, period %d", d, tb.Store[d], tb.Period[d])
		}
	}
	fe := res.Graph.Frontends[0]
	if len(fe.TCPConnection) != 1 || len(fe.TCPSession) != 1 || len(fe.TCPContent) != 1 {
		t.Errorf("rules: %d connection, %d session, %d content", len(fe.TCPConnection), len(fe.TCPSession), len(fe.TCPContent))
	}
}

func TestStickPeersWarning(t *testing.T) {
	res := mustCompile(t, "frontend f\n mode tcp\n bind :80\n stick-table type ip size 10 peers mypeers\n", Config{})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Msg, "peers") {
		t.Errorf("warnings %v", res.Warnings)
	}
}

// TestStickBytesConfig: the byte counts and rates are stored, and their
// fetches compile: counts in kilobytes, rates in bytes.
func TestStickBytesConfig(t *testing.T) {
	res := mustCompile(t, `
frontend f
    bind :80
    stick-table type ip size 10 store bytes_in_cnt,bytes_out_cnt,bytes_in_rate(10s),bytes_out_rate(1m)
    http-request track-sc1 src
    http-request deny if { sc1_kbytes_in gt 1 } || { sc_kbytes_out(1,f) gt 1 } || { src_kbytes_in gt 1 } || { src_kbytes_out(f) gt 1 }
    http-request deny if { sc1_bytes_in_rate gt 1 } || { sc_bytes_out_rate(1) gt 1 } || { src_bytes_in_rate gt 1 } || { src_bytes_out_rate gt 1 }
`, Config{})
	tb := res.Graph.Tables[0]
	for d, p := range map[rules.DataType]int64{rules.DataBytesInCnt: 0, rules.DataBytesOutCnt: 0, rules.DataBytesInRate: 10000, rules.DataBytesOutRate: 60000} {
		if !tb.Store[d] || tb.Period[d] != p {
			t.Errorf("%s: stored %v, period %d", d, tb.Store[d], tb.Period[d])
		}
	}
}
