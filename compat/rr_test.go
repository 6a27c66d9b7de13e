package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gohap/runtime/api"
	"gohap/runtime/rules"
)

// rrCase is one backend of TestRoundRobinOrder: its lines (servers at
// ${S1}..${S5}, raw servers answering with their name).
type rrCase struct {
	name    string
	backend string
	// script, when set, replaces the default requests: a number N sends
	// N requests on new connections; other steps are runtime API
	// commands on backend "be".
	script []string
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
	{name: "weights 3 1 2", backend: rrServers("weight 3", "weight 1", "weight 2")},
	{name: "weights 1 2 3", backend: rrServers("weight 1", "weight 2", "weight 3")},
	{name: "weights 5 1", backend: rrServers("weight 5", "weight 1")},
	{name: "weights 10 7 3", backend: rrServers("weight 10", "weight 7", "weight 3")},
	{name: "equal weights", backend: rrServers("", "", "", "", "")},
	{name: "equal and heavy", backend: rrServers("weight 2", "", "weight 2", "", "weight 3")},
	{name: "ids", backend: rrServers("id 9 weight 2", "id 1", "id 4 weight 2", "id 2")},
	{name: "down and weight 0", backend: rrServers("weight 3", "disabled weight 5", "weight 0", "weight 2")},
	{name: "first backup", backend: rrServers("disabled", "backup weight 3", "backup")},
	{name: "allbackups", backend: "option allbackups" + rrServers("disabled", "backup weight 3", "backup", "backup weight 2")},
	{name: "set weight", backend: rrServers("weight 3", "weight 1", "weight 2"),
		script: []string{"7", "set weight be/s2 4", "20", "set weight be/s1 1", "30", "set weight be/s3 9", "50"}},
	{name: "down and up", backend: rrServers("weight 3", "weight 1", "weight 2", ""),
		script: []string{"5", "disable server be/s1", "11", "enable server be/s1", "30", "disable server be/s3", "disable server be/s4", "9", "enable server be/s4", "40"}},
	{name: "backups take over", backend: "option allbackups" + rrServers("weight 2", "backup weight 3", "backup"),
		script: []string{"4", "disable server be/s1", "7", "disable server be/s3", "5", "enable server be/s3", "12", "enable server be/s1", "10"}},
	{name: "weight 0 and back", backend: rrServers("weight 2", "weight 5", "weight 1"),
		script: []string{"9", "set weight be/s2 0", "6", "set weight be/s2 5", "40"}},
	{name: "static-rr 3 1 2", backend: "balance static-rr" + rrServers("weight 3", "weight 1", "weight 2")},
	{name: "static-rr 10 7 3", backend: "balance static-rr" + rrServers("weight 10", "weight 7", "weight 3")},
	{name: "static-rr ids and down", backend: "balance static-rr" + rrServers("id 9 weight 2", "disabled", "id 4 weight 5", "weight 0", "")},
	{name: "static-rr down and up", backend: "balance static-rr" + rrServers("weight 3", "weight 1", "weight 2", ""),
		script: []string{"5", "disable server be/s1", "11", "enable server be/s1", "30", "disable server be/s3", "disable server be/s4", "9", "enable server be/s4", "40"}},
	{name: "static-rr backups", backend: "balance static-rr" + rrServers("weight 2", "backup weight 3", "backup"),
		script: []string{"4", "disable server be/s1", "7", "enable server be/s1", "10"}},
	// s1 leaves and comes back between two picks: haproxy requeues it.
	{name: "out and back between picks", backend: rrServers("", "weight 2", ""),
		script: []string{"4", "set server be/s2 state drain", "3", "set server be/s2 state maint", "set server be/s1 state maint",
			"set server be/s1 state ready", "set server be/s2 state ready", "12", "disable server be/s3", "enable server be/s3", "10"}},
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
	apiPort := strconv.Itoa(freePort(t))
	env := serverEnv(t)
	cfg := fmt.Sprintf(`
global
    stats socket ipv4@127.0.0.1:%s level admin
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
`, apiPort, c.backend)
	tc := &testCase{file: "rr.txt", config: cfg}
	var addr string
	if bin == "" {
		addr = startGohapAPI(t, tc, env, "127.0.0.1:"+apiPort)
	} else {
		addr = startHAProxy(t, bin, tc, env)
	}
	if c.script == nil {
		var out []string
		for range 60 {
			out = append(out, rrRequests(t, addr, 1)...)
		}
		return append(out, rrRequests(t, addr, 60)...)
	}
	return runRRScript(t, c.script, addr, "127.0.0.1:"+apiPort)
}

// startGohapAPI starts tc in gohap with its runtime API on TCP address
// api, and returns the frontend address.
func startGohapAPI(t *testing.T, tc *testCase, env map[string]string, addr string) string {
	fe, eng := startGohapEngine(t, tc, env)
	srv := api.New(api.Config{Engine: eng})
	t.Cleanup(func() { srv.Close() })
	sock := rules.StatsSocket{Network: "tcp", Addr: addr, UID: -1, GID: -1, Level: rules.LevelAdmin}
	if err := srv.Apply(rules.Global{StatsSockets: []rules.StatsSocket{sock}}); err != nil {
		t.Fatal(err)
	}
	return fe
}

// runRRScript runs script's requests and commands, and returns the
// servers that answered the requests.
func runRRScript(t *testing.T, script []string, addr, apiAddr string) []string {
	var out []string
	for _, step := range script {
		n, err := strconv.Atoi(step)
		if err != nil {
			out = append(out, "["+step+": "+apiCommand(t, apiAddr, step)+"]")
			continue
		}
		for range n {
			out = append(out, rrRequests(t, addr, 1)...)
		}
	}
	return out
}

// apiCommand sends cmd to the runtime API at addr and returns its
// answer, trimmed.
func apiCommand(t *testing.T, addr, cmd string) string {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	// On a loaded machine haproxy's API was once refused while its
	// frontend already answered: give it a moment.
	for end := time.Now().Add(2 * time.Second); err != nil && errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		conn, err = net.DialTimeout("tcp", addr, dialTimeout)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(readTimeout))
	io.WriteString(conn, cmd+"\n")
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
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
