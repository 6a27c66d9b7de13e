package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDumpState: the SIGHUP lines name each proxy and server in
// configuration order, with haproxy 2.6's words (captured from haproxy
// with the same proxies: a frontend, a backend with one server down, one
// running on its backup, one with no server left).
func TestDumpState(t *testing.T) {
	up := newRawServer(t, nil)
	e, addr, logs := loadEngine(t, testDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:0
    default_backend b
backend b
    server s1 127.0.0.1:1 disabled
    server s2 %s
backend c
    server t1 %s backup
backend d
    server u1 127.0.0.1:1 disabled
`, up.addr(), up.addr()), nil)
	if code, _ := status(t, addr, "/"); code != 200 {
		t.Fatalf("request through f: %d", code)
	}
	e.DumpState()
	want := []string{
		"SIGHUP received, dumping servers states.",
		"SIGHUP: Proxy fe has no servers. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 1+0.",
		"SIGHUP: Server b/s1 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Server b/s2 is UP. Conn: 0 act, 0 pend, 1 tot.",
		"SIGHUP: Proxy b has 1 active servers and 0 backup servers available. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+1.",
		"SIGHUP: Server c/t1 is UP. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Proxy c is running on backup servers ! Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
		"SIGHUP: Server d/u1 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Proxy d has no server available ! Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
	}
	// The request's connection may still be closing: wait, bounded, for
	// the frontend to count none.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := logs.String()
		if strings.Contains(got, want[1]) || time.Now().After(deadline) {
			break
		}
		e.DumpState()
	}
	got := logs.String()
	at := strings.LastIndex(got, want[0])
	if at < 0 {
		t.Fatalf("no dump in the log:\n%s", got)
	}
	lines := strings.Split(strings.TrimSpace(got[at:]), "\n")
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("dump:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
