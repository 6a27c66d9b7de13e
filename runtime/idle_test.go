package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestParkedEntriesReused: the entry of a connection that left the
// parker serves the next one parked, and entries come in chunks.
func TestParkedEntriesReused(t *testing.T) {
	p := &parker{conns: map[int]*parked{}}
	p.mu.Lock()
	a, b := p.newParked(), p.newParked()
	p.mu.Unlock()
	if &p.chunk[0] == a || len(p.chunk) != parkedChunk-2 {
		t.Fatalf("after two entries, %d left in the chunk, want %d", len(p.chunk), parkedChunk-2)
	}
	a.fd, a.nreq = 7, 3
	p.recycle(a)
	p.mu.Lock()
	c := p.newParked()
	p.mu.Unlock()
	if c != a {
		t.Errorf("a recycled entry was not reused")
	}
	if c.fd != 0 || c.nreq != 0 {
		t.Errorf("the reused entry kept fd %d and nreq %d", c.fd, c.nreq)
	}
	if b == a {
		t.Errorf("two live entries are the same")
	}
}

// TestParkedConnectionsServeAgain: connections that wait idle in turns,
// each resumed by a request while others park and leave, are each
// answered on their own connection: a recycled entry never resumes or
// closes a connection it no longer stands for.
func TestParkedConnectionsServeAgain(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Path: " + strings.Fields(head)[1] + "\r\n\r\n"
	})
	e, addr := startFrontBack(t, "    timeout http-keep-alive 10s", "127.0.0.1:0", srv.addr())
	const n = 8
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, addr)
	}
	for round := range 3 {
		for i, c := range clients {
			path := fmt.Sprintf("/c%d/r%d", i, round)
			if h, _ := c.get(path); !strings.Contains(h, "x-path: "+path+"\r\n") {
				t.Fatalf("client %d round %d: response %q, want x-path %s", i, round, h, path)
			}
		}
		// Wait until all are parked before the next round.
		for deadline := time.Now().Add(5 * time.Second); parkedConns(e) < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d connections parked", round, parkedConns(e), n)
			}
		}
		// One leaves; a new one takes its place.
		clients[round].c.Close()
		clients[round] = dial(t, addr)
	}
}
