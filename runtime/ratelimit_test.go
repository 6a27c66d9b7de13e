package runtime

import (
	"sync"
	"testing"
	"time"
)

// TestRateLimitSessions checks "rate-limit sessions": above the rate, new
// connections wait in the backlog and are served later, not refused.
func TestRateLimitSessions(t *testing.T) {
	e := startConfig(t, testDefaults+`frontend fe
    bind 127.0.0.1:0
    rate-limit sessions 10
    http-request return status 200 content-type text/plain string ok
`)
	addr := e.Addrs("fe")[0].String()
	const n = 14
	start := time.Now()
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range took {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := status(t, addr, "/"); code != 200 {
				t.Errorf("connection %d: status %d", i, code)
			}
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	fast := 0
	var last time.Duration
	for _, d := range took {
		if d < 700*time.Millisecond {
			fast++
		}
		last = max(last, d)
	}
	if fast != 10 || last < time.Second {
		t.Errorf("%d connections served at once (want 10), the last after %v (want 1s or more): %v", fast, last, took)
	}
}
