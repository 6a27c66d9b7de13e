package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// afterRespConfig has http-after-response rules in the frontend and the
// backends; %s are the server's address, then a junk server's and a
// silent server's.
const afterRespConfig = testDefaults + `frontend fe
    bind 127.0.0.1:0
    http-request set-var(txn.path) path
    http-request deny if { path /deny }
    http-request use-service prometheus-exporter if { path /metrics }
    http-response set-header x-order "%%[res.fhdr(x-order)]resp-fe;"
    http-after-response set-header x-order "%%[res.fhdr(x-order)]after-fe;"
    http-after-response replace-value cache-control ^public$ private
    http-after-response set-status 299 reason "Yes Indeed" if { var(txn.path) -m str /st }
    http-after-response set-header x-status "%%[status]"
    use_backend nosrv if { path /nosrv }
    use_backend junk if { path /junk }
    use_backend silent if { path /silent }
    default_backend app
backend app
    http-response set-header x-order "%%[res.fhdr(x-order)]resp-be;"
    http-after-response set-header x-order "%%[res.fhdr(x-order)]after-be;"
    server s1 %s
backend nosrv
    http-after-response add-header x-be nosrv
backend junk
    http-after-response add-header x-be junk
    server s1 %s
backend silent
    timeout server 200ms
    server s1 %s
`

// startAfterResp starts afterRespConfig and returns the frontend's
// address.
func startAfterResp(t *testing.T) string {
	t.Helper()
	app := newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=1, public\r\n\r\nok"
	})
	junk := newRawServer(t, func(string, []byte) string { return "!garbage\r\n\r\n" })
	silent := newRawServer(t, func(string, []byte) string {
		time.Sleep(time.Second)
		return ""
	})
	e := startConfig(t, fmt.Sprintf(afterRespConfig, app.addr(), junk.addr(), silent.addr()))
	return e.Addrs("fe")[0].String()
}

// TestHTTPAfterResponseProxied checks the rules on a server's response:
// after the http-response rules, the backend's before the frontend's.
func TestHTTPAfterResponseProxied(t *testing.T) {
	addr := startAfterResp(t)
	c := dial(t, addr)
	head, body := c.get("/a")
	want := "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncache-control: max-age=1,private\r\nx-order: resp-be;resp-fe;after-be;after-fe;\r\nx-status: 200\r\n\r\n"
	if head != want || body != "ok" {
		t.Errorf("proxied:\n got %q %q\nwant %q", head, body, want)
	}
	head, _ = c.get("/st")
	if !strings.HasPrefix(head, "HTTP/1.1 299 Yes Indeed\r\n") || !strings.Contains(head, "x-status: 299\r\n") {
		t.Errorf("set-status with a reason: %q", head)
	}
}

// TestHTTPAfterResponseGenerated checks the rules on the responses gohap
// builds itself, with haproxy's header order: the rules' headers after
// the page's, then the Connection header.
func TestHTTPAfterResponseGenerated(t *testing.T) {
	addr := startAfterResp(t)
	cases := []struct{ path, want string }{
		{"/deny", "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-order: after-fe;\r\nx-status: 403\r\n\r\n"},
		{"/nosrv", "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-be: nosrv\r\nx-order: after-fe;\r\nx-status: 503\r\n\r\n"},
		{"/junk", "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-be: junk\r\nx-order: after-fe;\r\nx-status: 502\r\n\r\n"},
		{"/silent", "HTTP/1.1 504 Gateway Time-out\r\ncontent-length: 92\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-order: after-fe;\r\nx-status: 504\r\n\r\n"},
	}
	for _, tc := range cases {
		c := dial(t, addr)
		head, body := c.get(tc.path)
		if head != tc.want || !strings.HasPrefix(body, "<html>") {
			t.Errorf("%s:\n got %q\nwant %q", tc.path, head, tc.want)
		}
	}
	// A service's response, then a built one on a closing HTTP/1.0
	// connection, and on a kept-alive one.
	c := dial(t, addr)
	head, _ := c.get("/metrics")
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(head, "x-order: after-fe;\r\nx-status: 200\r\n") {
		t.Errorf("service: %q", head)
	}
	c.send("GET /deny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	head, _, _ = c.response("GET")
	if !strings.HasSuffix(head, "x-status: 403\r\nconnection: keep-alive\r\n\r\n") {
		t.Errorf("keep-alive deny: %q", head)
	}
	c.send("HEAD /deny HTTP/1.1\r\nConnection: close\r\n\r\n")
	head, _, _ = c.response("HEAD")
	if !strings.HasSuffix(head, "x-status: 403\r\nconnection: close\r\n\r\n") || !c.closed(time.Second) {
		t.Errorf("HEAD deny with close: %q", head)
	}
}

// TestHTTPAfterResponseMuxError checks that the HTTP/1 layer's own pages
// skip the rules, as in haproxy: no stream exists yet.
func TestHTTPAfterResponseMuxError(t *testing.T) {
	c := dial(t, startAfterResp(t))
	c.send("GET / HTTP/1.1\r\nBad header\r\n\r\n")
	head, status, _ := c.response("GET")
	if status != 400 || strings.Contains(head, "x-order") {
		t.Errorf("bad request: %q", head)
	}
}

// TestAfterResponseAllocs keeps a proxied response and a deny free of
// allocations with http-after-response rules on both.
func TestAfterResponseAllocs(t *testing.T) {
	for _, host := range []string{"www", "blocked"} {
		want := "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-server: bench\r\nx-after: 1\r\n\r\nok"
		if host == "blocked" {
			want = "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-after: 1\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
		}
		l := startLoopback(t, benchResp, func(g *graph, addr string) {
			g.backend("web", addr)
			g.fe.HTTPRequest = []rules.Rule{{Cond: g.cond(t, "hdr", []string{"host"}, rules.MatchStr, "blocked"), Action: rules.ReplyAction{Reply: rules.DefaultReply(403)}}}
			g.fe.HTTPAfterResponse = []rules.Rule{{Action: &rules.HeaderAction{Op: rules.SetHeader, Name: []byte("x-after"), Value: rules.LiteralFormat("1"), Resp: true}}}
		}, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n", want)
		if n := testing.AllocsPerRun(300, func() { l.do(t) }); n != 0 {
			t.Errorf("host %s: %v allocations per request, want 0", host, n)
		}
	}
}
