package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gohap/internal/syncbuf"
)

// Worker mode end to end: the real binary with nbthread 2 runs a leader
// and one follower; these tests tell which process serves a connection
// by the socket it holds (/proc/net/tcp gives the inode of the proxy's
// end, /proc/PID/fd which process has it open).

// wait bounds every wait of these tests; none of them measures time.
const workerWait = 10 * time.Second

// gohapProc is a gohap the test started, with its followers.
type gohapProc struct {
	t    *testing.T
	dir  string
	fe   string // the frontend's address
	cfg  string // the configuration file
	env  []string
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{} // closed when the leader exited
	err  error         // its Wait's, once done

	mu   sync.Mutex
	seen map[int]bool // every follower seen, for the cleanup
}

func newGohapProc(t *testing.T) *gohapProc {
	dir := t.TempDir()
	return &gohapProc{t: t, dir: dir, fe: "127.0.0.1:" + freePort(t), cfg: filepath.Join(dir, "gohap.cfg"),
		env: []string{"GOHAP_VARS=" + filepath.Join(dir, "vars"), "GORACE=atexit_sleep_ms=0"}, seen: map[int]bool{}}
}

func (g *gohapProc) write(cfg string) {
	g.t.Helper()
	if err := os.WriteFile(g.cfg, []byte(cfg), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// start runs gohap on g.cfg and waits until its frontend accepts. The
// cleanup stops it, and kills a follower that outlived it.
func (g *gohapProc) start(args ...string) {
	t := g.t
	t.Helper()
	bin := buildGohap(t)
	g.cmd = exec.Command(bin, append([]string{"-d", "-f", g.cfg}, args...)...)
	g.cmd.Env = append(os.Environ(), g.env...)
	g.logs = &syncbuf.Buffer{}
	g.cmd.Stderr = g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan struct{})
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		g.cmd.Process.Signal(os.Interrupt)
		select {
		case <-g.done:
		case <-time.After(workerWait):
			t.Errorf("gohap did not stop on SIGINT")
			g.cmd.Process.Kill()
			<-g.done
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for pid := range g.seen {
			if isFollower(pid) {
				t.Errorf("follower %d outlived its leader", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if strings.Contains(g.logs.String(), "DATA RACE") {
			t.Errorf("the race detector reported a race in gohap")
		}
		if t.Failed() {
			t.Logf("gohap log:\n%s", g.logs.String())
		}
	})
	until(t, "gohap listens on "+g.fe, func() bool {
		c, err := net.DialTimeout("tcp", g.fe, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// until polls cond until it holds, failing the test after workerWait.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(workerWait); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// waitLog waits for the n-th line containing s.
func (g *gohapProc) waitLog(s string, n int) {
	g.t.Helper()
	until(g.t, fmt.Sprintf("%q %d times in the log", s, n), func() bool { return strings.Count(g.logs.String(), s) >= n })
}

// leader is the pid of the process the test started.
func (g *gohapProc) leader() int { return g.cmd.Process.Pid }

// followers returns the leader's follower processes now.
func (g *gohapProc) followers() []int {
	var pids []int
	for _, pid := range children(g.leader()) {
		if isFollower(pid) {
			pids = append(pids, pid)
		}
	}
	g.mu.Lock()
	for _, pid := range pids {
		g.seen[pid] = true
	}
	g.mu.Unlock()
	return pids
}

// oneFollower waits until the leader has exactly one follower, other
// than not, and returns it.
func (g *gohapProc) oneFollower(not int) int {
	g.t.Helper()
	var pid int
	until(g.t, "one follower", func() bool {
		fs := g.followers()
		if len(fs) == 1 && fs[0] != not {
			pid = fs[0]
			return true
		}
		return false
	})
	return pid
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			pids = append(pids, p)
		}
	}
	return pids
}

// isFollower reports whether pid is a live gohap follower (not a
// zombie).
func isFollower(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(b), "--worker") {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// alive reports whether a process pid exists (kill(pid, 0)).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// client is one client connection to gohap, and the process serving it.
type client struct {
	c   net.Conn
	r   *bufio.Reader
	pid int
}

func (g *gohapProc) dial() *client {
	g.t.Helper()
	c, err := net.DialTimeout("tcp", g.fe, workerWait)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

// send writes a keep-alive GET of path.
func (c *client) send(path string) error {
	c.c.SetDeadline(time.Now().Add(workerWait))
	_, err := fmt.Fprintf(c.c, "GET %s HTTP/1.1\r\nHost: gohap\r\n\r\n", path)
	return err
}

// recv reads a response.
func (c *client) recv() (*http.Response, string, error) {
	c.c.SetDeadline(time.Now().Add(workerWait))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func (c *client) get(path string) (*http.Response, string, error) {
	if err := c.send(path); err != nil {
		return nil, "", err
	}
	return c.recv()
}

// mustGet is get, failing the test on an error.
func (c *client) mustGet(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, body, err := c.get(path)
	if err != nil {
		t.Fatalf("GET %s on a connection served by %d: %v", path, c.pid, err)
	}
	return resp, body
}

// servedBy returns the pid, among pids, whose process holds the proxy's
// end of c; 0 if none does. It looks a few times: when gohap parks an
// idle connection, the socket moves to another descriptor, and a look
// in between may see neither.
func servedBy(c net.Conn, pids []int) int {
	for range 50 {
		if pid := holderOf(c, pids); pid != 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// holderOf is one look of servedBy.
func holderOf(c net.Conn, pids []int) int {
	_, lport, _ := net.SplitHostPort(c.RemoteAddr().String())
	_, rport, _ := net.SplitHostPort(c.LocalAddr().String())
	inode := tcpInode(lport, rport)
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
				return pid
			}
		}
	}
	return 0
}

// listens reports whether process pid holds the listening socket of
// port.
func listens(pid int, port string) bool {
	inode := tcpInode(port, "0")
	if inode == "" {
		return false
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// tcpInode finds in /proc/net/tcp the inode of the IPv4 socket with
// these local and remote ports.
func tcpInode(lport, rport string) string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	hexPort := func(p string) string {
		n, _ := strconv.Atoi(p)
		return fmt.Sprintf(":%04X", n)
	}
	lp, rp := hexPort(lport), hexPort(rport)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], lp) && strings.HasSuffix(f[2], rp) {
			return f[9]
		}
	}
	return ""
}

// spread opens keep-alive connections until at least per of them are
// served by each of the leader and its follower (as many clients as it
// takes, at most 400), each after one GET of path; it returns them with
// their process.
func (g *gohapProc) spread(per int, path string) []*client {
	g.t.Helper()
	pids := append([]int{g.leader()}, g.followers()...)
	if len(pids) != 2 {
		g.t.Fatalf("want a leader and one follower, have processes %v", pids)
	}
	return g.spreadOver(per, path, pids)
}

// spreadOver is spread over the processes pids, the leader's first.
func (g *gohapProc) spreadOver(per int, path string, pids []int) []*client {
	t := g.t
	t.Helper()
	var cs []*client
	count := map[int]int{}
	for i := 0; count[pids[0]] < per || count[pids[1]] < per; i++ {
		if i == 400 {
			t.Fatalf("400 connections and not %d on each process: %v", per, count)
		}
		c := g.dial()
		c.mustGet(t, path)
		if c.pid = servedBy(c.c, pids); c.pid == 0 {
			t.Fatalf("connection %d is served by none of %v", i, pids)
		}
		count[c.pid]++
		cs = append(cs, c)
	}
	return cs
}

// httpBackend is a test server that names itself in the body and holds
// requests to /slow until release.
type httpBackend struct {
	name    string
	port    string
	srv     *http.Server
	arrived chan struct{} // one value per /slow request
	release chan struct{}
	once    sync.Once
}

func newHTTPBackend(t *testing.T, name string) *httpBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &httpBackend{name: name, arrived: make(chan struct{}, 100), release: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			b.arrived <- struct{}{}
			select {
			case <-b.release:
			case <-time.After(time.Minute):
			}
		}
		fmt.Fprintf(w, "backend %s", name)
	})}
	go b.srv.Serve(ln)
	_, b.port, _ = net.SplitHostPort(ln.Addr().String())
	t.Cleanup(b.stop)
	return b
}

func (b *httpBackend) stop() {
	b.letGo()
	b.srv.Close()
}

func (b *httpBackend) letGo() { b.once.Do(func() { close(b.release) }) }

// waitArrived waits for n /slow requests.
func (b *httpBackend) waitArrived(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.arrived:
		case <-time.After(workerWait):
			t.Fatalf("backend %s: a slow request did not arrive", b.name)
		}
	}
}

const workerDefaults = `defaults
    mode http
    timeout connect 2s
    timeout client 20s
    timeout server 20s
`

// TestWorkersServe: with nbthread 2 gohap runs a leader and one follower
// (the pid file holding the leader's pid), and both serve connections.
func TestWorkersServe(t *testing.T) {
	g := newGohapProc(t)
	be := newHTTPBackend(t, "a")
	g.write(fmt.Sprintf("global\n    nbthread 2\n%sfrontend web\n    bind %s\n    default_backend be\nbackend be\n    server s1 127.0.0.1:%s\n", workerDefaults, g.fe, be.port))
	pidfile := filepath.Join(g.dir, "gohap.pid")
	g.start("-p", pidfile)
	g.waitLog("2 processes", 1)
	follower := g.oneFollower(0)
	if b, err := os.ReadFile(pidfile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(g.leader()) {
		t.Errorf("pid file: %q, %v; want the leader's pid %d (follower %d)", b, err, g.leader(), follower)
	}
	cs := g.spread(3, "/")
	for _, c := range cs {
		if resp, body := c.mustGet(t, "/x"); resp.StatusCode != 200 || body != "backend a" {
			t.Errorf("connection on %d: %d %q", c.pid, resp.StatusCode, body)
		}
	}
}

// apiCmd sends one command to the runtime API socket and returns the
// answer.
func apiCmd(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, workerWait)
	if err != nil {
		t.Fatalf("runtime API: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(workerWait))
	fmt.Fprintf(c, "%s\n", cmd)
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("runtime API %q: %v", cmd, err)
	}
	return string(b)
}

// TestWorkersSharedState: what the leader decides steers the requests
// the follower serves as well: the runtime API on the leader's stats
// socket, a runtime variable set with -S, and the leader's health checks.
func TestWorkersSharedState(t *testing.T) {
	g := newGohapProc(t)
	s1, s2 := newHTTPBackend(t, "s1"), newHTTPBackend(t, "s2")
	sock := filepath.Join(g.dir, "api.sock")
	g.write(fmt.Sprintf(`global
    nbthread 2
    stats socket %s level admin
%sfrontend web
    bind %s
    acl variable maintenance_mode true
    monitor-uri /alive
    monitor fail if { nbsrv(be) lt 1 }
    http-request return status 200 content-type text/plain string pong if { path /ping }
    http-request return status 503 content-type text/plain string maintenance if maintenance_mode
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:%s check inter 100ms fall 1 rise 1
    server s2 127.0.0.1:%s check inter 100ms fall 1 rise 1
`, sock, workerDefaults, g.fe, s1.port, s2.port))
	g.start()
	g.oneFollower(0)
	cs := g.spread(2, "/ping")
	// expect checks that 4 requests on every connection get the answer
	// want.
	expect := func(what, path string, code int, want ...string) {
		t.Helper()
		for _, c := range cs {
			for range 4 {
				resp, body := c.mustGet(t, path)
				if resp.StatusCode != code || len(want) > 0 && !slices.Contains(want, body) {
					t.Fatalf("%s: GET %s on a connection served by %d (leader %d): %d %q, want %d %q", what, path, c.pid, g.leader(), resp.StatusCode, body, code, want)
				}
			}
		}
	}
	expect("at start", "/", 200, "backend s1", "backend s2")

	// The runtime API on the leader.
	if out := apiCmd(t, sock, "disable server be/s1"); strings.TrimSpace(out) != "" {
		t.Fatalf("disable server: %q", out)
	}
	expect("s1 disabled", "/", 200, "backend s2")
	apiCmd(t, sock, "enable server be/s1")
	apiCmd(t, sock, "set server be/s2 state maint")
	expect("s2 in maintenance", "/", 200, "backend s1")
	apiCmd(t, sock, "set server be/s2 state ready")
	expect("both ready", "/", 200, "backend s1", "backend s2")

	// A runtime variable in shared memory.
	setVar := func(v string) {
		t.Helper()
		cmd := exec.Command(gohapBin, "-S", "maintenance_mode="+v)
		cmd.Env = append(os.Environ(), g.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("-S maintenance_mode=%s: %v %s", v, err, out)
		}
	}
	setVar("true")
	expect("maintenance", "/", 503, "maintenance")
	setVar("false")
	expect("after maintenance", "/", 200, "backend s1", "backend s2")

	// The leader's health checks: both servers go, the backend has none.
	expect("monitor", "/alive", 200)
	s1.stop()
	s2.stop()
	g.waitLog("backend 'be' has no server available!", 1)
	expect("no server: monitor", "/alive", 503)
	expect("no server", "/", 503)
}

// simpleSite is a two-process configuration whose frontend answers
// itself, with X-Gen: gen on every response.
func simpleSite(g *gohapProc, gen string) string {
	return fmt.Sprintf("global\n    nbthread 2\n%sfrontend web\n    bind %s\n    http-after-response set-header X-Gen %s\n    http-request return status 200 content-type text/plain string ok\n", workerDefaults, g.fe, gen)
}

// TestWorkersFollowerKilled: a follower killed with SIGKILL is logged
// and started again, and serves the leader's configuration, not what the
// file holds by then; the leader serves meanwhile.
func TestWorkersFollowerKilled(t *testing.T) {
	g := newGohapProc(t)
	g.write(simpleSite(g, "one"))
	g.start()
	first := g.oneFollower(0)
	g.spread(1, "/")
	// An edit not reloaded yet.
	g.write(simpleSite(g, "two"))
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.waitLog(fmt.Sprintf("worker 1 (pid %d) exited unexpectedly: signal: killed; starting another", first), 1)
	// Served while the new follower starts.
	for range 10 {
		c := g.dial()
		if resp, body := c.mustGet(t, "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("after the kill: %d %q", resp.StatusCode, body)
		}
	}
	second := g.oneFollower(first)
	if second == first {
		t.Fatalf("no new follower")
	}
	// Both the leader and the new follower serve the running
	// configuration.
	for _, c := range g.spread(2, "/") {
		if resp, body := c.mustGet(t, "/"); resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Gen") != "one" {
			t.Fatalf("connection on %d (leader %d): %d %q, X-Gen %q, want one", c.pid, g.leader(), resp.StatusCode, body, resp.Header.Get("X-Gen"))
		}
	}
}

// TestWorkersLeaderKilled: a follower whose leader was killed stops by
// itself; no orphan stays.
func TestWorkersLeaderKilled(t *testing.T) {
	g := newGohapProc(t)
	g.write(simpleSite(g, "one"))
	g.start()
	f := g.oneFollower(0)
	cs := g.spread(1, "/")
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-g.done
	// The follower is now an orphan, reaped by init (or a subreaper) once
	// it exits.
	until(t, fmt.Sprintf("follower %d to exit after its leader was killed", f), func() bool { return !isFollower(f) })
	// Its connections are closed.
	for _, c := range cs {
		if c.pid != f {
			continue
		}
		if _, _, err := c.get("/"); err == nil {
			t.Errorf("a connection of the stopped follower still answers")
		}
	}
}

// proxiedSite is a two-process configuration that proxies to be and
// marks the responses with X-Gen: gen.
func proxiedSite(g *gohapProc, be *httpBackend, gen string) string {
	return fmt.Sprintf("global\n    nbthread 2\n%sfrontend web\n    bind %s\n    http-response set-header X-Gen %s\n    default_backend be\nbackend be\n    server s1 127.0.0.1:%s\n", workerDefaults, g.fe, gen, be.port)
}

// newFollower waits for a follower other than old and returns it.
func (g *gohapProc) newFollower(old int) int {
	g.t.Helper()
	var pid int
	until(g.t, "a new follower", func() bool {
		for _, f := range g.followers() {
			if f != old {
				pid = f
				return true
			}
		}
		return false
	})
	return pid
}

// inFlight sends GET /slow on new connections until each of pids serves
// at least one, each request waiting in be; it returns the clients.
func (g *gohapProc) inFlight(be *httpBackend, pids ...int) []*client {
	t := g.t
	t.Helper()
	var cs []*client
	count := map[int]int{}
	for i := 0; ; i++ {
		done := true
		for _, pid := range pids {
			done = done && count[pid] > 0
		}
		if done {
			return cs
		}
		if i == 100 {
			t.Fatalf("100 slow requests and not one on each of %v: %v", pids, count)
		}
		c := g.dial()
		if err := c.send("/slow"); err != nil {
			t.Fatal(err)
		}
		be.waitArrived(t, 1)
		if c.pid = servedBy(c.c, pids); c.pid == 0 {
			t.Fatalf("slow request %d is served by none of %v", i, pids)
		}
		count[c.pid]++
		cs = append(cs, c)
	}
}

// TestWorkersReload: SIGUSR2 reloads the leader and replaces the
// follower. New connections, on either process, get the new
// configuration; a request the old follower serves when the reload comes
// gets the old one's answer, and the old follower exits once its
// connections closed, as haproxy's old workers do.
func TestWorkersReload(t *testing.T) {
	g := newGohapProc(t)
	be := newHTTPBackend(t, "a")
	g.write(proxiedSite(g, be, "one"))
	g.start()
	old := g.oneFollower(0)
	idle := g.spread(1, "/")
	slow := g.inFlight(be, g.leader(), old)

	g.write(proxiedSite(g, be, "two"))
	g.cmd.Process.Signal(syscall.SIGUSR2)
	g.waitLog("reloaded", 1)
	fresh := g.newFollower(old)
	if !isFollower(old) {
		t.Errorf("the old follower %d exited while it served a request", old)
	}
	// Until it handles its SIGUSR1 the old follower may accept a
	// connection, as haproxy's old workers do until theirs.
	_, port, _ := net.SplitHostPort(g.fe)
	until(t, "the old follower to close its listening socket", func() bool { return !listens(old, port) })
	for _, c := range g.spreadOver(2, "/", []int{g.leader(), fresh}) {
		if resp, _ := c.mustGet(t, "/"); resp.Header.Get("X-Gen") != "two" {
			t.Errorf("after the reload, a new connection on %d: X-Gen %q, want two", c.pid, resp.Header.Get("X-Gen"))
		}
	}
	// Idle connections: the leader's go on with the new configuration;
	// the old follower's close (haproxy closes idle connections at soft
	// stop), or answer with the old configuration if the request came
	// first.
	for _, c := range idle {
		resp, _, err := c.get("/")
		switch {
		case c.pid == g.leader() && (err != nil || resp.Header.Get("X-Gen") != "two"):
			t.Errorf("an idle connection on the leader after the reload: %v, %v", resp, err)
		case c.pid == old && err == nil && resp.Header.Get("X-Gen") != "one":
			t.Errorf("an idle connection on the old follower answers X-Gen %q", resp.Header.Get("X-Gen"))
		}
	}
	// Requests in flight finish with the configuration they started with.
	be.letGo()
	for _, c := range slow {
		resp, body, err := c.recv()
		if err != nil || resp.StatusCode != 200 || body != "backend a" || resp.Header.Get("X-Gen") != "one" {
			t.Errorf("a request in flight during the reload on %d (old follower %d): %v %q %v", c.pid, old, resp, body, err)
		}
	}
	until(t, fmt.Sprintf("the old follower %d to exit", old), func() bool { return !alive(old) })
	if strings.Contains(g.logs.String(), "unexpectedly") {
		t.Errorf("the leader took the old follower's exit for a crash:\n%s", g.logs.String())
	}
	if fs := g.followers(); !slices.Equal(fs, []int{fresh}) {
		t.Errorf("followers %v, want [%d]", fs, fresh)
	}
}

// TestWorkersSoftStop: SIGUSR1 stops every process once its connections
// ended: a request each process serves still gets its answer.
func TestWorkersSoftStop(t *testing.T) {
	g := newGohapProc(t)
	be := newHTTPBackend(t, "a")
	g.write(proxiedSite(g, be, "one"))
	g.start()
	f := g.oneFollower(0)
	slow := g.inFlight(be, g.leader(), f)
	g.cmd.Process.Signal(syscall.SIGUSR1)
	g.waitLog("stopping softly", 1)
	// New connections are refused once the leader closed its sockets,
	// which the follower shares.
	until(t, "the frontend to refuse connections", func() bool {
		c, err := net.DialTimeout("tcp", g.fe, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-g.done:
		t.Fatalf("the leader exited while it served a request: %v", g.err)
	default:
	}
	if !isFollower(f) {
		t.Fatalf("the follower exited while it served a request")
	}
	be.letGo()
	for _, c := range slow {
		if resp, body, err := c.recv(); err != nil || resp.StatusCode != 200 || body != "backend a" {
			t.Errorf("a request in flight at SIGUSR1 on %d: %v %q %v", c.pid, resp, body, err)
		}
	}
	select {
	case <-g.done:
		if g.err != nil {
			t.Errorf("exit after SIGUSR1: %v", g.err)
		}
	case <-time.After(workerWait):
		t.Fatalf("gohap still runs after SIGUSR1 and its connections ended")
	}
	if alive(f) {
		t.Errorf("the follower %d outlived its leader's soft stop", f)
	}
	if strings.Contains(g.logs.String(), "unexpectedly") {
		t.Errorf("the leader took the follower's soft stop for a crash")
	}
}

// TestWorkersStop: SIGTERM stops every process at once, requests in
// flight or not, and cuts a soft stop short.
func TestWorkersStop(t *testing.T) {
	for _, soft := range []bool{false, true} {
		t.Run(fmt.Sprintf("soft=%v", soft), func(t *testing.T) {
			g := newGohapProc(t)
			be := newHTTPBackend(t, "a")
			g.write(proxiedSite(g, be, "one"))
			g.start()
			f := g.oneFollower(0)
			g.inFlight(be, g.leader(), f)
			if soft {
				g.cmd.Process.Signal(syscall.SIGUSR1)
				g.waitLog("stopping softly", 1)
			}
			g.cmd.Process.Signal(syscall.SIGTERM)
			// The backend holds the requests for a minute.
			select {
			case <-g.done:
			case <-time.After(workerWait):
				t.Fatalf("gohap still runs %v after SIGTERM", workerWait)
			}
			until(t, "the follower to exit", func() bool { return !alive(f) })
		})
	}
}

// TestWorkersOneProcess: a configuration with a stick table runs in one
// process and says why; a reload of a two-process gohap to such a
// configuration is refused, and the running one goes on serving on both
// processes.
func TestWorkersOneProcess(t *testing.T) {
	stick := func(g *gohapProc, gen string) string {
		return simpleSite(g, gen) + "    stick-table type ip size 1k expire 1m\n    http-request track-sc0 src\n"
	}
	g := newGohapProc(t)
	g.write(stick(g, "one"))
	g.start()
	g.waitLog("running in one process: stick-table web keeps its entries in one process", 1)
	if fs := g.followers(); len(fs) != 0 {
		t.Errorf("followers %v of a single-process configuration", fs)
	}
	if resp, _ := g.dial().mustGet(t, "/"); resp.StatusCode != 200 || resp.Header.Get("X-Gen") != "one" {
		t.Errorf("single process: %d, X-Gen %q", resp.StatusCode, resp.Header.Get("X-Gen"))
	}

	g2 := newGohapProc(t)
	g2.write(simpleSite(g2, "one"))
	g2.start()
	f := g2.oneFollower(0)
	// refused reloads cfg (the n-th reload) and checks that both processes
	// go on with the first configuration and say why not.
	refused := func(n int, cfg, why string) {
		t.Helper()
		g2.write(cfg)
		g2.cmd.Process.Signal(syscall.SIGUSR2)
		g2.waitLog("reload failed", n)
		if !strings.Contains(g2.logs.String(), why) {
			t.Errorf("the refused reload does not say %q", why)
		}
		for _, c := range g2.spread(1, "/") {
			if resp, _ := c.mustGet(t, "/"); resp.Header.Get("X-Gen") != "one" {
				t.Errorf("after a refused reload (%s), a connection on %d (leader %d, follower %d): X-Gen %q, want one", why, c.pid, g2.leader(), f, resp.Header.Get("X-Gen"))
			}
		}
		if fs := g2.followers(); !slices.Equal(fs, []int{f}) {
			t.Errorf("followers %v after a refused reload, want [%d]", fs, f)
		}
	}
	refused(1, stick(g2, "two"), "stick-table web")
	// Nor does a reload to another number of processes.
	refused(2, strings.Replace(simpleSite(g2, "three"), "nbthread 2", "nbthread 3", 1), "it asks for 3 processes")
}

// TestWorkersRequestCounter: %rt numbers the requests of every process
// without a duplicate, and %pid and the syslog header show the leader's
// pid whichever process logs.
func TestWorkersRequestCounter(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	g := newGohapProc(t)
	g.write(fmt.Sprintf(`global
    nbthread 2
    log %s local0
%s    log global
frontend web
    bind %s
    unique-id-format rt%%rt
    log-format "pid=%%pid rt=%%rt id=%%ID"
    http-after-response set-header X-Id %%[unique-id]
    http-request return status 200 content-type text/plain string ok
`, pc.LocalAddr(), workerDefaults, g.fe))
	g.start()
	g.oneFollower(0)
	cs := g.spread(3, "/")
	ids := map[string]int{}
	n := len(cs)
	for _, c := range cs {
		for range 3 {
			resp, _ := c.mustGet(t, "/")
			id := resp.Header.Get("X-Id")
			if id == "" || ids[id] > 0 {
				t.Errorf("unique id %q from %d, seen before on %d", id, c.pid, ids[id])
			}
			ids[id] = c.pid
			n++
		}
	}
	// One log line per request: the spread's and these.
	leader := strconv.Itoa(g.leader())
	rts := map[string]bool{}
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		pc.SetReadDeadline(time.Now().Add(workerWait))
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("log line %d of %d: %v", i+1, n, err)
		}
		line := string(buf[:k])
		if !strings.Contains(line, "["+leader+"]: pid="+leader+" rt=") {
			t.Errorf("log line %q: want the leader's pid %s in the header and %%pid", line, leader)
		}
		rt := line[strings.Index(line, " rt=")+1:]
		if rts[rt] {
			t.Errorf("log line %q: %%rt logged before", line)
		}
		rts[rt] = true
	}
}

// The configuration record the leader hands its followers comes back as
// it went, and a cut or padded record is refused rather than half read.
func TestConfigFilesRecord(t *testing.T) {
	c := &configFiles{
		Files: []string{"/etc/gohap/a.cfg", "/etc/gohap/conf.d/b.cfg"},
		Data: map[string][]byte{
			"/etc/gohap/a.cfg":        []byte("global\n    maxconn 10\n"),
			"/etc/gohap/conf.d/b.cfg": {},
			"/etc/gohap/errors/503":   []byte("HTTP/1.0 503\r\n\r\nbusy\x00\xff"),
		},
	}
	b := c.encode()
	got, err := decodeConfigFiles(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Files, c.Files) {
		t.Errorf("files %q, want %q", got.Files, c.Files)
	}
	if len(got.Data) != len(c.Data) {
		t.Errorf("%d files' data, want %d", len(got.Data), len(c.Data))
	}
	for name, want := range c.Data {
		if g, ok := got.Data[name]; !ok || !bytes.Equal(g, want) {
			t.Errorf("%s: %q (present %v), want %q", name, g, ok, want)
		}
	}
	for i := range len(b) {
		if _, err := decodeConfigFiles(b[:i]); err == nil {
			t.Errorf("a record cut to %d of %d bytes was accepted", i, len(b))
		}
	}
	if _, err := decodeConfigFiles(append(slices.Clip(b), 0)); err == nil {
		t.Error("a record with a byte too many was accepted")
	}
}
