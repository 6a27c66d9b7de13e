package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gohap/shm"
)

// TestShareable lists what keeps a configuration in one process, and
// checks that the plain maintenance scenario runs in workers.
func TestShareable(t *testing.T) {
	const base = testDefaults + `frontend fe
    bind 127.0.0.1:0
    default_backend be
`
	for _, tc := range []struct{ name, cfg, want string }{
		{"plain", base + `backend be
    balance roundrobin
    server s1 127.0.0.1:1 check
    server s2 127.0.0.1:2 check weight 3
`, ""},
		{"stick table", base + `backend be
    stick-table type ip size 10
    server s1 127.0.0.1:1
`, "stick-table be keeps its entries"},
		{"server maxconn", base + `backend be
    server s1 127.0.0.1:1 maxconn 10
`, ""},
		{"shutdown sessions", base + `backend be
    server s1 127.0.0.1:1 check on-marked-down shutdown-sessions
`, "on-marked-down shutdown-sessions"},
		{"rate limit", testDefaults + `frontend fe
    bind 127.0.0.1:0
    rate-limit sessions 10
    default_backend be
backend be
    server s1 127.0.0.1:1
`, "rate-limit sessions keeps its rate"},
	} {
		res, err := compileString(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = Shareable(res.Graph)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want workers", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestConnLimitSplit(t *testing.T) {
	var alone *Workers
	if got := alone.connLimit(9000); got != 9000 {
		t.Errorf("one process: %d", got)
	}
	w := &Workers{Count: 2}
	if got := w.connLimit(9001); got != 4501 {
		t.Errorf("two processes, 9001: %d each", got)
	}
	if got := w.connLimit(0); got != 0 {
		t.Errorf("no limit: %d", got)
	}
}

// startWorkers runs src as two worker engines over one shared state, as
// gohap's leader and its follower: the follower lays out the leader's
// regions again and accepts on the leader's sockets, or, with own, on
// sockets of its own (one per bind, on port 0), so that a test can tell
// which process a connection goes to.
func startWorkers(t *testing.T, src string, own bool) (leader, follower *Engine) {
	t.Helper()
	var regions []*shm.Region
	lw := &Workers{Count: 2, Index: 0, Region: func(size int) (*shm.Region, error) {
		r := shm.HeapRegion(size)
		regions = append(regions, r)
		return r, nil
	}}
	leader = startConfigWith(t, src, lw)
	lns, err := leader.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	if own {
		for i := range lns {
			lns[i].Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lns[i], err = ln.(*net.TCPListener).File()
			ln.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { closeFiles(lns) })
	given := 0
	fw := &Workers{Count: 2, Index: 1, Listeners: lns, LeaderPID: os.Getpid(), Region: func(int) (*shm.Region, error) {
		if given == len(regions) {
			return nil, errors.New("no more regions")
		}
		given++
		return regions[given-1].Attach(), nil
	}}
	follower = startConfigWith(t, src, fw)
	return leader, follower
}

// startConfigWith compiles src and starts an engine on it as worker w.
func startConfigWith(t *testing.T, src string, w *Workers) *Engine {
	t.Helper()
	res, err := compileString(src)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Graph: res.Graph, Workers: w})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		e.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestQueueAcrossWorkers queues a request in the follower behind a slot
// the leader holds: when the leader's request ends, the follower's gets
// the slot, though nothing in its own process freed it.
func TestQueueAcrossWorkers(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := newRawServer(t, func(string, []byte) string {
		if hits.Add(1) == 1 {
			<-release
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	leader, follower := startWorkers(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    timeout queue 5s
    server s1 %s maxconn 1
`, srv.addr()), true)
	first := make(chan int, 1)
	go func() {
		code, _ := status(t, leader.Addrs("fe")[0].String(), "/first")
		first <- code
	}()
	// Wait until the leader's request holds the slot.
	bs := leader.gen.Load().backends[0]
	for bs.servers[0].cur.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan int, 1)
	go func() {
		code, _ := status(t, follower.Addrs("fe")[0].String(), "/second")
		second <- code
	}()
	fq := follower.gen.Load().backends[0]
	for fq.queued.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if code := <-second; code != 200 {
		t.Fatalf("queued request in the other process: %d, want 200", code)
	}
}
