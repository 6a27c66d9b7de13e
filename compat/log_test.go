package compat

import (
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logPaths are the requests of TestLogLines, one per kind of log line:
// proxied, denied, returned, redirected, refused by the server, and the
// monitor-uri that haproxy does not log.
var logPaths = []string{"/", "/deny", "/ret", "/redir", "/dead", "/alive", "/"}

// TestLogLines sends the same requests through gohap and haproxy with
// option httplog to a UDP syslog socket, and compares the lines with the
// values that differ by nature (dates, ports, pids, timer values) masked.
func TestLogLines(t *testing.T) {
	got := logLines(t, "")
	haproxy, _ := exec.LookPath("haproxy")
	if haproxy == "" {
		t.Skip("haproxy not installed: not compared")
	}
	want := logLines(t, haproxy)
	// Lines of different connections may come in any order.
	slices.Sort(got)
	slices.Sort(want)
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("log lines differ\ngohap:\n%s\nhaproxy:\n%s", g, w)
	}
}

// logLines runs the requests through gohap (bin "") or haproxy and
// returns the masked log lines, in the order received.
func logLines(t *testing.T, bin string) []string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	env := map[string]string{
		"FE_PORT":   strconv.Itoa(freePort(t)),
		"LOG_ADDR":  pc.LocalAddr().String(),
		"BE_PORT":   strconv.Itoa(startBackend(t, "be").port()),
		"DEAD_PORT": strconv.Itoa(deadPort(t)),
	}
	tc := &testCase{file: "log.txt", config: `
global
    log "${LOG_ADDR}" local0
defaults
    mode http
    log global
    option httplog
    # The harness's readiness probe sends nothing: not logged.
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    monitor-uri /alive
    http-request deny if { path /deny }
    http-request return status 200 content-type text/plain string ok if { path /ret }
    http-request redirect location /x if { path /redir }
    use_backend dead if { path /dead }
    default_backend be
backend be
    server s1 "127.0.0.1:${BE_PORT}"
backend dead
    retries 0
    server d1 "127.0.0.1:${DEAD_PORT}"
`}
	var addr string
	if bin == "" {
		addr = startGohap(t, tc, env)
	} else {
		addr = startHAProxy(t, bin, tc, env)
	}
	for _, p := range logPaths {
		roundTrip(addr, request{method: "GET", target: p, proto: "HTTP/1.1", headers: [][2]string{{"Host", "x"}}})
	}
	var lines []string
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(lines) < len(logPaths)-1 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%d log lines, want %d: %v", len(lines), len(logPaths)-1, err)
		}
		lines = append(lines, maskLog(string(buf[:n])))
	}
	// Nothing more: the monitor-uri request must not have been logged.
	pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := pc.ReadFrom(buf); err == nil {
		t.Errorf("an extra log line: %q", buf[:n])
	}
	return lines
}

var (
	logDate   = regexp.MustCompile(`^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d haproxy\[\d+\]: `)
	logClient = regexp.MustCompile(`127\.0\.0\.1:\d+ \[[^\]]+\]`)
	logTimers = regexp.MustCompile(` -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ (\d{3}) \d+ `)
	logConns  = regexp.MustCompile(` \d+/\d+/\d+/\d+/(\d+ \d+/\d+ ")`)
)

// maskLog hides what differs between two runs of the same request: the
// syslog date and pid, the client's port and accept date, each timer that
// was reached (a -1 stays), the process, frontend, backend and server
// connection counts (the previous request's may not be closed yet), and
// the byte count: haproxy counts its internal message size, a few bytes a
// header less than the wire's, which gohap logs (runtime's TestLogBytes
// checks gohap's count).
func maskLog(s string) string {
	s = logDate.ReplaceAllString(s, "<$1>DATE haproxy[PID]: ")
	s = logClient.ReplaceAllString(s, "127.0.0.1:PORT [DATE]")
	s = logConns.ReplaceAllString(s, " C/C/C/C/$1")
	return logTimers.ReplaceAllStringFunc(s, func(m string) string {
		f := strings.Fields(m) // timers, status, bytes
		ts := strings.Split(f[0], "/")
		for i, v := range ts {
			if v != "-1" {
				ts[i] = "N"
			}
		}
		return " " + strings.Join(ts, "/") + " " + f[1] + " B "
	})
}
