package runtime

import (
	"testing"
	"time"
)

// TestIdleServerConnHoldsNoBuffers: a server connection waiting in the
// idle pool has given its buffers back, and gets them again when a
// request reuses it.
func TestIdleServerConnHoldsNoBuffers(t *testing.T) {
	srv := okServer(t)
	e, addr := startFrontBack(t, "", "127.0.0.1:0", srv.addr())
	// idle returns how many connections wait in s1's idle pool and how
	// many of them hold buffers.
	idle := func() (n, holding int) {
		ss := e.gen.Load().backends[0].servers[0]
		ss.idle.mu.Lock()
		defer ss.idle.mu.Unlock()
		for _, sc := range ss.idle.conns {
			if sc.in.buf != nil || sc.out.buf != nil {
				holding++
			}
		}
		return len(ss.idle.conns), holding
	}
	for i := range 2 {
		if code, body := status(t, addr, "/"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		n, holding := idle()
		for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); n, holding = idle() {
			time.Sleep(time.Millisecond)
		}
		if n != 1 {
			t.Fatalf("request %d: %d idle server connections, want 1", i, n)
		}
		if holding != 0 {
			t.Errorf("request %d: the idle server connection holds buffers", i)
		}
	}
	if _, n := srv.snapshot(); n != 1 {
		t.Errorf("the server saw %d connections, want 1 (the idle one reused)", n)
	}
}

// TestBufPools: a buffer given back is handed out again, at its size.
func TestBufPools(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	var p bufPools
	for _, size := range []int{bufSize, respBufSize} {
		b := p.get(size)
		if len(b) != size {
			t.Fatalf("get(%d) gave %d bytes", size, len(b))
		}
		p.put(b)
		if again := p.get(size); &again[0] != &b[0] {
			t.Errorf("size %d: the buffer given back was not reused", size)
		}
	}
}
