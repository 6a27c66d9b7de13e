package compat

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// retryCase is one request of TestRetryOn: a backend section (servers
// s1 at ${S1}, s2 at ${S2}, a refusing d at ${DEAD}), what each server
// does with the requests it gets in turn, and what the client must get.
type retryCase struct {
	name    string
	backend string
	s1, s2  string // comma-separated actions: ok, 503 (any status), close, junk, partial, hang
	req     string // METHOD PATH [BODY]
	chunked bool   // send the body chunked
	status  int
	log     string // "s1:503 s1:ok": the servers' requests and actions, in order
}

var retryCases = []retryCase{
	{name: "status", backend: "retry-on 503", s1: "503,ok", req: "GET /a", status: 200, log: "s1:503 s1:ok"},
	{name: "post body", backend: "retry-on 503", s1: "503,ok", req: "POST /p hello", status: 200, log: "s1:503 s1:ok"},
	{name: "chunked body", backend: "retry-on 503", s1: "503,ok", req: "POST /p hello", chunked: true, status: 200, log: "s1:503 s1:ok"},
	{name: "too large", backend: "retry-on 503", s1: "503,ok", req: "PUT /big " + strings.Repeat("x", 15300), status: 503, log: "s1:503"},
	{name: "exhausted", backend: "retry-on 503\n    retries 2", s1: "503,503,503,503", req: "GET /a", status: 503, log: "s1:503 s1:503 s1:503"},
	{name: "not listed", backend: "retry-on 502", s1: "503,ok", req: "GET /a", status: 503, log: "s1:503"},
	{name: "redispatch", backend: "retry-on 503\n    option redispatch", s1: "503,ok", s2: "ok", req: "GET /a", status: 200, log: "s1:503 s2:ok"},
	{name: "empty response", backend: "retry-on all-retryable-errors\n    option redispatch", s1: "close", s2: "ok", req: "GET /a", status: 200, log: "s1:close s2:ok"},
	{name: "junk response", backend: "retry-on all-retryable-errors\n    option redispatch", s1: "junk", s2: "ok", req: "GET /a", status: 200, log: "s1:junk s2:ok"},
	{name: "partial head", backend: "retry-on empty-response", s1: "partial,ok", req: "GET /a", status: 200, log: "s1:partial s1:ok"},
	{name: "partial head is not junk", backend: "retry-on junk-response", s1: "partial,ok", req: "GET /a", status: 502, log: "s1:partial"},
	{name: "junk is not empty", backend: "retry-on empty-response", s1: "junk,ok", req: "GET /a", status: 502, log: "s1:junk"},
	{name: "empty not listed", backend: "retry-on junk-response", s1: "close,ok", req: "GET /a", status: 502, log: "s1:close"},
	{name: "response timeout", backend: "retry-on response-timeout", s1: "hang,500", req: "GET /a", status: 500, log: "s1:hang s1:500"},
	{name: "none", backend: "retry-on none\n    balance first\n    option redispatch\n    server d \"${DEAD}\"", s1: "ok", req: "GET /a", status: 503, log: ""},
	{name: "conn-failure redispatch", backend: "balance first\n    option redispatch\n    server d \"${DEAD}\"", s1: "ok", req: "GET /a", status: 200, log: "s1:ok"},
	{name: "404", backend: "retry-on 404\n    option redispatch\n    balance first", s1: "404", s2: "ok", req: "GET /a", status: 200, log: "s1:404 s2:ok"},
	{name: "no retries", backend: "retry-on 404\n    retries 0", s1: "404,ok", req: "GET /a", status: 404, log: "s1:404"},
}

// TestRetryOn runs each retry-on case through gohap and, when it is
// installed, haproxy, with fresh servers for each, and compares the
// answers and what the servers got.
func TestRetryOn(t *testing.T) {
	haproxy, _ := exec.LookPath("haproxy")
	for _, c := range retryCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := runRetryCase(t, c, "")
			if got.status != c.status || got.log != c.log {
				t.Errorf("gohap: %d, servers %q; want %d, %q\n%q", got.status, got.log, c.status, c.log, got.raw)
			}
			if haproxy == "" {
				t.Skip("haproxy not installed: not compared")
			}
			want := runRetryCase(t, c, haproxy)
			if want.status != got.status || want.log != got.log || want.raw != got.raw {
				t.Errorf("gohap differs from haproxy:\n  haproxy %d %q %q\n  gohap   %d %q %q", want.status, want.log, want.raw, got.status, got.log, got.raw)
			}
		})
	}
}

type retryResult struct {
	status int
	log    string
	raw    string
}

// runRetryCase runs c through gohap (bin "") or haproxy.
func runRetryCase(t *testing.T, c retryCase, bin string) retryResult {
	var mu sync.Mutex
	var log []string
	s1 := scriptedServer(t, "s1", c.s1, &mu, &log)
	s2 := scriptedServer(t, "s2", c.s2, &mu, &log)
	backend := c.backend
	if !strings.Contains(backend, "balance") {
		backend += "\n    balance roundrobin"
	}
	cfg := fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 300ms
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    default_backend be
backend be
    %s
    server s1 "${S1}"
    server s2 "${S2}"
`, backend)
	env := map[string]string{"S1": s1, "S2": s2, "DEAD": "127.0.0.1:" + strconv.Itoa(deadPort(t)), "FE_PORT": strconv.Itoa(freePort(t))}
	tc := &testCase{file: "retry.txt", config: cfg}
	addr := startProxy(t, bin, tc, env)
	method, rest, _ := strings.Cut(c.req, " ")
	path, body, _ := strings.Cut(rest, " ")
	req := method + " " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
	if c.chunked {
		req += fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	} else {
		req += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(readTimeout))
	io.WriteString(conn, req)
	raw, _ := io.ReadAll(conn)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), nil)
	if err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return retryResult{status: resp.StatusCode, log: strings.Join(log, " "), raw: string(raw)}
}

// scriptedServer is a backend whose requests, in turn, get the actions
// of script: a status ("503"; "ok" is 200), "close" (no answer), "junk"
// (not HTTP), "partial" (a cut head) or "hang" (no answer, until the
// proxy gives up). Each request is logged as "name:action"; a request
// whose body differs from the first one's is logged with "!body".
func scriptedServer(t *testing.T, name, script string, mu *sync.Mutex, log *[]string) string {
	acts := strings.Split(script, ",")
	next := 0
	var first []byte
	b := startBackendFunc(t, name, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			mu.Lock()
			act := "ok"
			if next < len(acts) && acts[next] != "" {
				act = acts[next]
			}
			next++
			entry := name + ":" + act
			if first == nil {
				first = body
			} else if string(body) != string(first) {
				entry += "!body"
			}
			*log = append(*log, entry)
			mu.Unlock()
			switch act {
			case "close":
				return
			case "junk":
				io.WriteString(c, "garbage\r\n\r\n")
				return
			case "partial":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nX-A: b")
				return
			case "hang":
				io.Copy(io.Discard, c) // until the proxy closes
				return
			}
			code := 200
			if act != "ok" {
				code, _ = strconv.Atoi(act)
			}
			text := name + " " + act
			fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s", code, len(text), text)
		}
	})
	return "127.0.0.1:" + strconv.Itoa(b.port())
}
