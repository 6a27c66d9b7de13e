package runtime

import (
	"sync"
	"testing"
	"time"
)

// TestRateLimitSessions checks "rate-limit sessions": above the rate, new
// connections wait in the backlog and are served later, not refused.
func TestRateLimitSessions(t *testing.T) {
	e := startConfig(t, rateLimited)
	addr := e.Addrs("fe")[0].String()
	checkRateLimit(t, func(int) string { return addr })
}

// TestRateLimitAcrossWorkers: the rate is the proxy's, not each
// process's: half the connections go to the leader, half to the
// follower, and still only 10 are served at once.
func TestRateLimitAcrossWorkers(t *testing.T) {
	leader, follower := workerPair(t, rateLimited)
	addrs := [2]string{leader.Addrs("fe")[0].String(), follower.Addrs("fe")[0].String()}
	checkRateLimit(t, func(i int) string { return addrs[i%2] })
}

const rateLimited = testDefaults + `frontend fe
    bind 127.0.0.1:0
    rate-limit sessions 10
    http-request return status 200 content-type text/plain string ok
`

// checkRateLimit opens 14 connections at once, connection i to addr(i),
// to a frontend of "rate-limit sessions 10": 10 are served at once, the
// others after the second is over.
func checkRateLimit(t *testing.T, addr func(i int) string) {
	const n = 14
	start := time.Now()
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range took {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := status(t, addr(i), "/"); code != 200 {
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
