package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"gohap/parser"
)

// compileString parses and compiles a configuration text.
func compileString(src string) (*parser.Result, error) {
	p, err := parser.ParseFile("t.cfg", src, parser.Options{})
	if err != nil {
		return nil, err
	}
	return parser.Compile([]*parser.Parsed{p}, parser.Config{})
}

// startConfig compiles src and starts an engine on it.
func startConfig(t *testing.T, src string) *Engine {
	t.Helper()
	res, err := compileString(src)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Graph: res.Graph})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func statsGet(t *testing.T, addr, target, auth string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	if auth != "" {
		req += "Authorization: Basic " + auth + "\r\n"
	}
	fmt.Fprint(c, req+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestStatsPage(t *testing.T) {
	e := startConfig(t, testDefaults+`listen admin
    bind 127.0.0.1:0
    stats enable
    stats uri /stats
    stats auth admin:pw
    stats refresh 5s
frontend www
    bind 127.0.0.1:0
    stats enable
    default_backend app
backend app
    server s1 127.0.0.1:1 disabled
    server s2 127.0.0.1:2 backup
`)
	admin := e.Addrs("admin")[0].String()
	www := e.Addrs("www")[0].String()
	resp, _ := statsGet(t, admin, "/stats", "")
	if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != `Basic realm="HAProxy Statistics"` {
		t.Fatalf("no auth: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := statsGet(t, admin, "/stats;csv", "YWRtaW46cHc=") // admin:pw
	if resp.StatusCode != 200 || resp.Header.Get("Refresh") != "5" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	want := []string{"# pxname,svname,", "admin,FRONTEND,", "admin,BACKEND,", "www,FRONTEND,", "app,s1,", "app,s2,", "app,BACKEND,"}
	if len(lines) != len(want) {
		t.Fatalf("csv has %d lines:\n%s", len(lines), body)
	}
	fields := len(strings.Split(lines[0], ","))
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want prefix %q", i, lines[i], w)
		}
		if n := len(strings.Split(lines[i], ",")); n != fields {
			t.Errorf("line %d has %d fields, header %d", i, n, fields)
		}
	}
	for _, w := range []string{",MAINT,", ",no check,"} {
		if !strings.Contains(body, w) {
			t.Errorf("csv lacks %q:\n%s", w, body)
		}
	}
	// A frontend with stats enable and no uri serves the default one.
	resp, body = statsGet(t, www, "/haproxy?stats", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h2>app</h2>") {
		t.Fatalf("html: %d %q", resp.StatusCode, body)
	}
	// Other paths go to the backend (here: no usable server, 503).
	if resp, _ := statsGet(t, www, "/other", ""); resp.StatusCode != 503 {
		t.Errorf("/other: %d", resp.StatusCode)
	}
}
