package compat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gohap/internal/syncbuf"
	"gohap/parser"
	"gohap/runtime"
	"gohap/shm"
)

// caseDir holds the cases, one *.txt file each (format: see testCase),
// and the files their configs name (errorfiles), found through
// "${COMPAT_DIR}".
const caseDir = "../testdata/compat"

const (
	dialTimeout  = 2 * time.Second
	readTimeout  = 5 * time.Second        // whole response, when the proxy is slow
	closeWait    = 500 * time.Millisecond // after a complete response, for the proxy's close
	startTimeout = 5 * time.Second        // haproxy accepting on the frontend port
)

// testCase is one file of testdata/compat.
//
// A case file is a description (lines starting with '#'), then sections
// that each start with a "-- name --" line:
//
//	-- config --      the HAProxy configuration, run by both proxies
//	-- requests --    one request a line (see parseRequest)
//	-- gohap-only --  optional: the case runs only through gohap; each
//	                  line "name=value" is set in the variable store first
type testCase struct {
	file      string
	config    string
	gohapOnly bool
	vars      [][2]string // set in the store before gohap starts
	requests  []request
}

// request is one line of a "-- requests --" section:
//
//	METHOD TARGET [HTTP/1.x] [Name:value ...] => STATUS [BACKEND] [# comment]
//
// A header value, or the whole Name:value word, may be written in double
// quotes (Go syntax) to hold spaces. Each request goes on a new
// connection; the client adds "Host: test" and "Connection: close" unless
// the line gives a Host or Connection header. BACKEND is the X-Backend the
// response must carry (be1, be2, be3), or "-" for none (the proxy answered
// itself). A comment starting with "known difference:" skips the
// comparison with haproxy for this request only; gohap's expectations are
// still checked.
type request struct {
	pos string // file:line

	method    string
	target    string
	proto     string
	headers   [][2]string
	status    int
	backend   string
	knownDiff string
}

func loadCases(t *testing.T) []*testCase {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(caseDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no case in %s", caseDir)
	}
	var cases []*testCase
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		tc, err := parseCase(name, string(data))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc)
	}
	return cases
}

func parseCase(file, data string) (*testCase, error) {
	tc := &testCase{file: file}
	section := ""
	seen := map[string]bool{}
	var config strings.Builder
	for i, line := range strings.Split(data, "\n") {
		n := i + 1
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			section = strings.TrimSpace(line[3 : len(line)-3])
			switch section {
			case "config", "requests", "gohap-only":
			default:
				return nil, fmt.Errorf("%s:%d: unknown section %q", file, n, section)
			}
			if seen[section] {
				return nil, fmt.Errorf("%s:%d: section %q repeated", file, n, section)
			}
			seen[section] = true
			if section == "gohap-only" {
				tc.gohapOnly = true
			}
			continue
		}
		text := strings.TrimSpace(line)
		switch section {
		case "":
			if text != "" && !strings.HasPrefix(text, "#") {
				return nil, fmt.Errorf("%s:%d: text before the first section", file, n)
			}
		case "config":
			config.WriteString(line)
			config.WriteByte('\n')
		case "requests":
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			r, err := parseRequest(text)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", file, n, err)
			}
			r.pos = fmt.Sprintf("%s:%d", filepath.Base(file), n)
			tc.requests = append(tc.requests, r)
		case "gohap-only":
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			name, value, ok := strings.Cut(text, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: want name=value, got %q", file, n, text)
			}
			tc.vars = append(tc.vars, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		}
	}
	tc.config = config.String()
	if strings.TrimSpace(tc.config) == "" {
		return nil, fmt.Errorf("%s: no config section", file)
	}
	if len(tc.requests) == 0 {
		return nil, fmt.Errorf("%s: no request", file)
	}
	return tc, nil
}

func parseRequest(text string) (request, error) {
	var r request
	lhs, rhs, ok := strings.Cut(text, "=>")
	if !ok {
		return r, errors.New("missing '=>'")
	}
	rhs, comment, _ := strings.Cut(rhs, "#")
	if reason, ok := strings.CutPrefix(strings.TrimSpace(comment), "known difference:"); ok {
		if r.knownDiff = strings.TrimSpace(reason); r.knownDiff == "" {
			return r, errors.New("'known difference:' needs a reason")
		}
	}
	want := strings.Fields(rhs)
	if len(want) < 1 || len(want) > 2 {
		return r, fmt.Errorf("want '=> STATUS [BACKEND]', got %q", strings.TrimSpace(rhs))
	}
	status, err := strconv.Atoi(want[0])
	if err != nil || status < 100 || status > 599 {
		return r, fmt.Errorf("invalid status %q", want[0])
	}
	r.status = status
	if len(want) == 2 {
		r.backend = want[1]
	}
	words, err := splitWords(lhs)
	if err != nil {
		return r, err
	}
	if len(words) < 2 {
		return r, errors.New("want METHOD TARGET before '=>'")
	}
	r.method, r.target, r.proto = words[0], words[1], "HTTP/1.1"
	words = words[2:]
	if len(words) > 0 && strings.HasPrefix(words[0], "HTTP/") {
		r.proto, words = words[0], words[1:]
	}
	for _, w := range words {
		if strings.HasPrefix(w, `"`) {
			if w, err = strconv.Unquote(w); err != nil {
				return r, fmt.Errorf("bad quoted header %s: %v", w, err)
			}
		}
		name, value, ok := strings.Cut(w, ":")
		if !ok || name == "" {
			return r, fmt.Errorf("want Name:value, got %q", w)
		}
		if strings.HasPrefix(value, `"`) {
			if value, err = strconv.Unquote(value); err != nil {
				return r, fmt.Errorf("header %s: bad quoted value: %v", name, err)
			}
		}
		r.headers = append(r.headers, [2]string{name, value})
	}
	return r, nil
}

// splitWords splits s at spaces outside double quotes; quotes are kept.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
			continue
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		}
		cur.WriteByte(c)
		inWord = true
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// raw builds the bytes the client sends for r.
func (r request) raw() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.method, r.target, r.proto)
	host, conn := false, false
	for _, h := range r.headers {
		host = host || strings.EqualFold(h[0], "host")
		conn = conn || strings.EqualFold(h[0], "connection")
	}
	if !host {
		b.WriteString("Host: test\r\n")
	}
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if !conn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (r request) String() string { return fmt.Sprintf("%s: %s %s", r.pos, r.method, r.target) }

func TestCompat(t *testing.T) {
	cases := loadCases(t)
	dir, err := filepath.Abs(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Logf("haproxy not found (%v): running gohap only, without comparison", err)
		haproxy = ""
	}
	for _, tc := range cases {
		name := strings.TrimSuffix(filepath.Base(tc.file), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runCase(t, tc, dir, haproxy)
		})
	}
}

func runCase(t *testing.T, tc *testCase, dir, haproxy string) {
	env := map[string]string{
		"COMPAT_DIR": dir,
		"DEAD_PORT":  strconv.Itoa(deadPort(t)),
	}
	for i := 1; i <= 3; i++ {
		be := startBackend(t, fmt.Sprintf("be%d", i))
		env[fmt.Sprintf("BE%d_PORT", i)] = strconv.Itoa(be.port())
	}

	env["FE_PORT"] = strconv.Itoa(freePort(t))
	addr := startGohap(t, tc, env)
	got := make([]*response, len(tc.requests))
	for i, r := range tc.requests {
		got[i] = roundTrip(addr, r)
		checkExpect(t, "gohap", r, got[i])
	}

	switch {
	case tc.gohapOnly:
		t.Logf("%s: gohap-only case, not compared with haproxy", tc.file)
		return
	case haproxy == "":
		t.Logf("%s: haproxy not installed, comparison skipped", tc.file)
		return
	}
	env["FE_PORT"] = strconv.Itoa(freePort(t))
	addr = startHAProxy(t, haproxy, tc, env)
	for i, r := range tc.requests {
		want := roundTrip(addr, r)
		checkExpect(t, "haproxy", r, want)
		if r.knownDiff != "" {
			if d := diff(want, got[i]); d != "" {
				t.Logf("%s: known difference (%s), not compared:\n%s", r, r.knownDiff, d)
			} else {
				t.Errorf("%s: marked as a known difference (%s) but the responses are identical; remove the mark", r, r.knownDiff)
			}
			continue
		}
		if d := diff(want, got[i]); d != "" {
			t.Errorf("%s: gohap differs from haproxy:\n%s", r, d)
		}
	}
}

func checkExpect(t *testing.T, who string, r request, resp *response) {
	t.Helper()
	if resp.err != "" {
		t.Errorf("%s: %s: %s\nraw: %q", who, r, resp.err, resp.raw)
		return
	}
	if resp.status != r.status {
		t.Errorf("%s: %s: status %d, want %d\nraw: %q", who, r, resp.status, r.status, resp.raw)
	}
	// RFC 9110 9.3.2 and 8.6: no body after HEAD, no Content-Length in a 204.
	if r.method == "HEAD" && len(resp.body) > 0 {
		t.Errorf("%s: %s: response to HEAD has a body of %d bytes\nraw: %q", who, r, len(resp.body), resp.raw)
	}
	if resp.status == 204 && resp.get("content-length") != "" {
		t.Errorf("%s: %s: 204 response has a Content-Length\nraw: %q", who, r, resp.raw)
	}
	if r.backend == "" {
		return
	}
	be := resp.get("x-backend")
	if be == "" {
		be = "-"
	}
	if be != r.backend {
		t.Errorf("%s: %s: answered by backend %q, want %q\nraw: %q", who, r, be, r.backend, resp.raw)
	}
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now,
// and that it gave no other case of this run: haproxy binds with
// SO_REUSEPORT, so two haproxy of parallel cases given the same port
// would both bind it and each get part of the other's connections.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		givenPorts.Lock()
		given := givenPorts.m[port]
		givenPorts.m[port] = true
		givenPorts.Unlock()
		if !given {
			return port
		}
	}
}

// givenPorts holds the ports freePort gave out.
var givenPorts = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// deadPort returns a port of 127.0.0.1 that refuses connections for the
// whole test: a socket is bound to it but never listens, so no other
// listener (another case's backend) can take it meanwhile.
func deadPort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

func envLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func writeConfig(t *testing.T, tc *testCase) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(tc.file), ".txt")+".cfg")
	if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startGohap runs tc's config in this process and returns the frontend
// address; the engine is closed when the test ends.
func startGohap(t *testing.T, tc *testCase, env map[string]string) string {
	t.Helper()
	addr, _ := startGohapEngine(t, tc, env)
	return addr
}

// startGohapEngine is startGohap, also returning the engine.
func startGohapEngine(t *testing.T, tc *testCase, env map[string]string) (string, *runtime.Engine) {
	t.Helper()
	store, err := shm.Open(filepath.Join(t.TempDir(), "vars"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, v := range tc.vars {
		if err := store.Set(v[0], v[1]); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; ; attempt++ {
		eng, err := newGohap(t, tc, env, store)
		if err == nil {
			t.Cleanup(func() { eng.Close() })
			return net.JoinHostPort("127.0.0.1", env["FE_PORT"]), eng
		}
		// Another test (of this package or another one running beside
		// it) may take FE_PORT between freePort and the bind.
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			t.Fatalf("gohap: %v", err)
		}
		env["FE_PORT"] = strconv.Itoa(freePort(t))
	}
}

// newGohap loads tc's config with env and starts an engine on it.
func newGohap(t *testing.T, tc *testCase, env map[string]string, store *shm.Store) (*runtime.Engine, error) {
	res, err := parser.Load([]string{writeConfig(t, tc)}, parser.Config{
		Options: parser.Options{Env: envLookup(env)},
		Var:     store.Resolve,
	})
	if err != nil {
		t.Fatalf("gohap: load %s: %v", tc.file, err)
	}
	for _, w := range res.Warnings {
		t.Logf("gohap: warning: %v", w)
	}
	eng, err := runtime.New(runtime.Config{
		Graph: res.Graph,
		Vars:  store,
		Log:   log.New(testWriter{t}, "gohap: ", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(); err != nil {
		eng.Close()
		return nil, err
	}
	return eng, nil
}

// startProxy starts tc's config in gohap (bin "") or in the haproxy at
// bin, and returns the frontend address.
func startProxy(t *testing.T, bin string, tc *testCase, env map[string]string) string {
	t.Helper()
	if bin == "" {
		return startGohap(t, tc, env)
	}
	return startHAProxy(t, bin, tc, env)
}

// testWriter sends gohap's log to the test log; the engine is closed in a
// Cleanup, before the test completes, so no write comes late.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startHAProxy runs tc's config through haproxy in the foreground and
// waits until the frontend port accepts. haproxy is stopped with SIGTERM,
// then SIGKILL, when the test ends. When another test took FE_PORT
// between freePort and haproxy's bind, it tries again on a new port.
func startHAProxy(t *testing.T, bin string, tc *testCase, env map[string]string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, inUse := runHAProxy(t, bin, tc, env)
		if !inUse {
			return addr
		}
		if attempt == 3 {
			t.Fatalf("haproxy found its frontend port in use %d times", attempt)
		}
		env["FE_PORT"] = strconv.Itoa(freePort(t))
	}
}

// runHAProxy is one try of startHAProxy; it reports inUse, with no
// address, when haproxy exited because its frontend port was taken.
func runHAProxy(t *testing.T, bin string, tc *testCase, env map[string]string) (addr string, inUse bool) {
	t.Helper()
	cmd := exec.Command(bin, "-db", "-f", writeConfig(t, tc))
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if s := out.String(); t.Failed() && s != "" {
			t.Logf("haproxy output:\n%s", s)
		}
	})
	addr = net.JoinHostPort("127.0.0.1", env["FE_PORT"])
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			if strings.Contains(out.String(), "Address already in use") {
				return "", true
			}
			t.Fatalf("haproxy exited before accepting (%v):\n%s", cmd.ProcessState, out)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return addr, false
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not accept on %s after %v:\n%s", addr, startTimeout, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backend is a raw HTTP/1.1 server with deterministic answers: status
// 200, an X-Backend header with its name, and a body made of its name, a
// space and the request head exactly as it arrived (request line, header
// lines, blank line), so that what the proxy forwards can be compared
// byte for byte; a HEAD gets the same head without the body. It keeps connections alive unless the request asks for
// close (or is HTTP/1.0 without keep-alive); then it answers with
// "Connection: close" and closes. Each X-Set-Cookie request header comes
// back as a Set-Cookie response header, for cookie persistence cases.
type backend struct {
	name string
	ln   net.Listener
	wg   sync.WaitGroup
	// answer serves one connection; nil: handle.
	answer func(c net.Conn)

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func startBackend(t *testing.T, name string) *backend {
	return startBackendFunc(t, name, nil)
}

// startBackendFunc starts a backend whose connections answer serves
// (nil: the default backend's answers).
func startBackendFunc(t *testing.T, name string, answer func(c net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln, conns: map[net.Conn]struct{}{}, answer: answer}
	if b.answer == nil {
		b.answer = b.handle
	}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *backend) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

func (b *backend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *backend) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.answer(c)
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
			c.Close()
		}()
	}
}

func (b *backend) handle(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		head, err := readHead(br)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
		keepAlive := !strings.HasSuffix(lines[0], "HTTP/1.0")
		length := 0
		var setCookies string
		for _, l := range lines[1:] {
			name, value, _ := strings.Cut(l, ":")
			value = strings.TrimSpace(value)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "connection":
				for _, tok := range strings.Split(strings.ToLower(value), ",") {
					switch strings.TrimSpace(tok) {
					case "close":
						keepAlive = false
					case "keep-alive":
						keepAlive = true
					}
				}
			case "content-length":
				length, _ = strconv.Atoi(value)
			case "x-set-cookie":
				setCookies += "Set-Cookie: " + value + "\r\n"
			}
		}
		if _, err := io.CopyN(io.Discard, br, int64(length)); err != nil {
			return
		}
		body := b.name + " " + string(head)
		resp := "HTTP/1.1 200 OK\r\nX-Backend: " + b.name + "\r\n" + setCookies
		if !keepAlive {
			resp += "Connection: close\r\n"
		}
		resp += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		if !strings.HasPrefix(lines[0], "HEAD ") {
			resp += body
		}
		if _, err := io.WriteString(c, resp); err != nil || !keepAlive {
			return
		}
	}
}

// readHead reads up to and including the blank line that ends a head.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			return nil, err
		}
		if len(head) > 64<<10 {
			return nil, errors.New("head too large")
		}
		if bytes.Equal(line, []byte("\r\n")) || bytes.Equal(line, []byte("\n")) {
			return head, nil
		}
	}
}

// response is what a proxy sent for one request.
type response struct {
	raw    []byte
	status int
	line   string      // status line
	header [][2]string // in order; names as sent, values without surrounding spaces
	body   []byte
	closed bool   // the proxy closed the connection after the response
	err    string // the response could not be read or parsed
}

// get returns the value of the first header called name, in any case.
func (r *response) get(name string) string {
	for _, h := range r.header {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// roundTrip sends r on a new connection and reads the response until the
// proxy closes the connection, or until closeWait after a response whose
// Content-Length is complete.
func roundTrip(addr string, r request) *response {
	resp := &response{}
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		resp.err = err.Error()
		return resp
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(readTimeout))
	if _, err := c.Write(r.raw()); err != nil {
		resp.err = err.Error()
		return resp
	}
	buf := make([]byte, 4096)
	complete := false
	for {
		n, err := c.Read(buf)
		resp.raw = append(resp.raw, buf[:n]...)
		if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			resp.closed = true
			break
		}
		if err != nil {
			if !complete {
				resp.err = "reading response: " + err.Error()
			}
			break
		}
		if !complete && parseResponse(resp) && resp.hasLength() {
			complete = true
			c.SetReadDeadline(time.Now().Add(closeWait))
		}
	}
	if resp.err == "" && !parseResponse(resp) {
		resp.err = "incomplete response head"
	}
	return resp
}

// parseResponse fills the parsed fields from raw and reports whether the
// head is complete.
func parseResponse(r *response) bool {
	i := bytes.Index(r.raw, []byte("\r\n\r\n"))
	if i < 0 {
		return false
	}
	lines := strings.Split(string(r.raw[:i]), "\r\n")
	r.line, r.header, r.body = lines[0], nil, r.raw[i+4:]
	f := strings.Fields(r.line)
	if len(f) < 2 {
		r.err = fmt.Sprintf("bad status line %q", r.line)
		return true
	}
	r.status, _ = strconv.Atoi(f[1])
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		r.header = append(r.header, [2]string{name, strings.TrimSpace(value)})
	}
	return true
}

// hasLength reports whether r's body is complete by its Content-Length.
func (r *response) hasLength() bool {
	v := r.get("content-length")
	if v == "" {
		return false
	}
	n, err := strconv.Atoi(v)
	return err == nil && len(r.body) >= n
}

// diff describes how got (gohap) differs from want (haproxy), or returns
// "" when they are the same. Header names are compared as sent: haproxy
// lowercases the ones it forwards or builds (its own 400 page keeps
// "Content-length"), so their case is part of the behaviour. Nothing needs
// normalising: the backends send no Date, and neither proxy adds one.
func diff(want, got *response) string {
	var b strings.Builder
	if want.err != got.err {
		fmt.Fprintf(&b, "  error: haproxy %q, gohap %q\n", want.err, got.err)
	}
	if want.line != got.line {
		fmt.Fprintf(&b, "  status line: haproxy %q, gohap %q\n", want.line, got.line)
	}
	if !sameHeaders(want.header, got.header) {
		fmt.Fprintf(&b, "  headers:\n    haproxy %q\n    gohap   %q\n", want.header, got.header)
	}
	if !bytes.Equal(want.body, got.body) {
		fmt.Fprintf(&b, "  body:\n    haproxy %q\n    gohap   %q\n", want.body, got.body)
	}
	if want.closed != got.closed {
		fmt.Fprintf(&b, "  connection closed after the response: haproxy %v, gohap %v\n", want.closed, got.closed)
	}
	if b.Len() == 0 {
		return ""
	}
	fmt.Fprintf(&b, "  raw haproxy: %q\n  raw gohap:   %q", want.raw, got.raw)
	return b.String()
}

func sameHeaders(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseRequest(t *testing.T) {
	r, err := parseRequest(`GET /a?b HTTP/1.0 X-A:1 X-B:"two  words" "X-C:a, b" X-D: => 404 be2 # known difference: why`)
	if err != nil {
		t.Fatal(err)
	}
	want := request{
		method: "GET", target: "/a?b", proto: "HTTP/1.0",
		headers: [][2]string{{"X-A", "1"}, {"X-B", "two  words"}, {"X-C", "a, b"}, {"X-D", ""}},
		status:  404, backend: "be2", knownDiff: "why",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %#v, want %#v", r, want)
	}
	if got := string(r.raw()); got != "GET /a?b HTTP/1.0\r\nHost: test\r\nX-A: 1\r\nX-B: two  words\r\nX-C: a, b\r\nX-D: \r\nConnection: close\r\n\r\n" {
		t.Errorf("raw = %q", got)
	}
	for _, bad := range []string{"GET /", "GET => 200", "GET / => abc", "GET / X => 200", `GET / X:"a => 200`, "GET / => 200 # known difference:"} {
		if _, err := parseRequest(bad); err == nil {
			t.Errorf("parseRequest(%q): no error", bad)
		}
	}
}

// TestStartGohapPortTaken checks the harness itself: when FE_PORT is
// taken by the time gohap binds, startGohap moves to another port.
func TestStartGohapPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	tc := &testCase{file: "taken.txt", config: `
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    http-request return status 200 content-type text/plain string ok
`}
	addr := startGohap(t, tc, map[string]string{"FE_PORT": port})
	if strings.HasSuffix(addr, ":"+port) {
		t.Fatalf("gohap at %s, the port that was taken", addr)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
