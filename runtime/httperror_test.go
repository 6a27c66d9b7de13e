package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// TestHTTPErrorPages checks pages set by http-error: built per request
// from a log-format, a backend's before the frontend's, and the HTTP/1
// layer's stored 400 for a malformed request whatever errorfile or
// http-error says, as haproxy 2.6 sends it.
func TestHTTPErrorPages(t *testing.T) {
	file := filepath.Join(t.TempDir(), "400.http")
	if err := os.WriteFile(file, []byte("HTTP/1.0 400 Mine\r\nContent-Type: text/plain\r\n\r\nmine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startConfig(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    errorfile 400 %s
    http-error status 503 content-type text/plain lf-string "down at %%[path]" hdr X-Path "%%[path]"
    use_backend be if { path_beg /be }
backend be
    http-error status 503 content-type text/plain string "backend page"
`, file))
	addr := e.Addrs("fe")[0].String()
	for path, want := range map[string]string{
		"/a":  "HTTP/1.1 503 Service Unavailable\r\nx-path: /a\r\ncontent-length: 10\r\ncontent-type: text/plain\r\n\r\ndown at /a",
		"/bc": "HTTP/1.1 503 Service Unavailable\r\nx-path: /bc\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n\r\ndown at /bc",
		"/be": "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 12\r\ncontent-type: text/plain\r\n\r\nbackend page",
	} {
		c := dial(t, addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		head, _, body := c.response("GET")
		if got := head + body; got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nBad header\r\n\r\n")
	head, _, body := c.response("GET")
	if !strings.HasPrefix(head, "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\n") || strings.Contains(body, "mine") {
		t.Errorf("malformed request: got %q %q, want haproxy's stored page", head, body)
	}
}

// TestReplyFormatAllocs keeps a reply built per request free of
// allocations.
func TestReplyFormatAllocs(t *testing.T) {
	want := "HTTP/1.1 503 Service Unavailable\r\nx-path: /x\r\ncontent-length: 8\r\ncontent-type: text/plain\r\n\r\ndown /x\n"
	l := startLoopback(t, benchResp, func(g *graph, addr string) {
		g.backend("web", addr)
		f, _ := rules.LookupFetch("path")
		fr, err := rules.NewFetch(f, nil, testResolver{g.g})
		if err != nil {
			t.Fatal(err)
		}
		var body, hdr rules.FormatBuilder
		body.Lit("down ")
		body.Sample(fr)
		body.Lit("\n")
		hdr.Sample(fr)
		reply := rules.NewReply(rules.ReplySpec{Status: 503, ContentType: "text/plain", Body: body.Format(),
			Headers: []rules.ReplyHeader{{Name: "x-path", Value: hdr.Format()}}})
		g.fe.HTTPRequest = []rules.Rule{{Action: rules.ReplyAction{Reply: reply}}}
	}, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", want)
	if n := testing.AllocsPerRun(300, func() { l.do(t) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}
