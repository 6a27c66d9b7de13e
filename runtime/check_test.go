package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gohap/internal/syncbuf"
	"gohap/parser"
	"gohap/runtime/rules"
)

// loadEngine compiles cfg (with "${S1}" replaced by env["S1"]) through
// the parser, starts an engine on it and returns it with the address of
// frontend "fe" and its log.
func loadEngine(t *testing.T, cfg string, env map[string]string) (*Engine, string, *syncbuf.Buffer) {
	t.Helper()
	for k, v := range env {
		cfg = strings.ReplaceAll(cfg, "${"+k+"}", v)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "t.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	opt := parser.Options{Version: "2.6"}
	res, err := parser.Load([]string{path}, parser.Config{Options: opt})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return start(t, &graph{g: res.Graph})
}

// switchable is a TCP server on a fixed address that can be stopped and
// started again; each connection is handled by handle.
type switchable struct {
	t      *testing.T
	addr   string
	handle func(net.Conn)
	mu     sync.Mutex
	ln     net.Listener
	wg     sync.WaitGroup
}

func newSwitchable(t *testing.T, handle func(net.Conn)) *switchable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switchable{t: t, addr: ln.Addr().String(), handle: handle}
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *switchable) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				s.handle(c)
			}()
		}
	}()
}

func (s *switchable) stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *switchable) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Skip("cannot listen again on", s.addr, err)
	}
	s.serve(ln)
}

// httpHandler answers every request on a connection with status and
// body "NAME"; check requests (OPTIONS) get checkStatus() when set.
func httpHandler(name string, checkStatus func() int) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			code := 200
			if req.Method == "OPTIONS" && checkStatus != nil {
				code = checkStatus()
			}
			fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s", code, http.StatusText(code), len(name), name)
			if req.Close || req.Method == "OPTIONS" {
				return
			}
		}
	}
}

func waitLog(t *testing.T, lb *syncbuf.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(lb.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log never had %q:\n%s", s, lb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCheckCounters(t *testing.T) {
	s := newServerState(&rules.Server{Name: "s", Rise: 2, Fall: 3, Weight: 1}, &backendState{cfg: &rules.Backend{Name: "b"}}, nil, false)
	s.be.active = []*serverState{s}
	e := &Engine{log: discardLog()}
	c := newChecker(e, s)
	s.health = c.rise
	s.up.Store(true)
	fail := checkResult{status: chkL4Con, info: "Connection refused"}
	ok := checkResult{status: chkL4OK}
	steps := []struct {
		r    checkResult
		up   bool
		hlth int
		next time.Duration
	}{
		{fail, false, 0, 30 * time.Millisecond}, // starts at rise: the first failure marks it down; downinter
		{ok, false, 1, 20 * time.Millisecond},   // fastinter while rising
		{ok, true, 4, 10 * time.Millisecond},    // rise successes: up, health at rise+fall-1; inter
		{fail, true, 3, 20 * time.Millisecond},
		{fail, true, 2, 20 * time.Millisecond},
		{fail, false, 0, 30 * time.Millisecond}, // fall failures from fully up
	}
	s.cfg.Inter, s.cfg.FastInter, s.cfg.DownInter = 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond
	for i, st := range steps {
		c.result(st.r)
		if s.up.Load() != st.up || s.health != st.hlth || c.next() != st.next {
			t.Fatalf("step %d: up %v health %d next %v, want %v %d %v", i, s.up.Load(), s.health, c.next(), st.up, st.hlth, st.next)
		}
	}
}

// TestHTTPCheckStatus: a server that answers 500 to checks goes down with
// HAProxy's Layer7 message, the backend answers 503, and it comes back
// when the checks get 200. The check request is HAProxy's default.
func TestHTTPCheckStatus(t *testing.T) {
	var code atomic.Int64
	code.Store(500)
	var mu sync.Mutex
	var checkReq []byte
	srv := newSwitchable(t, func(c net.Conn) {
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		if strings.HasPrefix(string(buf[:n]), "OPTIONS") {
			mu.Lock()
			checkReq = append([]byte(nil), buf[:n]...)
			mu.Unlock()
			cd := int(code.Load())
			fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", cd, http.StatusText(cd))
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	_, fe, lb := loadEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    default_backend app
backend app
    option httpchk
    server s1 ${S1} check inter 50ms rise 2 fall 2
`, map[string]string{"S1": srv.addr})
	waitLog(t, lb, `Server app/s1 is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: `)
	waitLog(t, lb, "ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.")
	waitLog(t, lb, "backend 'app' has no server available!")
	if c, body := status(t, fe, "/"); c != 503 || !strings.Contains(body, "503 Service Unavailable") {
		t.Fatalf("down backend: %d %q", c, body)
	}
	mu.Lock()
	got := string(checkReq)
	mu.Unlock()
	if got != "OPTIONS / HTTP/1.0\r\n\r\n" {
		t.Fatalf("check request %q", got)
	}
	code.Store(200)
	waitLog(t, lb, "Server app/s1 is UP, reason: Layer7 check passed, code: 200, check duration: ")
	waitLog(t, lb, "ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.")
	if c, body := status(t, fe, "/"); c != 200 || body != "ok" {
		t.Fatalf("up again: %d %q", c, body)
	}
}

// TestHTTPCheckSendExpect: "http-check send" builds the request and
// "http-check expect string" reads the body.
func TestHTTPCheckSendExpect(t *testing.T) {
	var body atomic.Value
	body.Store("starting")
	reqs := make(chan string, 100)
	srv := newSwitchable(t, func(c net.Conn) {
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		select {
		case reqs <- string(buf[:n]):
		default:
		}
		b := body.Load().(string)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	_, _, lb := loadEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    default_backend app
backend app
    option httpchk GET /health HTTP/1.1\r\nHost:\ www
    http-check expect status 200
    http-check expect string ready
    server s1 ${S1} check inter 50ms
`, map[string]string{"S1": srv.addr})
	if r := <-reqs; r != "GET /health HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n" {
		t.Fatalf("check request %q", r)
	}
	waitLog(t, lb, `Server app/s1 is DOWN, reason: Layer7 invalid response, info: "HTTP content check did not match", check duration: `)
	body.Store("ready!")
	waitLog(t, lb, "Server app/s1 is UP, reason: Layer7 check passed, code: 200, check duration: ")
}

// TestTCPCheck: tcp-check send/expect against a text protocol.
func TestTCPCheck(t *testing.T) {
	var good atomic.Bool
	srv := newSwitchable(t, func(c net.Conn) {
		io.WriteString(c, "+OK ready\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "PING\r\n" {
			return
		}
		if good.Load() {
			io.WriteString(c, "+PONG\r\n")
		} else {
			io.WriteString(c, "-ERR loading\r\n")
		}
	})
	_, _, lb := loadEngine(t, `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:0
    default_backend redis
backend redis
    option tcp-check
    tcp-check expect string +OK
    tcp-check send PING\r\n
    tcp-check expect string +PONG
    server r1 ${S1} check inter 50ms rise 1 fall 1
`, map[string]string{"S1": srv.addr})
	waitLog(t, lb, `Server redis/r1 is DOWN, reason: Layer7 invalid response, info: "TCPCHK did not match content '+PONG' at step 3", check duration: `)
	good.Store(true)
	waitLog(t, lb, `Server redis/r1 is UP, reason: Layer7 check passed, code: 0, info: "(tcp-check)", check duration: `)
	srv.stop()
	waitLog(t, lb, `Server redis/r1 is DOWN, reason: Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check", check duration: `)
}

// TestBackupTakeover: the backup server takes traffic only while no
// active server is up; nbsrv counts it as HAProxy's be_usable_srv.
func TestBackupTakeover(t *testing.T) {
	act := newSwitchable(t, httpHandler("active", nil))
	bck := newSwitchable(t, httpHandler("backup", nil))
	bck2 := newSwitchable(t, httpHandler("backup2", nil))
	e, fe, lb := loadEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    default-server inter 50ms rise 1 fall 1
frontend fe
    bind 127.0.0.1:0
    http-request return status 200 content-type text/plain string up if { nbsrv(app) eq 1 } { path /nbsrv }
    http-request return status 503 content-type text/plain string down if { path /nbsrv }
    default_backend app
backend app
    server a1 ${A} check
    server b1 ${B} check backup
    server b2 ${B2} check backup
`, map[string]string{"A": act.addr, "B": bck.addr, "B2": bck2.addr})
	for range 3 {
		if _, body := status(t, fe, "/"); body != "active" {
			t.Fatalf("got %q, want active", body)
		}
	}
	act.stop()
	waitLog(t, lb, "Server app/a1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: ")
	waitLog(t, lb, "0 active and 2 backup servers left. Running on backup. 0 sessions active")
	for range 3 {
		if _, body := status(t, fe, "/"); body != "backup" {
			t.Fatalf("got %q, want the first backup only", body)
		}
	}
	if n := e.gen.Load().Usable(e.gen.Load().g.Backends[0]); n != 1 {
		t.Fatalf("nbsrv = %d, want 1 (first backup)", n)
	}
	if c, _ := status(t, fe, "/nbsrv"); c != 200 {
		t.Fatalf("nbsrv acl: %d", c)
	}
	act.start()
	waitLog(t, lb, "Server app/a1 is UP, reason: Layer4 check passed")
	if _, body := status(t, fe, "/"); body != "active" {
		t.Fatalf("got %q after the active server came back", body)
	}
}

// TestQueue: with maxconn 1, a second request waits for the slot; with a
// short timeout queue it gets a 503.
func TestQueue(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	srv := newSwitchable(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		if n.Add(1) == 1 {
			<-release
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	cfg := `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout queue ${Q}
frontend fe
    bind 127.0.0.1:0
    default_backend app
backend app
    server s1 ${S1} maxconn 1
`
	_, fe, _ := loadEngine(t, cfg, map[string]string{"S1": srv.addr, "Q": "3s"})
	first := asyncGet(fe)
	for n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := asyncGet(fe)
	time.Sleep(100 * time.Millisecond)
	if n.Load() != 1 {
		t.Fatal("second request reached the server past maxconn")
	}
	close(release)
	if a, b := <-first, <-second; a != 200 || b != 200 {
		t.Fatalf("statuses %d %d, want 200 200 (second queued)", a, b)
	}

	// A short queue timeout answers 503 while the slot is taken.
	n.Store(0)
	release = make(chan struct{})
	defer close(release)
	_, fe2, _ := loadEngine(t, cfg, map[string]string{"S1": srv.addr, "Q": "100ms"})
	go func() {
		c, err := net.Dial("tcp", fe2)
		if err == nil {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	for n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if c, body := status(t, fe2, "/"); c != 503 || !strings.Contains(body, "No server is available to handle this request.") {
		t.Fatalf("queue timeout: %d %q", c, body)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Fatalf("queue timeout after %v", d)
	}
}

// TestRetriesRedispatch: a refused server is retried, and with option
// redispatch the last retry goes to another server; without a usable
// server the client gets HAProxy's 503; a server closing mid-request
// gives 502, and a silent one 504.
func TestRetriesRedispatch(t *testing.T) {
	ok := newSwitchable(t, httpHandler("ok", nil))
	dead := newSwitchable(t, nil)
	dead.stop()
	closer := newSwitchable(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
	})
	silent := newSwitchable(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		time.Sleep(time.Second)
	})
	_, fe, _ := loadEngine(t, `
defaults
    mode http
    timeout connect 200ms
    timeout client 5s
    timeout server 300ms
    retries 2
frontend fe
    bind 127.0.0.1:0
    use_backend redisp if { path /r }
    use_backend noredisp if { path /n }
    use_backend closer if { path /c }
    use_backend silent if { path /s }
    default_backend redisp
backend redisp
    balance first
    option redispatch
    server dead ${DEAD}
    server ok ${OK}
backend noredisp
    balance first
    server dead ${DEAD}
    server ok ${OK}
backend closer
    server c ${C}
backend silent
    server s ${S}
`, map[string]string{"DEAD": dead.addr, "OK": ok.addr, "C": closer.addr, "S": silent.addr})
	if c, body := status(t, fe, "/r"); c != 200 || body != "ok" {
		t.Fatalf("redispatch: %d %q", c, body)
	}
	if c, body := status(t, fe, "/n"); c != 503 || !strings.Contains(body, "<h1>503 Service Unavailable</h1>") {
		t.Fatalf("no redispatch: %d %q", c, body)
	}
	if c, body := status(t, fe, "/c"); c != 502 || !strings.Contains(body, "<h1>502 Bad Gateway</h1>") {
		t.Fatalf("server closed: %d %q", c, body)
	}
	if c, body := status(t, fe, "/s"); c != 504 || !strings.Contains(body, "<h1>504 Gateway Time-out</h1>") {
		t.Fatalf("server silent: %d %q", c, body)
	}
}

// TestSiteAlive is the maintenance scenario: /site_alive turns 503 when a
// backend's last server dies, and 200 again when it returns.
func TestSiteAlive(t *testing.T) {
	app1 := newSwitchable(t, httpHandler("app1", nil))
	app2 := newSwitchable(t, httpHandler("app2", nil))
	st1 := newSwitchable(t, httpHandler("st1", nil))
	_, fe, lb := loadEngine(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    default-server inter 50ms fall 1 rise 1
frontend fe
    bind 127.0.0.1:0
    acl site_dead nbsrv(dynamic) lt 1
    acl site_dead nbsrv(static)  lt 1
    monitor-uri   /site_alive
    monitor fail  if site_dead
    use_backend static if { path_beg /static/ /images/ }
    default_backend dynamic
backend dynamic
    balance roundrobin
    server app1 ${APP1} check
    server app2 ${APP2} check
backend static
    server st1 ${ST1} check
`, map[string]string{"APP1": app1.addr, "APP2": app2.addr, "ST1": st1.addr})
	if c, _ := status(t, fe, "/site_alive"); c != 200 {
		t.Fatalf("site_alive %d", c)
	}
	app1.stop()
	waitLog(t, lb, "Server dynamic/app1 is DOWN")
	if c, _ := status(t, fe, "/site_alive"); c != 200 {
		t.Fatalf("one dynamic server left: site_alive %d", c)
	}
	app2.stop()
	waitLog(t, lb, "Server dynamic/app2 is DOWN")
	if c, _ := status(t, fe, "/site_alive"); c != 503 {
		t.Fatalf("dynamic dead: site_alive %d", c)
	}
	if c, _ := status(t, fe, "/"); c != 503 {
		t.Fatalf("dynamic dead: / %d", c)
	}
	app2.start()
	waitLog(t, lb, "Server dynamic/app2 is UP")
	if c, _ := status(t, fe, "/site_alive"); c != 200 {
		t.Fatalf("dynamic back: site_alive %d", c)
	}
	if _, body := status(t, fe, "/"); body != "app2" {
		t.Fatalf("dynamic back: / %q", body)
	}
}

// TestSpreadChecks: the first checks of many servers are spread over the
// interval, not fired in one instant.
func TestSpreadChecks(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := newSwitchable(t, func(net.Conn) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
	})
	var b strings.Builder
	b.WriteString("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nfrontend fe\n bind 127.0.0.1:0\n default_backend app\nbackend app\n")
	for i := range 20 {
		fmt.Fprintf(&b, " server s%d ${S} check inter 400ms\n", i)
	}
	start := time.Now()
	loadEngine(t, b.String(), map[string]string{"S": srv.addr})
	time.Sleep(350 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 10 {
		t.Fatalf("%d first checks in 350ms", len(times))
	}
	early := 0
	for _, at := range times {
		if at.Sub(start) < 100*time.Millisecond {
			early++
		}
	}
	if early > 10 {
		t.Fatalf("%d of %d first checks within 100ms of start: not spread", early, len(times))
	}
}

// TestCompatHTTPCheck runs the same config through haproxy 2.6 and gohap:
// a server answering 500 to checks makes both answer 503.
func TestCompatHTTPCheck(t *testing.T) {
	hap, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed")
	}
	srv := newSwitchable(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Method == "OPTIONS" {
			io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hport := ln.Addr().String()
	ln.Close()
	cfg := `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind ${BIND}
    default_backend app
backend app
    option httpchk
    server s1 ${S1} check inter 100ms
`
	dir := t.TempDir()
	path := filepath.Join(dir, "h.cfg")
	os.WriteFile(path, []byte(strings.NewReplacer("${BIND}", hport, "${S1}", srv.addr).Replace(cfg)), 0o600)
	cmd := exec.Command(hap, "-f", path, "-db")
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	_, fe, lb := loadEngine(t, cfg, map[string]string{"BIND": "127.0.0.1:0", "S1": srv.addr})
	waitLog(t, lb, "Server app/s1 is DOWN")
	waitLog(t, &out, "Server app/s1 is DOWN")
	const want = `Server app/s1 is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: `
	if !strings.Contains(out.String(), want) || !strings.Contains(lb.String(), want) {
		t.Fatalf("messages differ:\nhaproxy: %s\ngohap: %s", out.String(), lb.String())
	}
	hc, hb := status(t, hport, "/")
	gc, gb := status(t, fe, "/")
	if hc != 503 || gc != 503 || hb != gb {
		t.Fatalf("haproxy %d %q, gohap %d %q", hc, hb, gc, gb)
	}
}

// asyncGet sends one GET to fe in the background; the channel gets the
// status, or 0 when the request failed.
func asyncGet(fe string) <-chan int {
	status := make(chan int, 1)
	go func() {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			status <- 0
			return
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			status <- 0
			return
		}
		status <- resp.StatusCode
	}()
	return status
}
