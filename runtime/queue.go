package runtime

import (
	"sync"
	"time"

	"gohap/runtime/rules"
)

// srvQueue is a backend's queue of requests waiting for a server slot,
// in arrival order. Safe for concurrent use.
type srvQueue struct {
	mu      sync.Mutex
	waiters []chan struct{} // guarded by mu; front is next
}

// acquire takes one of s's connection slots; it reports false when s is
// at its maxconn.
func (s *serverState) acquire() bool {
	max := int64(s.cfg.MaxConn)
	for {
		n := s.cur.Load()
		if max > 0 && n >= max {
			return false
		}
		if s.cur.CompareAndSwap(n, n+1) {
			s.held[s.slot].Add(1)
			return true
		}
	}
}

// release gives back a slot taken by acquire and lets the first queued
// request of the backend try again.
func (s *serverState) release() {
	s.cur.Add(-1)
	s.held[s.slot].Add(-1)
	if s.be.queued.Load() > 0 {
		s.be.wake()
	}
}

// enqueue adds a waiter at the back (or, for a waiter that was woken
// but lost the slot to another request, at the front).
func (b *backendState) enqueue(w chan struct{}, front bool) {
	b.queue.mu.Lock()
	if front {
		b.queue.waiters = append([]chan struct{}{w}, b.queue.waiters...)
	} else {
		b.queue.waiters = append(b.queue.waiters, w)
	}
	b.queued.Store(int64(len(b.queue.waiters)))
	b.queue.mu.Unlock()
}

// leave removes w from the queue if it is still there.
func (b *backendState) leave(w chan struct{}) {
	b.queue.mu.Lock()
	for i, x := range b.queue.waiters {
		if x == w {
			b.queue.waiters = append(b.queue.waiters[:i], b.queue.waiters[i+1:]...)
			break
		}
	}
	b.queued.Store(int64(len(b.queue.waiters)))
	b.queue.mu.Unlock()
}

// wake signals the first waiter, which leaves the queue to pick again.
func (b *backendState) wake() {
	b.queue.mu.Lock()
	if len(b.queue.waiters) > 0 {
		w := b.queue.waiters[0]
		b.queue.waiters = b.queue.waiters[1:]
		b.queued.Store(int64(len(b.queue.waiters)))
		w <- struct{}{} // buffered: never blocks
	}
	b.queue.mu.Unlock()
}

// take picks a server for the session's request and takes one of its
// slots. While every usable server is at its maxconn, the request waits
// in the backend's queue, as HAProxy's, up to "timeout queue" (else
// "timeout connect"; neither: no limit). It returns nil when no server
// is usable, the queue timed out or the engine closed; the caller then
// answers 503.
func (s *session) take(bs *backendState) *serverState {
	var req *rules.Request
	if bs.cfg.Mode == rules.ModeHTTP {
		req = &s.txn.Req
	}
	s.lbKey = bs.key(s, req)
	var w chan struct{}
	var timeout, poll <-chan time.Time
	for {
		if srv := bs.pick(s.lbKey, nil); srv != nil {
			if srv.acquire() {
				if w != nil {
					bs.leave(w)
				}
				return srv
			}
			continue // another request took the last slot: pick again
		}
		if bs.usable() == 0 {
			if w != nil {
				bs.leave(w)
			}
			return nil
		}
		if w == nil {
			w = make(chan struct{}, 1)
			bs.enqueue(w, false)
			if d := orDefault(bs.cfg.Timeouts.Queue, bs.cfg.Timeouts.Connect); d > 0 {
				t := time.NewTimer(d)
				defer t.Stop()
				timeout = t.C
			}
			if s.e.workers.shared() {
				// Another process frees slots without waking this
				// one's queue: look again every millisecond.
				t := time.NewTicker(queuePoll)
				defer t.Stop()
				poll = t.C
			}
			continue // a slot may have freed before we were queued
		}
		select {
		case <-poll: // still queued, in place: try again
		case <-w:
			bs.enqueue(w, true) // keep our place while we try
		case <-timeout:
			bs.leave(w)
			return nil
		case <-s.e.done:
			bs.leave(w)
			return nil
		}
	}
}

// queuePoll is how often a request queued in one of several worker
// processes looks for a slot another process freed.
const queuePoll = time.Millisecond

// moveSlot moves the slot taken on from to to, when a redispatch
// connected to another server, and returns to.
func moveSlot(from, to *serverState) *serverState {
	if from != to {
		to.cur.Add(1)
		to.held[to.slot].Add(1)
		from.release()
	}
	return to
}
