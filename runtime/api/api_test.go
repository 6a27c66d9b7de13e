package api_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gohap/internal/syncbuf"
	"gohap/parser"
	"gohap/runtime"
	"gohap/runtime/api"
	"gohap/shm"
)

// proxy is a running engine with its runtime API, started from a
// configuration in a temporary directory.
type proxy struct {
	t     *testing.T
	dir   string
	eng   *runtime.Engine
	api   *api.Server
	store *shm.Store
	log   *syncbuf.Buffer
}

// load parses cfg, where DIR stands for the test's directory and S1, S2
// for backend addresses.
func (p *proxy) load(cfg string, addrs ...string) *parser.Result {
	p.t.Helper()
	cfg = strings.ReplaceAll(cfg, "DIR", p.dir)
	for i, a := range addrs {
		cfg = strings.ReplaceAll(cfg, fmt.Sprintf("S%d", i+1), a)
	}
	file := filepath.Join(p.dir, "gohap.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		p.t.Fatal(err)
	}
	res, err := parser.Load([]string{file}, parser.Config{Var: p.store.Resolve})
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

func start(t *testing.T, cfg string, addrs ...string) *proxy {
	t.Helper()
	p := &proxy{t: t, dir: t.TempDir(), log: &syncbuf.Buffer{}}
	store, err := shm.Open(filepath.Join(p.dir, "vars"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	p.store = store
	res := p.load(cfg, addrs...)
	lg := log.New(p.log, "", 0)
	if p.eng, err = runtime.New(runtime.Config{Graph: res.Graph, Vars: store, Log: lg}); err != nil {
		t.Fatal(err)
	}
	if err := p.eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.eng.Close() })
	p.api = api.New(api.Config{Engine: p.eng, Vars: store, Name: "gohap", Version: "0.1.0", Log: lg})
	if err := p.api.Apply(res.Graph.Global); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.api.Close() })
	return p
}

// ask sends input on the socket named name in the test's directory and
// returns everything the API answers until it closes the connection.
func (p *proxy) ask(name, input string) string {
	p.t.Helper()
	c, err := net.Dial("unix", filepath.Join(p.dir, name))
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, input); err != nil {
		p.t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite() // as socat does at the end of its input
	out, err := io.ReadAll(c)
	if err != nil {
		p.t.Fatalf("%q: %v (got %q)", input, err, out)
	}
	return string(out)
}

// expect runs each command on the admin socket and checks its answer.
func (p *proxy) expect(pairs ...string) {
	p.t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if got := p.ask("admin.sock", pairs[i]+"\n"); got != pairs[i+1] {
			p.t.Errorf("%q: got %q, want %q", pairs[i], got, pairs[i+1])
		}
	}
}

// status returns the status column of row pxname,svname of "show stat".
func (p *proxy) status(px, sv string) string {
	p.t.Helper()
	out := p.ask("admin.sock", "show stat\n")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ","); len(f) > 18 && f[0] == px && f[1] == sv {
			return f[17] + " " + f[18]
		}
	}
	p.t.Fatalf("no row %s/%s in %q", px, sv, out)
	return ""
}

// wantStatus checks the status and weight "show stat" gives px/sv.
func (p *proxy) wantStatus(px, sv, want, when string) {
	p.t.Helper()
	if got := p.status(px, sv); got != want {
		p.t.Errorf("%s: %s/%s status %q, want %q", when, px, sv, got, want)
	}
}

// backend is an HTTP server that answers with its name and counts hits.
type backend struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.mu.Unlock()
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

// take returns the hits since the last call.
func (b *backend) take() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.hits
	b.hits = 0
	return n
}

// spread sends n requests and checks how many each backend got.
func (p *proxy) spread(n int, b1, b2 *backend, want1, want2 int, when string) {
	p.t.Helper()
	p.get(n)
	if h1, h2 := b1.take(), b2.take(); h1 != want1 || h2 != want2 {
		p.t.Fatalf("%s: s1 %d, s2 %d hits; want %d and %d", when, h1, h2, want1, want2)
	}
	// The client has its responses before the proxy's sessions end: wait
	// for them, so that the state changes that follow log 0 sessions.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		busy := false
		for _, line := range strings.Split(p.ask("admin.sock", "show stat\n"), "\n") {
			if f := strings.Split(line, ","); len(f) > 4 && f[0] == "be" && f[1] != "BACKEND" && f[4] != "0" {
				busy = true
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: sessions still active", when)
		}
	}
}

// get sends n requests through the proxy, each on its own connection.
func (p *proxy) get(n int) {
	p.t.Helper()
	addr := p.eng.Addrs("fe")[0].String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for range n {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			p.t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			p.t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

const twoServers = `
global
    stats socket DIR/admin.sock mode 600 level admin
    stats socket DIR/user.sock level user
    stats socket unix@DIR/op.sock
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    server s1 S1
    server s2 S2
`

func TestMaintAndDrainStopTraffic(t *testing.T) {
	b1, b2 := newBackend(t), newBackend(t)
	p := start(t, twoServers, b1.addr(), b2.addr())
	p.spread(4, b1, b2, 2, 2, "before")
	p.expect("disable server be/s1", "\n")
	p.wantStatus("be", "s1", "MAINT 1", "s1 in maintenance")
	p.spread(4, b1, b2, 0, 4, "s1 in maintenance")
	p.expect("enable server be/s1", "\n")
	p.wantStatus("be", "s1", "no check 1", "s1 enabled")
	p.spread(4, b1, b2, 2, 2, "s1 enabled")
	p.expect("set server be/s2 state drain", "\n")
	p.wantStatus("be", "s2", "DRAIN 1", "s2 draining")
	p.spread(3, b1, b2, 3, 0, "s2 draining")
	p.expect("set server be/s2 state maint; set server be/s1 state maint", "\n\n")
	p.wantStatus("be", "BACKEND", "DOWN 0", "both in maintenance")
	p.expect("set server be/s1 state ready;set server be/s2 state ready", "\n\n")
	p.spread(2, b1, b2, 1, 1, "ready again")
	logs := p.log.String()
	for _, want := range []string{
		"Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
		"Server be/s1 is UP/READY (leaving forced maintenance).",
		"Server be/s2 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
		"backend 'be' has no server available!",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestServerErrors(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	p.expect(
		"disable server be/zz", "No such server.\n\n",
		"disable server zz/s1", "No such backend.\n\n",
		"disable server be", "Require 'backend/server'.\n\n",
		"enable server", "Require 'backend/server'.\n\n",
		"get weight be/zz", "No such server.\n\n",
		"disable health zz/s1", "No such backend.\n\n",
		"set server be/s1 state foo", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
		"set server be/s1", "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n\n",
	)
}

func TestWeight(t *testing.T) {
	b1, b2 := newBackend(t), newBackend(t)
	p := start(t, strings.Replace(twoServers, "server s1 S1", "server s1 S1 weight 10", 1), b1.addr(), b2.addr())
	p.expect(
		"get weight be/s1", "10 (initial 10)\n\n",
		"set weight be/s1 50%", "\n",
		"get weight be/s1", "5 (initial 10)\n\n",
		"set server be/s1 weight 3", "\n",
		"get weight be/s1", "3 (initial 10)\n\n",
		"set weight be/s1 1000%", "\n",
		"get weight be/s1", "100 (initial 10)\n\n",
		"set weight be/s1 -1", "Absolute weight can only be between 0 and 256 inclusive.\n\n",
		"set weight be/s1 300", "Absolute weight can only be between 0 and 256 inclusive.\n\n",
		"set weight be/s1 -1%", "Relative weight must be positive.\n\n",
		"set weight be/s1 5x", "Trailing garbage in weight string\n",
		"set weight be/s1 x", "Empty weight string empty or preceded by garbage\n",
		"set weight be/s1", "Require <weight> or <weight%>.\n\n",
		"set weight be/s2 0", "\n",
	)
	p.wantStatus("be", "s2", "no check 0", "s2 at weight 0")
	p.spread(3, b1, b2, 3, 0, "s2 at weight 0")
}

func TestStaticWeights(t *testing.T) {
	p := start(t, strings.Replace(twoServers, "\nbackend be\n", "\nbackend be\n    balance static-rr\n", 1), "127.0.0.1:1", "127.0.0.1:2")
	p.expect(
		"set weight be/s1 2", "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n\n",
		"set weight be/s1 0%", "\n",
		"set weight be/s1 100%", "\n",
		"get weight be/s1", "1 (initial 1)\n\n",
	)
}

func TestLevels(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	for _, c := range []struct{ sock, cmd, want string }{
		{"user.sock", "disable server be/s1", "Permission denied\n\n"},
		{"user.sock", "set weight be/s1 2", "Permission denied\n\n"},
		{"user.sock", "get var proc.x", "Permission denied\n\n"},
		{"user.sock", "operator", "Permission denied\n\n"},
		{"user.sock", "get weight be/s1", "1 (initial 1)\n\n"},
		{"user.sock", "show cli level", "user\n\n"},
		{"op.sock", "show cli level", "operator\n\n"}, // haproxy's default level
		{"op.sock", "enable health be/s1", "Permission denied\n\n"},
		{"op.sock", "get var proc.x", "Variable not found.\n\n"},
		{"op.sock", "user; show cli level; get var proc.x", "\nuser\n\nPermission denied\n\n"},
		{"admin.sock", "operator;disable server be/s1", "\nPermission denied\n\n"},
	} {
		if got := p.ask(c.sock, c.cmd+"\n"); got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.sock, c.cmd, got, c.want)
		}
	}
	if fi, err := os.Stat(filepath.Join(p.dir, "admin.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.sock: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestPromptAndLines(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	p.expect(
		"get weight be/s1;get weight be/s2", "1 (initial 1)\n\n1 (initial 1)\n\n",
		"get weight be/s1;quit;get weight be/s2", "1 (initial 1)\n\n",
		"quit", "",
		`get weight be/s1\;x`, "No such server.\n\n",
		"help get", "The following commands are valid at this level:\n"+
			"  get var <name>                          : retrieve contents of a process-wide variable\n"+
			"  get weight <bk>/<srv>                   : report a server's current weight\n"+
			"  help [<command>]                        : list matching or all commands\n"+
			"  prompt                                  : toggle interactive mode with prompt\n"+
			"  quit                                    : disconnect\n\n",
		"show foo", "Unknown command, but maybe one of the following ones is a better match:\n"+
			"  show cli level                          : display the level of the current CLI session\n"+
			"  show info                               : report information about the running process\n"+
			"  show stat                               : report counters for each proxy and server\n"+
			"  show version                            : show version of the current process\n"+
			"  help [<command>]                        : list matching or all commands\n"+
			"  prompt                                  : toggle interactive mode with prompt\n"+
			"  quit                                    : disconnect\n\n",
	)
	if got := p.ask("admin.sock", "\n"); !strings.HasPrefix(got, "Unknown command. Please enter one of the following commands only:\n  disable health ") {
		t.Errorf("empty line: %q", got)
	}
	// Lines sent at once are all answered; without "prompt" the
	// connection then closes. A last line without newline is not run.
	if got := p.ask("admin.sock", "get weight be/s1\nget weight be/s2\nget weight be/s1"); got != "1 (initial 1)\n\n1 (initial 1)\n\n" {
		t.Errorf("two lines: %q", got)
	}

	// Interactive: one line at a time, a prompt after each answer.
	c, err := net.Dial("unix", filepath.Join(p.dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, step := range []struct{ send, want string }{
		{"prompt\n", "\n> "},
		{"get weight be/s1\n", "1 (initial 1)\n\n> "},
		{"set weight be/s1 7; get weight be/s1\n", "\n7 (initial 1)\n\n> "},
		{"foo\n", "quit                                    : disconnect\n\n> "},
	} {
		io.WriteString(c, step.send)
		var got []byte
		for !strings.HasSuffix(string(got), step.want) {
			b, err := br.ReadByte()
			if err != nil {
				t.Fatalf("%q: got %q (%v), want %q", step.send, got, err, step.want)
			}
			got = append(got, b)
		}
		if step.send != "foo\n" && string(got) != step.want {
			t.Fatalf("%q: got %q, want %q", step.send, got, step.want)
		}
	}
	io.WriteString(c, "quit\n")
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after quit: %q, %v", rest, err)
	}
}

func TestShowInfoAndStat(t *testing.T) {
	b1 := newBackend(t)
	p := start(t, twoServers, b1.addr(), b1.addr())
	p.get(3)
	info := p.ask("user.sock", "show info\n")
	for _, want := range []string{"Name: gohap\n", "Version: 0.1.0\n", "Nbproc: 1\n", fmt.Sprintf("Pid: %d\n", os.Getpid()),
		"Uptime: 0d 0h00m0", "Uptime_sec: ", "CumConns: 3\n", "CumReq: 3\n", "CurrConns: ", "Listeners: 4\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("show info lacks %q:\n%s", want, info)
		}
	}
	if !strings.HasSuffix(info, "\n\n") || !strings.HasPrefix(info, "Name: gohap\nVersion: 0.1.0\n") {
		t.Errorf("show info: %q", info)
	}
	stat := p.ask("user.sock", "show stat\n")
	if !strings.HasPrefix(stat, "# pxname,svname,qcur,qmax,scur,") || !strings.HasSuffix(stat, ",\n\n") {
		t.Fatalf("show stat: %q", stat)
	}
	if n := strings.Count(stat, "\n"); n != 6 { // header, fe, s1, s2, be, end
		t.Errorf("show stat has %d lines:\n%s", n, stat)
	}
	if got := p.status("be", "s1"); got != "no check 1" {
		t.Errorf("s1: %q", got)
	}
}

func TestHealthChecks(t *testing.T) {
	b1 := newBackend(t)
	cfg := strings.Replace(twoServers, "server s1 S1", "server s1 S1 check inter 50ms", 1)
	p := start(t, cfg, b1.addr(), "127.0.0.1:1")
	if got := p.status("be", "s1"); got != "UP 1" {
		t.Fatalf("checked s1: %q", got)
	}
	p.expect("disable health be/s1", "\n")
	if got := p.status("be", "s1"); got != "no check 1" {
		t.Errorf("checks disabled: %q", got)
	}
	b1.srv.Close() // the checks would now fail: paused, they change nothing
	time.Sleep(300 * time.Millisecond)
	if got := p.status("be", "s1"); got != "no check 1" {
		t.Errorf("checks disabled, server gone: %q", got)
	}
	p.expect("enable health be/s1", "\n")
	deadline := time.Now().Add(3 * time.Second)
	for p.status("be", "s1") != "DOWN 1" {
		if time.Now().After(deadline) {
			t.Fatalf("checks enabled, server gone: still %q", p.status("be", "s1"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGetVarReadsTheStore(t *testing.T) {
	p := start(t, twoServers+"    http-request set-var(proc.seen) str(yes)\n", "127.0.0.1:1", "127.0.0.1:2")
	if err := p.store.Set("maintenance_mode", "on"); err != nil { // what gohap -S does
		t.Fatal(err)
	}
	p.expect(
		"get var proc.maintenance_mode", "proc.maintenance_mode: type=str value=<on>\n",
		"get var proc.seen", "Variable not found.\n\n",
		"get var maintenance_mode", "Variable not found.\n\n",
		"get var", "Missing process-wide variable identifier.\n\n",
	)
	// haproxy 2.6 has no "set var": it is an unknown command.
	if got := p.ask("admin.sock", "set var proc.x str(a)\n"); !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n") {
		t.Errorf("set var: %q", got)
	}
}

func TestSocketFiles(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	admin := filepath.Join(p.dir, "admin.sock")
	// A reload keeps the socket at the same path, takes the new level and
	// mode, opens the new ones and removes the ones gone.
	cfg := strings.Replace(twoServers, "DIR/admin.sock mode 600 level admin", "DIR/admin.sock mode 640 level user", 1)
	cfg = strings.Replace(cfg, "DIR/user.sock", "DIR/user2.sock", 1)
	c, err := net.Dial("unix", admin) // a connection open across the reload
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "prompt\n")
	if got, err := br.ReadString(' '); got != "\n> " {
		t.Fatalf("prompt: %q, %v", got, err)
	}
	if err := p.api.Apply(p.load(cfg, "127.0.0.1:1", "127.0.0.1:2").Graph.Global); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "user.sock")); !os.IsNotExist(err) {
		t.Errorf("user.sock after reload: %v", err)
	}
	if fi, err := os.Stat(admin); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("admin.sock after reload: %v %v", fi.Mode(), err)
	}
	if got := p.ask("admin.sock", "show cli level\n"); got != "user\n\n" {
		t.Errorf("admin.sock after reload: level %q", got)
	}
	if got := p.ask("user2.sock", "show cli level\n"); got != "user\n\n" {
		t.Errorf("user2.sock: %q", got)
	}
	io.WriteString(c, "show cli level\n")
	if got, _ := br.ReadString(' '); got != "admin\n\n> " {
		t.Errorf("connection from before the reload: %q", got)
	}

	// A path that is not a socket is refused and nothing changes.
	if err := os.WriteFile(filepath.Join(p.dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(cfg, "DIR/op.sock", "DIR/file", 1)
	if err := p.api.Apply(p.load(bad, "127.0.0.1:1", "127.0.0.1:2").Graph.Global); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("socket over a file: %v", err)
	}
	if got := p.ask("op.sock", "show cli level\n"); got != "operator\n\n" {
		t.Errorf("op.sock after a failed reload: %q", got)
	}

	// A stale socket file left by a dead process is replaced.
	stale := filepath.Join(p.dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	withStale := strings.Replace(cfg, "DIR/op.sock", "DIR/stale.sock", 1)
	if err := p.api.Apply(p.load(withStale, "127.0.0.1:1", "127.0.0.1:2").Graph.Global); err != nil {
		t.Fatal(err)
	}
	if got := p.ask("stale.sock", "show cli level\n"); got != "operator\n\n" {
		t.Errorf("stale.sock: %q", got)
	}

	p.api.Close()
	for _, name := range []string{"admin.sock", "user2.sock", "stale.sock"} {
		if _, err := os.Stat(filepath.Join(p.dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestTCPSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := start(t, strings.Replace(twoServers, "stats socket unix@DIR/op.sock", "stats socket ipv4@"+addr+" level admin", 1), "127.0.0.1:1", "127.0.0.1:2")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "show cli level\n")
	if got, _ := io.ReadAll(c); string(got) != "admin\n\n" {
		t.Errorf("TCP socket: %q", got)
	}
	if got := p.ask("admin.sock", "show info\n"); !strings.Contains(got, "Listeners: 4\n") {
		t.Errorf("show info with a TCP socket: %q", got)
	}
}

// TestFailedApplyChangesNothing: a reload whose new socket cannot be
// opened leaves the sockets it keeps with their level and mode.
func TestFailedApplyChangesNothing(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	if err := os.WriteFile(filepath.Join(p.dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(twoServers, "DIR/admin.sock mode 600 level admin", "DIR/admin.sock mode 644 level user", 1)
	bad = strings.Replace(bad, "DIR/op.sock", "DIR/file", 1)
	if err := p.api.Apply(p.load(bad, "127.0.0.1:1", "127.0.0.1:2").Graph.Global); err == nil {
		t.Fatal("socket over a file: no error")
	}
	if got := p.ask("admin.sock", "show cli level\n"); got != "admin\n\n" {
		t.Errorf("admin.sock after a failed reload: level %q", got)
	}
	if fi, err := os.Stat(filepath.Join(p.dir, "admin.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.sock after a failed reload: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

// TestLeavingMaintenance: as haproxy 2.6, a server its checks found DOWN
// "was DOWN and now enters maintenance", and leaving maintenance puts it
// UP at once, its health at rise, until its next check says otherwise.
func TestLeavingMaintenance(t *testing.T) {
	b1, b2 := newBackend(t), newBackend(t)
	// The checks go to a closed port: s1's first check, at once, fails;
	// the next is 10s away.
	cfg := strings.Replace(twoServers, "server s1 S1", "server s1 S1 check port 1 inter 10s", 1)
	p := start(t, cfg, b1.addr(), b2.addr())
	deadline := time.Now().Add(3 * time.Second)
	for p.status("be", "s1") != "DOWN 1" {
		if time.Now().After(deadline) {
			t.Fatalf("s1 not DOWN: %q", p.status("be", "s1"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.spread(4, b1, b2, 0, 4, "s1 DOWN")
	p.expect("set server be/s1 state maint", "\n", "set server be/s1 state ready", "\n")
	p.spread(4, b1, b2, 2, 2, "s1 out of maintenance")
	for _, want := range []string{
		"Server be/s1 was DOWN and now enters maintenance.",
		"Server be/s1 is UP/READY (leaving forced maintenance).",
	} {
		if !strings.Contains(p.log.String(), want+"\n") {
			t.Errorf("log lacks %q:\n%s", want, p.log.String())
		}
	}
}

// TestBackslashes: as haproxy 2.6's CLI, a backslash keeps the next
// character in the word (a space too) and is removed; "\\" is one.
func TestBackslashes(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	p.expect(
		`get weight b\e/s1`, "1 (initial 1)\n\n",
		`get weight be/s1\ `, "No such server.\n\n",
		`get weight be\\/s1`, "No such backend.\n\n",
		`get\ weight be/s1`, "Unknown command, but maybe one of the following ones is a better match:\n"+
			"  get weight <bk>/<srv>                   : report a server's current weight\n"+
			"  set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)\n"+
			"  help [<command>]                        : list matching or all commands\n"+
			"  prompt                                  : toggle interactive mode with prompt\n"+
			"  quit                                    : disconnect\n\n",
	)
}

// TestMaxConn checks "stats maxconn": past the limit, across sockets, a
// connection waits unanswered until another ends, as in haproxy 2.6.
func TestMaxConn(t *testing.T) {
	p := start(t, strings.Replace(twoServers, "    stats socket unix@DIR/op.sock\n", "    stats socket unix@DIR/op.sock\n    stats maxconn 2\n", 1), "127.0.0.1:1", "127.0.0.1:2")
	dial := func(name string) net.Conn {
		c, err := net.Dial("unix", filepath.Join(p.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	read := func(c net.Conn, d time.Duration) string {
		c.SetReadDeadline(time.Now().Add(d))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	a, b := dial("admin.sock"), dial("op.sock")
	for _, c := range []net.Conn{a, b} {
		io.WriteString(c, "prompt\n")
		if got := read(c, 5*time.Second); got != "\n> " {
			t.Fatalf("prompt: %q", got)
		}
	}
	third := dial("user.sock")
	io.WriteString(third, "show version\n")
	if got := read(third, 300*time.Millisecond); got != "" {
		t.Fatalf("a third connection was answered past stats maxconn 2: %q", got)
	}
	a.Close()
	if got := read(third, 5*time.Second); got != "0.1.0\n\n" {
		t.Fatalf("after a connection ended, the third got %q, want the version", got)
	}
}
