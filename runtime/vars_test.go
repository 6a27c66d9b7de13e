package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// parkedConns returns how many idle connections the engine's parker holds.
func parkedConns(e *Engine) int {
	e.mu.Lock()
	p := e.park
	e.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// TestSessVarsLiveWithTheConnection: sess variables set by tcp-request
// connection, tcp-request session and http-request rules last for the
// client connection, also when it waited idle in the parker between two
// requests; txn variables do not; a new connection starts with none.
func TestSessVarsLiveWithTheConnection(t *testing.T) {
	srv := newRawServer(t, nil)
	e := startConfig(t, testDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:0
    tcp-request connection set-var(sess.conn) src
    tcp-request session set-var(sess.ses) str(s)
    http-request set-var(sess.first,ifnotexists) path
    http-request set-var(sess.last) path
    http-request set-var(txn.seen,ifnotexists) path
    http-response set-header X-Vars "first=%%[var(sess.first)] last=%%[var(sess.last)] txn=%%[var(txn.seen)] conn=%%[var(sess.conn)] ses=%%[var(sess.ses)]"
    default_backend app
backend app
    server s1 %s
`, srv.addr()))
	addr := e.Addrs("fe")[0].String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(path string) string {
		t.Helper()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Header.Get("X-Vars")
	}
	if got, want := get("/a"), "first=/a last=/a txn=/a conn=127.0.0.1 ses=s"; got != want {
		t.Errorf("first request: %q, want %q", got, want)
	}
	// Wait, bounded, for the idle connection to be parked.
	for deadline := time.Now().Add(5 * time.Second); parkedConns(e) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never parked")
		}
	}
	if got, want := get("/b"), "first=/a last=/b txn=/b conn=127.0.0.1 ses=s"; got != want {
		t.Errorf("after parking: %q, want %q", got, want)
	}
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c, br = c2, bufio.NewReader(c2)
	if got, want := get("/c"), "first=/c last=/c txn=/c conn=127.0.0.1 ses=s"; got != want {
		t.Errorf("new connection: %q, want %q", got, want)
	}
}

// TestTCPSessionReject: tcp-request session rules run once per connection
// and may close it.
func TestTCPSessionReject(t *testing.T) {
	e := startConfig(t, `
defaults
    mode http
    timeout client 5s
frontend fe
    bind 127.0.0.1:0
    tcp-request session reject if { src 127.0.0.1 }
    http-request return status 200
`)
	c, err := net.Dial("tcp", e.Addrs("fe")[0].String())
	if errors.Is(err, syscall.ECONNRESET) {
		return // reject resets; the reset can beat the dial's return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// A close, or a reset as the request was never read.
	if b, err := io.ReadAll(c); len(b) != 0 || isTimeout(err) {
		t.Errorf("rejected connection got %q, %v; want a close", b, err)
	}
}

// TestDynamicBackendOtherMode: haproxy closes the connection when a
// dynamic use_backend name picks a backend of the other mode.
func TestDynamicBackendOtherMode(t *testing.T) {
	srv := newRawServer(t, nil)
	e := startConfig(t, fmt.Sprintf(`
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    mode http
    bind 127.0.0.1:0
    use_backend %%[req.hdr(x-be)]
    default_backend web
backend web
    mode http
    server s1 %s
backend raw
    mode tcp
    server s1 %s
`, srv.addr(), srv.addr()))
	addr := e.Addrs("fe")[0].String()
	resp, _ := rawGet(t, addr, "web")
	if resp == "" {
		t.Error("x-be: web got no response")
	}
	if resp, err := rawGet(t, addr, "raw"); resp != "" || isTimeout(err) {
		t.Errorf("x-be: raw (mode tcp) got %q, want a close", resp)
	}
}

// rawGet sends one request with X-Be: be and returns what came back.
func rawGet(t *testing.T, addr, be string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Be: %s\r\nConnection: close\r\n\r\n", be)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestSessVarsAcrossReload: a reload that renumbers the variables keeps a
// connection's sess variables by name.
func TestSessVarsAcrossReload(t *testing.T) {
	const conf = `
defaults
    mode http
    timeout client 5s
frontend fe
    bind %s
%s    http-request set-var(sess.a) path if { path /set }
    http-request return status 200 content-type text/plain lf-string "a=%%[var(sess.a)]"
`
	e := startConfig(t, fmt.Sprintf(conf, "127.0.0.1:0", ""))
	addr := e.Addrs("fe")[0].String()
	c := dial(t, addr)
	if _, body := c.get("/set"); body != "a=/set" {
		t.Fatalf("before the reload: %q", body)
	}
	res, err := compileString(fmt.Sprintf(conf, addr, "    http-request set-var(sess.b) str(b)\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(res.Graph); err != nil {
		t.Fatal(err)
	}
	if _, body := c.get("/"); body != "a=/set" {
		t.Errorf("after the reload: %q, want a=/set", body)
	}
}

// TestTCPContentSetVar: in mode tcp, tcp-request content rules set txn
// variables that a log-format use_backend name reads.
func TestTCPContentSetVar(t *testing.T) {
	one, two := answering(t, "1"), answering(t, "2")
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:0
    tcp-request inspect-delay 1s
    tcp-request content set-var(txn.be) str(b2) if { req.len gt 0 }
    use_backend %%[var(txn.be)]
    default_backend b1
backend b1
    server s1 %s
backend b2
    server s1 %s
`, one.addr(), two.addr()))
	if _, body := dial(t, e.Addrs("fe")[0].String()).get("/"); body != "2" {
		t.Errorf("body %q, want 2 (backend b2 named by txn.be)", body)
	}
}
