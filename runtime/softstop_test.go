package runtime

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSoftStop: on a soft stop the listener closes, an idle keep-alive
// connection is closed, a request in flight gets its response, marked
// connection: close, and then its connection closes, and each proxy's
// totals are logged.
func TestSoftStop(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(head string, _ []byte) string {
		if strings.HasPrefix(head, "GET /slow ") {
			<-release
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	e, addr, logs := loadEngine(t, stopConfig("", srv.addr()), nil)
	idle := dial(t, addr)
	if _, body := idle.get("/"); body != "ok" {
		t.Fatalf("idle connection's request: %q", body)
	}
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	waitRequests(t, srv, 2)

	stopped := make(chan struct{})
	go func() {
		e.SoftStop()
		close(stopped)
	}()
	if !idle.closed(5 * time.Second) {
		t.Error("the idle keep-alive connection stayed open")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts")
		}
	}
	select {
	case <-stopped:
		t.Fatal("SoftStop returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	head, _, body := busy.response("GET")
	if body != "ok" {
		t.Errorf("request in flight: %q, want its response", body)
	}
	// haproxy 2.6 marks it the connection's last (checked with SIGUSR1).
	if !strings.Contains(head, "\r\nconnection: close\r\n") {
		t.Errorf("response during a soft stop lacks connection: close:\n%s", head)
	}
	if !busy.closed(5 * time.Second) {
		t.Error("the busy connection stayed open after its response")
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("SoftStop did not return once the connections ended")
	}
	if want := "Proxy fe stopped (cumulated conns: FE: 2, BE: 0)."; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
	if want := "Proxy app stopped (cumulated conns: FE: 0, BE: 2)."; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// TestHardStopAfter: with hard-stop-after, a soft stop waits no longer
// than that for a request in flight; then, as haproxy 2.6 does (checked
// with SIGUSR1 and a server slower than the limit), the client gets the
// 502 page with connection: close, and the log says so.
func TestHardStopAfter(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newRawServer(t, func(head string, _ []byte) string {
		<-release
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	const limit = 200 * time.Millisecond
	e, addr, logs := loadEngine(t, stopConfig(fmt.Sprintf("global\n    hard-stop-after %dms\n", limit.Milliseconds()), srv.addr()), nil)
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	waitRequests(t, srv, 1)
	t0 := time.Now()
	e.SoftStop()
	if el := time.Since(t0); el < limit {
		t.Errorf("SoftStop returned after %v, before hard-stop-after (%v)", el, limit)
	}
	head, status, body := busy.response("GET")
	if status != 502 || !strings.Contains(body, "502 Bad Gateway") || !strings.Contains(head, "\r\nconnection: close\r\n") {
		t.Errorf("got %d, want haproxy's 502 page with connection: close:\n%s%s", status, head, body)
	}
	if !busy.closed(5 * time.Second) {
		t.Error("the connection stayed open after the 502")
	}
	for _, want := range []string{
		"soft-stop running for too long, performing a hard-stop.",
		"Proxy fe hard-stopped (1 remaining conns will be closed).",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// stopConfig is the soft-stop tests' configuration: global, then
// frontend fe sending everything to server s1 at addr.
func stopConfig(global, addr string) string {
	return global + testDefaults + fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:0
    default_backend app
backend app
    server s1 %s
`, addr)
}

// waitRequests waits until srv has received n requests.
func waitRequests(t *testing.T, srv *rawServer, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if heads, _ := srv.snapshot(); len(heads) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server got fewer than %d requests in 5s", n)
		}
	}
}
