package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httputil"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gohap/internal/syncbuf"
	"gohap/runtime/rules"
)

// fakeVars is a map-backed rules.VarStore.
type fakeVars struct {
	mu sync.Mutex
	m  map[int][]byte
}

func (f *fakeVars) Load(slot int, dst []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(dst[:0], f.m[slot]...)
}

func (f *fakeVars) Equal(slot int, v []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Equal(f.m[slot], v) && f.m[slot] != nil
}

func (f *fakeVars) SetSlot(slot int, v []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[int][]byte{}
	}
	f.m[slot] = append([]byte(nil), v...)
}

// testResolver resolves backend names for fetches built in tests.
type testResolver struct{ g *rules.Graph }

func (r testResolver) Backend(name string) (*rules.Backend, error) {
	for _, b := range r.g.Backends {
		if b.Name == name {
			return b, nil
		}
	}
	return nil, errors.New("no backend " + name)
}
func (testResolver) Var(s rules.Scope, _ string) (rules.VarRef, error) {
	return rules.VarRef{Scope: s}, nil
}
func (testResolver) CurrentBackend() *rules.Backend { return nil }
func (testResolver) Env(string) (string, bool)      { return "", false }
func (r testResolver) Table(name string) (*rules.StickTable, error) {
	for _, t := range r.g.Tables {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, errors.New("no table " + name)
}
func (testResolver) Userlist(name string) (*rules.Userlist, error) {
	return nil, errors.New("no userlist " + name + " in tests")
}

// graph builds a Graph with one frontend bound on 127.0.0.1:0.
type graph struct {
	g  *rules.Graph
	fe *rules.Frontend
}

func newGraph(mode rules.Mode) *graph {
	fe := &rules.Frontend{
		Name:  "fe",
		Mode:  mode,
		Binds: []rules.Bind{{Network: "tcp", Addr: "127.0.0.1:0", FD: -1}},
		Timeouts: rules.Timeouts{
			Client: 5 * time.Second,
		},
	}
	return &graph{g: &rules.Graph{Frontends: []*rules.Frontend{fe}}, fe: fe}
}

// backend adds a backend with servers at addrs (name sN).
func (g *graph) backend(name string, addrs ...string) *rules.Backend {
	be := &rules.Backend{
		Name:    name,
		Index:   len(g.g.Backends),
		Mode:    g.fe.Mode,
		Retries: 3,
		RetryOn: rules.RetryConnFailure,
		Timeouts: rules.Timeouts{
			Connect: time.Second,
			Server:  5 * time.Second,
		},
		Options: rules.Options{RedispatchAfter: -1},
	}
	for i, a := range addrs {
		be.Servers = append(be.Servers, &rules.Server{
			Name: "s" + strconv.Itoa(i+1), Index: i, Backend: be, Addr: a, Weight: 1,
		})
	}
	g.g.Backends = append(g.g.Backends, be)
	if g.fe.DefaultBackend == nil {
		g.fe.DefaultBackend = be
	}
	return be
}

// cond builds "if <fetch> -m <kind> patterns" from keyword names.
func (g *graph) cond(t testing.TB, fetch string, args []string, kind rules.MatchKind, pats ...string) *rules.Cond {
	t.Helper()
	f, ok := rules.LookupFetch(fetch)
	if !ok {
		t.Fatalf("no fetch %s", fetch)
	}
	fr, err := rules.NewFetch(f, args, testResolver{g.g})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rules.NewMatcher(kind, pats, false)
	if err != nil {
		t.Fatal(err)
	}
	acl := &rules.ACL{Name: "a", Exprs: []*rules.Expr{rules.NewExpr(fr, nil, m)}}
	return &rules.Cond{Or: [][]rules.Term{{{ACL: acl}}}}
}

// start runs an engine on g and returns it with the frontend's address.
func start(t testing.TB, g *graph) (*Engine, string, *syncbuf.Buffer) {
	t.Helper()
	lb := &syncbuf.Buffer{}
	e, err := New(Config{Graph: g.g, Vars: &fakeVars{}, Log: log.New(lb, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, e.Addrs("fe")[0].String(), lb
}

// rawServer is a backend speaking HTTP/1.1 by hand: it records each
// request head as received and answers with respond's bytes.
type rawServer struct {
	ln      net.Listener
	respond func(head string, body []byte) string
	mu      sync.Mutex
	heads   []string
	bodies  [][]byte
	conns   int
	wg      sync.WaitGroup
}

func newRawServer(t testing.TB, respond func(head string, body []byte) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, respond: respond}
	if s.respond == nil {
		s.respond = func(string, []byte) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		}
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

func (s *rawServer) close() {
	s.ln.Close()
	s.wg.Wait()
}

func (s *rawServer) serve() {
	defer s.wg.Done()
	var open []net.Conn
	var cwg sync.WaitGroup
	defer func() {
		for _, c := range open {
			c.Close()
		}
		cwg.Wait()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		open = append(open, c)
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				head, body, err := readRawRequest(br)
				if err != nil {
					return
				}
				s.mu.Lock()
				s.heads = append(s.heads, head)
				s.bodies = append(s.bodies, body)
				s.mu.Unlock()
				resp := s.respond(head, body)
				if resp == "" {
					return
				}
				closeAfter := strings.HasPrefix(resp, "!")
				resp = strings.TrimPrefix(resp, "!")
				if _, err := io.WriteString(c, resp); err != nil || closeAfter {
					return
				}
			}
		}()
	}
}

func (s *rawServer) snapshot() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.heads...), s.conns
}

// readRawRequest reads one request head and its Content-Length body.
func readRawRequest(br *bufio.Reader) (string, []byte, error) {
	var head strings.Builder
	cl, chunked := 0, false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "transfer-encoding") {
			chunked = strings.EqualFold(strings.TrimSpace(v), "chunked")
		}
	}
	if chunked {
		body, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			return "", nil, err
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return "", nil, err
			}
			if line == "\r\n" {
				return head.String(), body, nil
			}
		}
	}
	body := make([]byte, cl)
	_, err := io.ReadFull(br, body)
	return head.String(), body, err
}

// client is a raw client connection to the proxy.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one response and returns its raw head, status and body.
func (c *client) response(method string) (string, int, string) {
	c.t.Helper()
	var head strings.Builder
	cl, chunked := -1, false
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading response head: %v (got %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "content-length":
				cl, _ = strconv.Atoi(v)
			case "transfer-encoding":
				chunked = strings.EqualFold(v, "chunked")
			}
		}
	}
	h := head.String()
	status, _ := strconv.Atoi(h[9:12])
	var body []byte
	var err error
	switch {
	case method == "HEAD" || status == 204 || status == 304 || status/100 == 1:
	case chunked:
		body, err = io.ReadAll(httputil.NewChunkedReader(c.br))
		if err == nil {
			// trailers and final CRLF
			for {
				line, err2 := c.br.ReadString('\n')
				if err2 != nil || line == "\r\n" {
					break
				}
			}
		}
	case cl >= 0:
		body = make([]byte, cl)
		_, err = io.ReadFull(c.br, body)
	default:
		body, err = io.ReadAll(c.br)
	}
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return h, status, string(body)
}

// closed reports whether the proxy closed the connection (EOF within d).
func (c *client) closed(d time.Duration) bool {
	c.c.SetReadDeadline(time.Now().Add(d))
	defer c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF || (err != nil && !isTimeout(err))
}

// get sends a simple GET and returns the raw head and body.
func (c *client) get(path string) (string, string) {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
	h, _, b := c.response("GET")
	return h, b
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// testDefaults starts a test configuration: mode http and timeouts.
const testDefaults = `
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
`

// status sends a GET for path on a new connection, with Connection:
// close, and returns the response's status and body; the connection is
// closed before it returns.
func status(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := dial(t, addr)
	defer c.c.Close()
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_, code, body := c.response("GET")
	return code, body
}

// okServer is a backend that answers every request with 200 "ok".
func okServer(t testing.TB) *rawServer {
	return newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
}

// listenerFile returns a socket listening on 127.0.0.1, as a file: what
// a listener made from a descriptor starts from. The caller closes it.
func listenerFile(t testing.TB) *os.File {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startFrontBack starts testDefaults with the defaults lines more,
// frontend fe bound to bind and backend app with the one server srvAddr;
// it returns the engine and fe's address.
func startFrontBack(t *testing.T, more, bind, srvAddr string) (*Engine, string) {
	t.Helper()
	e := startConfig(t, testDefaults+fmt.Sprintf(`%s
frontend fe
    bind %s
    default_backend app
backend app
    server s1 %s
`, more, bind, srvAddr))
	return e, e.Addrs("fe")[0].String()
}
