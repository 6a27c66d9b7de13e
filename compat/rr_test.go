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
	"testing"
	"time"
)

// rrCase is one backend of TestRoundRobinOrder: its lines (servers at
// ${S1}..${S5}, raw servers answering with their name).
type rrCase struct {
	name    string
	backend string
}

// rrServers returns server lines for s1, s2... with the given options.
func rrServers(opts ...string) string {
	var b strings.Builder
	for i, o := range opts {
		fmt.Fprintf(&b, "\n    server s%d \"${S%d}\" %s", i+1, i+1, o)
	}
	return b.String()
}

var rrCases = []rrCase{
	{"weights 3 1 2", rrServers("weight 3", "weight 1", "weight 2")},
	{"weights 1 2 3", rrServers("weight 1", "weight 2", "weight 3")},
	{"weights 5 1", rrServers("weight 5", "weight 1")},
	{"weights 10 7 3", rrServers("weight 10", "weight 7", "weight 3")},
	{"equal weights", rrServers("", "", "", "", "")},
	{"equal and heavy", rrServers("weight 2", "", "weight 2", "", "weight 3")},
	{"ids", rrServers("id 9 weight 2", "id 1", "id 4 weight 2", "id 2")},
	{"down and weight 0", rrServers("weight 3", "disabled weight 5", "weight 0", "weight 2")},
	{"first backup", rrServers("disabled", "backup weight 3", "backup")},
	{"allbackups", "option allbackups" + rrServers("disabled", "backup weight 3", "backup", "backup weight 2")},
}

// TestRoundRobinOrder sends requests through a roundrobin backend in
// gohap and, when it is installed, haproxy: 60 on new connections, then
// 60 on one keep-alive connection. The servers must come in haproxy's
// order.
func TestRoundRobinOrder(t *testing.T) {
	haproxy, _ := exec.LookPath("haproxy")
	for _, c := range rrCases {
		t.Run(c.name, func(t *testing.T) {
			got := runRRCase(t, c, "")
			t.Logf("gohap: %s", strings.Join(got, " "))
			if haproxy == "" {
				t.Skip("haproxy not installed: not compared")
			}
			want := runRRCase(t, c, haproxy)
			if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
				t.Errorf("order differs\ngohap:   %s\nhaproxy: %s", g, w)
			}
		})
	}
}

// runRRCase runs c through gohap (bin "") or haproxy and returns the
// servers that answered, in order.
func runRRCase(t *testing.T, c rrCase, bin string) []string {
	env := map[string]string{"FE_PORT": strconv.Itoa(freePort(t))}
	for i := 1; i <= 5; i++ {
		env["S"+strconv.Itoa(i)] = "127.0.0.1:" + strconv.Itoa(startBackend(t, "s"+strconv.Itoa(i)).port())
	}
	cfg := fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    default_backend be
backend be
    balance roundrobin
    %s
`, c.backend)
	addr := startProxy(t, bin, &testCase{file: "rr.txt", config: cfg}, env)
	var out []string
	for range 60 {
		out = append(out, rrRequests(t, addr, 1)...)
	}
	return append(out, rrRequests(t, addr, 60)...)
}

// rrRequests sends n requests on one connection to addr and returns the
// servers that answered.
func rrRequests(t *testing.T, addr string, n int) []string {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	out := make([]string, n)
	for i := range out {
		conn.SetDeadline(time.Now().Add(readTimeout))
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out[i] = resp.Header.Get("X-Backend")
	}
	return out
}
