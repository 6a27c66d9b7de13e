package runtime

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"gohap/runtime/rules"
	"gohap/shm"
)

// MaxWorkers bounds the worker processes of one proxy.
const MaxWorkers = 64

// Workers makes an Engine one of several processes that serve one
// configuration together, as haproxy's threads do: Go runs fastest here
// with one processor per process, so gohap runs a process per core. They
// accept on the same sockets and keep the live state that decides where
// requests go (server states, connection counts, counters) in shared
// memory. The leader (Index 0) runs the health checks and sets the
// state up; followers only serve.
type Workers struct {
	// Count is how many processes serve. Index is this process's slot
	// in the shared state: 0 for the leader, 1 to MaxWorkers-1 for a
	// follower, unique among the processes that run at once (a reload's
	// followers start while the previous ones finish).
	Count, Index int
	// Region returns shared memory of size bytes: first for the state of
	// the whole proxy (at New), then for each configuration's (New, and
	// each Reload in the leader). The leader creates it; a follower gets
	// the one the leader created.
	Region func(size int) (*shm.Region, error)
	// Listeners are the leader's listening sockets in bind order
	// (Engine.ListenerFiles), on which a follower accepts.
	Listeners []*os.File
	// LeaderPID is the leader's process id, which a follower's logs
	// show (%pid, syslog headers) as haproxy's threads show one.
	LeaderPID int
}

// procLive is the proxy's state that outlives a reload.
type procLive struct {
	// reqCount numbers the requests (and tcp connections) the proxy
	// runs, for %rt, across reloads as haproxy's global counter.
	reqCount atomic.Uint64
	actconn  atomic.Int64 // connections being served (%ac)
	// conns are the connections each worker serves, by slot, for the
	// accept balance; alive marks the workers that accept.
	conns [MaxWorkers]atomic.Int64
	alive [MaxWorkers]atomic.Bool
	// start is when the leader built its engine (Unix nanoseconds): the
	// proxy's start, which every worker reports.
	start atomic.Int64
	// ticketKey encrypts and decrypts the TLS session tickets of every
	// worker, as haproxy's threads share one key: a client resumes its
	// session on whichever worker takes its next connection. The leader
	// draws it before it starts the followers, which only read it.
	ticketKey [32]byte
}

func (w *Workers) follower() bool { return w != nil && w.Index > 0 }

// shared reports whether other processes serve the same configuration.
func (w *Workers) shared() bool { return w != nil && w.Count > 1 }

func (w *Workers) index() int {
	if w == nil {
		return 0
	}
	return w.Index
}

// procState returns the proxy-wide state: in process memory when the
// engine serves alone.
func (w *Workers) procState() (*procLive, error) {
	if w == nil {
		return new(procLive), nil
	}
	if w.Count < 1 || w.Count > MaxWorkers || w.Index < 0 || w.Index >= MaxWorkers {
		return nil, fmt.Errorf("runtime: worker slot %d of %d workers: want 1 to %d workers, slots below that", w.Index, w.Count, MaxWorkers)
	}
	p, _, err := layOut(w, func(r *shm.Region, _ bool) (*procLive, error) {
		return shm.Alloc[procLive](r), nil
	})
	if err != nil {
		return nil, err
	}
	if !w.follower() { // a new region, all zero
		if _, err := rand.Read(p.ticketKey[:]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// layOut places what build allocates in a region of w's, of the size it
// needs: build runs once to measure (what it returns then is dropped),
// then in the region, which the leader seals and a follower checks
// against the leader's layout.
func layOut[T any](w *Workers, build func(r *shm.Region, follower bool) (T, error)) (T, *shm.Region, error) {
	var none T
	size := shm.Sizer()
	if _, err := build(size, false); err != nil {
		return none, nil, err
	}
	r, err := w.Region(size.Size())
	if err != nil {
		return none, nil, err
	}
	v, err := build(r, w.follower())
	if err == nil {
		err = w.seal(r)
	}
	if err != nil {
		return none, nil, err
	}
	return v, r, nil
}

// threads is how many threads run the proxy, as haproxy counts them: a
// worker process stands for one.
func (w *Workers) threads() int {
	if w == nil {
		return goruntime.GOMAXPROCS(0)
	}
	return w.Count
}

// shareTickets makes cfg, a bind line's TLS configuration, encrypt its
// session tickets with the key every worker shares, unless the line
// turned tickets off.
func (e *Engine) shareTickets(cfg *tls.Config) {
	if e.workers == nil || cfg == nil || cfg.SessionTicketsDisabled {
		return
	}
	cfg.SetSessionTicketKeys([][32]byte{e.proc.ticketKey})
}

// seal ends the layout of r: the leader records it, a follower checks it
// against the leader's.
func (w *Workers) seal(r *shm.Region) error {
	if w.follower() {
		return r.Check()
	}
	return r.Seal()
}

// accepting records whether this worker accepts connections.
func (w *Workers) accepting(p *procLive, on bool) {
	if w != nil {
		p.alive[w.Index].Store(on)
	}
}

// WorkerGone clears the slot of a follower that exited: its connections
// ended with it, counted or not.
//
// Its server connections leave the running configuration's counts (those
// of an older one stay: its followers are retired and its counts end with
// it), so that a server at its maxconn does not stay full.
func (e *Engine) WorkerGone(slot int) {
	if slot <= 0 || slot >= MaxWorkers {
		return
	}
	e.proc.alive[slot].Store(false)
	e.proc.actconn.Add(-e.proc.conns[slot].Swap(0))
	for _, bs := range e.gen.Load().backends {
		for _, s := range bs.servers {
			s.cur.Add(-int64(s.held[slot].Swap(0)))
		}
	}
}

// AwaitWorkers waits, for at most FollowerWait, until the followers in
// slots all accept connections (accept true), or all stopped accepting;
// it reports whether they did. A reload waits for its new followers, then
// for the old ones to stop.
func (e *Engine) AwaitWorkers(slots []int, accept bool) bool {
	return e.waitUntil(func() bool {
		for _, i := range slots {
			if i > 0 && i < MaxWorkers && e.proc.alive[i].Load() != accept {
				return false
			}
		}
		return true
	})
}

// awaitFollowers holds the leader's first accepts until its followers
// accept too, for at most FollowerWait: connections wait in the backlog
// meanwhile, and the first ones are spread over every process instead
// of all going to the leader, which started first.
func (e *Engine) awaitFollowers() {
	w := e.workers
	if !w.shared() || w.follower() {
		return
	}
	e.waitUntil(func() bool {
		up := 0
		for i := 1; i < MaxWorkers; i++ {
			if e.proc.alive[i].Load() {
				up++
			}
		}
		return up >= w.Count-1
	})
}

// waitUntil looks at done every 5 ms until it holds (true), FollowerWait
// passed or the engine closes (false).
func (e *Engine) waitUntil(done func() bool) bool {
	for deadline := time.Now().Add(FollowerWait); !done(); {
		if time.Now().After(deadline) || !e.pause(5*time.Millisecond) {
			return false
		}
	}
	return true
}

// FollowerWait bounds the waits for followers to start accepting, or to
// stop: the leader's before it accepts alone, a reload's.
const FollowerWait = 3 * time.Second

// listen returns the socket of bind number i: the leader's, for a
// follower; nil for the leader, which binds itself.
func (w *Workers) listen(i int) (net.Listener, error) {
	if !w.follower() {
		return nil, nil
	}
	if i >= len(w.Listeners) {
		return nil, errors.New("the first process has no such listening socket: the configuration changed since it read it")
	}
	return net.FileListener(w.Listeners[i])
}

// acceptTurn holds a worker's accept loop for a moment while it serves
// more connections than another accepting worker: that one, woken by
// the same connection, takes it. haproxy spreads the connections it
// accepts over its threads by their load; without this a burst of new
// connections lands mostly on the worker that wakes first, and a worker
// is one core.
func (e *Engine) acceptTurn() {
	w := e.workers
	if !w.shared() {
		return
	}
	p := e.proc
	mine := p.conns[w.Index].Load()
	for i := range MaxWorkers {
		if i != w.Index && p.alive[i].Load() && p.conns[i].Load()+1 < mine {
			time.Sleep(acceptYield)
			return
		}
	}
}

// acceptYield is how long a loaded worker leaves a new connection to the
// others: about what the other process takes to wake. A millisecond
// halved the rate of new connections of a connection-per-request load
// (CLOSE=1 bench/compare.sh: 0.64x haproxy's, 1.24x with 100 µs).
const acceptYield = 100 * time.Microsecond

// ListenerFiles returns copies of the engine's listening sockets, in
// bind order, for the followers the leader starts.
func (e *Engine) ListenerFiles() ([]*os.File, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var fs []*os.File
	for _, l := range e.listeners {
		fl, ok := l.ln.(interface{ File() (*os.File, error) })
		if !ok {
			closeFiles(fs)
			return nil, fmt.Errorf("runtime: listener %s cannot be shared", l.ln.Addr())
		}
		f, err := fl.File()
		if err != nil {
			closeFiles(fs)
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// Shareable reports whether g can run in worker processes: nil, or an
// error naming the first keyword whose state lives in one process's
// memory, which a configuration using it then runs in.
func Shareable(g *rules.Graph) error {
	one := func(what, why string) error {
		return fmt.Errorf("%s keeps %s in one process", what, why)
	}
	if len(g.Tables) > 0 {
		return one("stick-table "+g.Tables[0].Name, "its entries")
	}
	return nil
}

// connLimit is this process's share of a maxconn limit: the workers
// split it evenly, and spread connections evenly (acceptTurn), so that
// together they hold about as many as haproxy would.
func (w *Workers) connLimit(max int) int {
	if w == nil || max <= 0 {
		return max
	}
	return (max + w.Count - 1) / w.Count
}

// followLeader keeps a follower in step with what the leader's checks
// and resolvers decide, beyond what it reads from the shared state on
// each request: it takes the addresses DNS gave servers, and with
// "on-marked-down shutdown-sessions" it closes its own connections to a
// server marked down. It looks every downPoll (a server down and up
// again between two looks, which takes rise checks, keeps its
// connections).
func (e *Engine) followLeader(gen *generation) {
	var watched, named []*serverState
	for _, bs := range gen.backends {
		for _, ss := range bs.servers {
			if ss.cfg.ShutdownOnDown {
				watched = append(watched, ss)
			}
			if ss.cfg.Resolvers != nil || ss.cfg.SRVName != "" {
				named = append(named, ss)
			}
		}
	}
	if len(watched) == 0 && len(named) == 0 {
		return
	}
	wasUp := make([]bool, len(watched))
	for i, s := range watched {
		wasUp[i] = s.up.Load()
	}
	seen := make([]uint32, len(named))
	follow := func() {
		for i, s := range named {
			if addr, none, seq := s.addr.load(); seq != seen[i] {
				s.useAddr(addr, none)
				seen[i] = seq
			}
		}
	}
	follow() // the leader set them before it started this follower
	ctx, cancel := context.WithCancel(context.Background())
	gen.stopChecks = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(downPoll)
		defer t.Stop()
		for {
			select {
			case <-e.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			follow()
			for i, s := range watched {
				up := s.up.Load()
				if wasUp[i] && !up {
					s.shutdownSessions()
				}
				wasUp[i] = up
			}
		}
	}()
}

// downPoll is how often a follower looks for what the leader's checks
// and resolvers changed.
const downPoll = 10 * time.Millisecond
