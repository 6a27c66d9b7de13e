package runtime

import (
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gohap/internal/syncbuf"
	"gohap/runtime/rules"
)

// answering returns a backend that answers every request with body.
func answering(t *testing.T, body string) *rawServer {
	return newRawServer(t, func(string, []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	})
}

// TestReload swaps a configuration under a running engine: the address
// both configurations bind keeps its listener (a client connected before
// the reload gets its next answer from the new backend), a frontend only
// the new one has starts listening, and one only the old one had stops.
func TestReload(t *testing.T) {
	one, two := answering(t, "1"), answering(t, "2")

	a := newGraph(rules.ModeHTTP)
	a.backend("b1", one.addr())
	gone := &rules.Frontend{Name: "gone", Mode: rules.ModeHTTP, Binds: a.fe.Binds, DefaultBackend: a.g.Backends[0]}
	a.g.Frontends = append(a.g.Frontends, gone)
	e, addr, _ := start(t, a)
	goneAddr := e.Addrs("gone")[0].String()

	c := dial(t, addr)
	if _, body := c.get("/"); body != "1" {
		t.Fatalf("before reload: body %q, want 1", body)
	}

	b := newGraph(rules.ModeHTTP)
	b.fe.Binds = []rules.Bind{{Network: "tcp", Addr: addr, FD: -1}}
	b.backend("b2", two.addr())
	added := &rules.Frontend{Name: "added", Mode: rules.ModeHTTP, Binds: []rules.Bind{{Network: "tcp", Addr: "127.0.0.1:0", FD: -1}}, DefaultBackend: b.g.Backends[0]}
	b.g.Frontends = append(b.g.Frontends, added)
	if err := e.Reload(b.g); err != nil {
		t.Fatal(err)
	}

	if _, body := c.get("/"); body != "2" {
		t.Errorf("kept connection after reload: body %q, want 2", body)
	}
	if _, body := dial(t, addr).get("/"); body != "2" {
		t.Errorf("new connection after reload: body %q, want 2", body)
	}
	addedAddrs := e.Addrs("added")
	if len(addedAddrs) != 1 {
		t.Fatalf("frontend added by the reload has addresses %v", addedAddrs)
	}
	if _, body := dial(t, addedAddrs[0].String()).get("/"); body != "2" {
		t.Errorf("added frontend: body %q, want 2", body)
	}
	if c, err := net.DialTimeout("tcp", goneAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("frontend the reload removed still accepts on %s", goneAddr)
	}
}

// TestReloadBindFailureChangesNothing: when the new configuration cannot
// bind an address, Reload fails and the old one keeps running whole.
func TestReloadBindFailureChangesNothing(t *testing.T) {
	one, two := answering(t, "1"), answering(t, "2")
	a := newGraph(rules.ModeHTTP)
	a.backend("b1", one.addr())
	e, addr, _ := start(t, a)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	b := newGraph(rules.ModeHTTP)
	b.fe.Binds = []rules.Bind{
		{Network: "tcp", Addr: addr, FD: -1},
		{Network: "tcp", Addr: "127.0.0.1:0", FD: -1},
		{Network: "tcp", Addr: busy.Addr().String(), FD: -1},
	}
	b.backend("b2", two.addr())
	err = e.Reload(b.g)
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Reload error %v, want one naming %s", err, busy.Addr())
	}
	if got := e.Addrs("fe"); len(got) != 1 || got[0].String() != addr {
		t.Errorf("after a failed reload fe listens on %v, want only %s", got, addr)
	}
	if _, body := dial(t, addr).get("/"); body != "1" {
		t.Errorf("after a failed reload: body %q, want the old backend's 1", body)
	}
}

// TestReloadStopsOldChecks: a reload stops the old configuration's
// checks without a verdict. A check it cut short once marked the server
// down in the old state (which requests still in flight use) and logged
// it, and the old check loops went on failing until the engine closed.
func TestReloadStopsOldChecks(t *testing.T) {
	srv := okServer(t)
	cfg := fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    server s1 %s check inter 10ms
`, srv.addr())
	var logs syncbuf.Buffer
	res, err := compileString(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Graph: res.Graph, Log: log.New(&logs, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	time.Sleep(50 * time.Millisecond) // a few checks
	old := e.gen.Load()
	again, err := compileString(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(again.Graph); err != nil {
		t.Fatal(err)
	}
	// Long enough for the old loops to fail "fall" checks in a row.
	time.Sleep(200 * time.Millisecond)
	if !old.backends[0].servers[0].up.Load() {
		t.Error("the reload marked the old configuration's server down")
	}
	if strings.Contains(logs.String(), "DOWN") {
		t.Errorf("logs after reload:\n%s", logs.String())
	}
}
