package runtime

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// udpLog opens a syslog server for a test: its address, and a function
// that returns the next datagram ("" after a second without one).
func udpLog(t *testing.T) (string, func() string) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String(), packetReader(c)
}

func packetReader(c net.PacketConn) func() string {
	return func() string {
		buf := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
}

// logConfig is a configuration logging to target with framing options
// opts and a frontend with the lines of fe, whose backend "be" has one
// server at srv.
func logConfig(target, opts, fe, srv string) string {
	return fmt.Sprintf(`global
    log %s %s
defaults
    mode http
    log global
    timeout client 2s
    timeout server 300ms
    timeout connect 1s
frontend fe
    bind 127.0.0.1:0
%s
    default_backend be
backend be
    server s1 %s
backend empty
`, target, opts, fe, srv)
}

const (
	reHeader3164 = `<%d>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d haproxy\[\d+\]: `
	reDate       = `\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]`
)

// httpLogRE matches an "option httplog" line (section 8.2.3) with the
// given parts.
func httpLogRE(pri int, be, timers string, status int, term, req string) *regexp.Regexp {
	return regexp.MustCompile("^" + fmt.Sprintf(reHeader3164, pri) + `127\.0\.0\.1:\d+ ` + reDate +
		" fe " + be + " " + timers + fmt.Sprintf(" %d ", status) + `\d+ - - ` + term +
		` \d+/\d+/\d+/\d+/\d+ 0/0 "` + regexp.QuoteMeta(req) + `"` + "\n$")
}

func feAddr(e *Engine) string { return e.Addrs("fe")[0].String() }

func TestLogHTTPLog(t *testing.T) {
	addr, next := udpLog(t)
	srv := okServer(t)
	e := startConfig(t, logConfig(addr, "local0", "    option httplog", srv.addr()))
	c := dial(t, feAddr(e))
	c.send("GET /foo?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
	_, code, _ := c.response("GET")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	line := next()
	re := httpLogRE(134, "be/s1", `\d+/\d+/\d+/\d+/\d+`, 200, "----", "GET /foo?x=1 HTTP/1.1")
	if !re.MatchString(line) {
		t.Fatalf("log line %q does not match %s", line, re)
	}
	// A second request on the connection is a line of its own.
	c.send("GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	if line := next(); !strings.Contains(line, `"GET /two HTTP/1.1"`) {
		t.Fatalf("second line %q", line)
	}
}

// TestLogBytes checks %B and %U against what the client sent and got.
func TestLogBytes(t *testing.T) {
	addr, next := udpLog(t)
	srv := newRawServer(t, func(string, []byte) string { return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" })
	e := startConfig(t, logConfig(addr, "format raw local0", `    log-format "%B %U %ST %HM %HU %HP %HV %b %s %f %ft"`, srv.addr()))
	req := "POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
	c, err := net.Dial("tcp", feAddr(e))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(req))
	buf := make([]byte, 4096)
	n, got := 0, 0
	for got == 0 || !strings.HasSuffix(string(buf[:got]), "hello") {
		if n, err = c.Read(buf[got:]); err != nil {
			t.Fatal(err)
		}
		got += n
	}
	want := fmt.Sprintf("%d %d 200 POST /p?q=1 /p HTTP/1.1 be s1 fe fe\n", got, len(req))
	if line := next(); line != want {
		t.Fatalf("log line %q, want %q", line, want)
	}
}

// TestLogTermination checks the termination states and levels of failed
// requests, with option log-separate-errors.
func TestLogTermination(t *testing.T) {
	addr, next := udpLog(t)
	slow := newRawServer(t, func(head string, _ []byte) string {
		if strings.Contains(head, "/slow") {
			time.Sleep(600 * time.Millisecond)
		}
		if strings.Contains(head, "/err") {
			return "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	})
	fe := `    option httplog
    option log-separate-errors
    http-request deny if { path /deny }
    http-request return status 200 if { path /ret }
    use_backend empty if { path /nosrv }
    monitor-uri /alive
    stats enable
    stats uri /st
    stats auth a:b`
	e := startConfig(t, logConfig(addr, "local0 debug", fe, slow.addr()))
	// Timers are matched as numbers where a loaded machine may take a
	// millisecond; -1 (a step not reached) and the stats page's 0s are
	// exact.
	for _, tc := range []struct {
		path, be, timers string
		pri, status      int
		term             string
		logged           int // the status logged; -1: no line
	}{
		{"/", "be/s1", `\d+/\d+/\d+/\d+/\d+`, 134, 200, "----", 0},
		// haproxy logs no monitor-uri request, and the statistics
		// page's 401 as a 400 from "<STATS>".
		{"/alive", "", "", 0, 200, "", -1},
		{"/st", "fe/<STATS>", `\d+/0/0/-1/\d+`, 134, 401, "LR--", 400},
		{"/deny", "fe/<NOSRV>", `\d+/-1/-1/-1/\d+`, 131, 403, "PR--", 0},
		{"/ret", "fe/<NOSRV>", `\d+/-1/-1/-1/\d+`, 134, 200, "LR--", 0},
		{"/nosrv", "empty/<NOSRV>", `\d+/-1/-1/-1/\d+`, 131, 503, "SC--", 0},
		{"/slow", "be/s1", `\d+/\d+/\d+/-1/\d+`, 131, 504, "sH--", 0},
		{"/err", "be/s1", `\d+/\d+/\d+/\d+/\d+`, 131, 500, "----", 0},
	} {
		code, _ := status(t, feAddr(e), tc.path)
		if code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, code, tc.status)
		}
		if tc.logged < 0 {
			continue // the next case's line shows none was sent
		}
		logged := tc.status
		if tc.logged > 0 {
			logged = tc.logged
		}
		re := httpLogRE(tc.pri, tc.be, tc.timers, logged, tc.term, "GET "+tc.path+" HTTP/1.1")
		if line := next(); !re.MatchString(line) {
			t.Errorf("%s: log line %q does not match %s", tc.path, line, re)
		}
	}
	c := dial(t, feAddr(e))
	c.send("BAD REQUEST\r\n\r\n")
	c.response("GET")
	re := httpLogRE(131, "fe/<NOSRV>", `-1/-1/-1/-1/\d+`, 400, "PR--", "<BADREQ>")
	if line := next(); !re.MatchString(strings.Replace(line, " 400 0 ", " 400 1 ", 1)) || !strings.Contains(line, " 400 0 ") {
		t.Errorf("bad request: log line %q does not match %s", line, re)
	}
}

func TestLogTCP(t *testing.T) {
	addr, next := udpLog(t)
	srv := okServer(t)
	cfg := strings.Replace(logConfig(addr, "local0", "    mode tcp\n    option tcplog", srv.addr()), "backend be\n", "backend be\n    mode tcp\n", 1)
	e := startConfig(t, cfg)
	code, _ := status(t, feAddr(e), "/")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	re := regexp.MustCompile("^" + fmt.Sprintf(reHeader3164, 134) + `127\.0\.0\.1:\d+ ` + reDate + ` fe be/s1 \d+/\d+/\d+ \d+ -- \d+/\d+/\d+/\d+/0 0/0` + "\n$")
	if line := next(); !re.MatchString(line) {
		t.Fatalf("log line %q does not match %s", line, re)
	}
}

// TestLogDontLog checks option dontlognull and dontlog-normal.
func TestLogDontLog(t *testing.T) {
	addr, next := udpLog(t)
	srv := okServer(t)
	e := startConfig(t, logConfig(addr, "format raw local0", "    option httplog\n    option dontlognull\n    option dontlog-normal\n    http-request deny if { path /deny }", srv.addr()))
	c, err := net.Dial("tcp", feAddr(e))
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // a null connection
	status(t, feAddr(e), "/")
	status(t, feAddr(e), "/deny")
	if line := next(); !strings.Contains(line, " 403 ") {
		t.Fatalf("got %q, want only the denied request", line)
	}
	if line := next(); line != "" {
		t.Fatalf("unexpected line %q", line)
	}
}

// TestLogFramings checks the header of each "format" on a unix datagram
// socket, and "len".
func TestLogFramings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	c, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := packetReader(c)
	srv := okServer(t)
	pid := os.Getpid()
	for _, tc := range []struct{ opts, want string }{
		// haproxy 2.6 sends a host name with a written-out rfc3164,
		// none with its default framing.
		{"format rfc3164 local1 info", strings.Replace(fmt.Sprintf(reHeader3164, 142), " haproxy", " localhost haproxy", 1) + "msg\n"},
		{"local1 info", fmt.Sprintf(reHeader3164, 142) + "msg\n"},
		{"format rfc5424 local0", fmt.Sprintf(`<134>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d - haproxy %d - - msg`, pid) + "\n"},
		{"format short local0", "<6>msg\n"},
		{"format raw local0", "msg\n"},
		{"format priority local6", "<182>msg\n"},
		{"format iso local0", `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d msg` + "\n"},
		{"format timed local0", `<6>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d msg` + "\n"},
		{"format raw len 80 local0", strings.Repeat("m", 79) + "\n"},
		{"local0 emerg", ""},                             // info is above emerg: not sent
		{"format short local0 debug notice", "<5>msg\n"}, // err (a denied request) capped to notice
	} {
		msg := "msg"
		if strings.Contains(tc.opts, "len 80") {
			msg = strings.Repeat("m", 100)
		}
		fe := `    log-format "` + msg + `"`
		if strings.HasSuffix(tc.opts, "notice") {
			fe += "\n    option log-separate-errors\n    http-request deny"
		}
		e := startConfig(t, logConfig(path, tc.opts, fe, srv.addr()))
		status(t, feAddr(e), "/")
		got := next()
		if !regexp.MustCompile("^"+tc.want+"$").MatchString(got) || (tc.want == "" && got != "") {
			t.Errorf("%s: got %q, want %q", tc.opts, got, tc.want)
		}
		e.Close()
	}
}

// TestLogAllocs checks that a logged request costs no allocation.
func TestLogAllocs(t *testing.T) {
	addr, next := udpLog(t)
	l := newLoggedLoopback(t, addr)
	for i := 0; i < 100; i++ {
		l.do(t)
	}
	if line := next(); !strings.Contains(line, `"GET /index.html HTTP/1.1"`) {
		t.Fatalf("log line %q", line)
	}
	if n := testing.AllocsPerRun(500, func() { l.do(t) }); n != 0 {
		t.Fatalf("%v allocations per logged request, want 0", n)
	}
}

// newLoggedLoopback is newLoopback with option httplog to addr.
func newLoggedLoopback(tb testing.TB, addr string) *loopback {
	res, err := compileString(logConfig(addr, "local0", "    option httplog", "127.0.0.1:1"))
	if err != nil {
		tb.Fatal(err)
	}
	build := benchBuild(tb)
	return startLoopback(tb, benchResp, func(g *graph, addr string) {
		build(g, addr)
		g.fe.Log = res.Graph.Frontends[0].Log
	}, benchReq, benchWant)
}

func BenchmarkProxyRequestLogged(b *testing.B) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		// The syslog server reads without allocating, so that the
		// benchmark counts the proxy's allocations only.
		buf := make([]byte, 65536)
		for {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	l := newLoggedLoopback(b, c.LocalAddr().String())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.do(b)
	}
}

// TestLogTargetFullNeverBlocks: a unix syslog socket whose reader is
// stuck fills up, and the requests go on; haproxy sends its logs without
// waiting and counts the lines it drops.
func TestLogTargetFullNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenPacket("unixgram", path) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := okServer(t)
	e := startConfig(t, logConfig(path, "local0", "    option httplog", srv.addr()))
	requestsGoOn(t, feAddr(e), 100, "a full log socket")
}

// requestsGoOn sends n requests on one connection to addr, each after
// the previous one's response (and so after its log line), and fails if
// they do not all get 200 within 10 s: they blocked on what.
func requestsGoOn(t *testing.T, addr string, n int, what string) {
	t.Helper()
	done := make(chan struct{})
	cl := dial(t, addr)
	defer cl.c.Close()
	go func() {
		defer close(done)
		for range n {
			cl.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, code, _ := cl.response("GET"); code != 200 {
				t.Errorf("status %d", code)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests blocked on " + what)
	}
}

// TestLogUnixTargetRestarts: a syslog server that restarts on the same
// unix socket path gets the lines again, as haproxy sends each one to the
// path.
func TestLogUnixTargetRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := okServer(t)
	e := startConfig(t, logConfig(path, "local0", `    log-format "msg"`, srv.addr()))
	status(t, feAddr(e), "/")
	if line := packetReader(c)(); !strings.HasSuffix(line, "msg\n") {
		t.Fatalf("first line: %q", line)
	}
	c.Close()
	os.Remove(path)
	status(t, feAddr(e), "/") // lost: no server
	if c, err = net.ListenPacket("unixgram", path); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	status(t, feAddr(e), "/")
	if line := packetReader(c)(); !strings.HasSuffix(line, "msg\n") {
		t.Fatalf("after the syslog server restarted: %q", line)
	}
}

// TestLogStdoutFullNeverBlocks: "log stdout" to a pipe nobody reads fills
// it, and the requests go on; haproxy writes to the descriptor without
// waiting and drops the lines that do not fit.
func TestLogStdoutFullNeverBlocks(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	srv := okServer(t)
	e := startConfig(t, logConfig("stdout", "format raw local0", `    log-format "`+strings.Repeat("x", 1000)+`"`, srv.addr()))
	requestsGoOn(t, feAddr(e), 200, "a full stdout") // 200 KB of lines: more than a pipe holds
}

// TestLogIdleAfterParking: the idle time of a keep-alive request counts
// from the end of the previous one (haproxy's %Ti), also when the
// connection waited in the parker between them.
func TestLogIdleAfterParking(t *testing.T) {
	addr, next := udpLog(t)
	srv := okServer(t)
	e := startConfig(t, logConfig(addr, "format raw local0", `    log-format "%Ti %Tt"`, srv.addr()))
	c := dial(t, feAddr(e))
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	next()
	for deadline := time.Now().Add(5 * time.Second); parkedConns(e) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never parked")
		}
	}
	time.Sleep(300 * time.Millisecond)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	line := next()
	var ti, tt int
	if _, err := fmt.Sscanf(line, "%d %d", &ti, &tt); err != nil || ti < 300 || tt < 300 {
		t.Fatalf("second request after 300ms idle: %q, want %%Ti and %%Tt >= 300", line)
	}
}
