// Package runtime owns gohap's sockets: it binds the frontends of a
// rules.Graph, proxies HTTP and TCP connections to the backends' servers,
// balances load, runs health checks and keeps the live server state.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gohap/runtime/rules"
	"gohap/shm"
)

// Config is what New needs to build an Engine.
type Config struct {
	// Graph is the checked configuration to run. It must not be nil.
	Graph *rules.Graph
	// Vars is the shared-memory variable store the rules read; nil means
	// every variable reads as unset.
	Vars rules.VarStore
	// Log receives server state changes and errors; nil discards them.
	Log *log.Logger
	// Workers, when set, makes the engine one of several processes that
	// serve the configuration together; nil: it serves alone.
	Workers *Workers
}

// Engine runs one configuration: its listeners, proxies and checks. Its
// methods are safe for concurrent use.
type Engine struct {
	log   *log.Logger
	vars  rules.VarStore
	gen   atomic.Pointer[generation]
	start time.Time // when New built the engine

	done chan struct{} // closed by Close
	// stopping is set by SoftStop: connections close after the request
	// they serve.
	stopping atomic.Bool
	// workers is Config.Workers; nil when the engine serves alone.
	workers *Workers
	// pid is the proxy's process id, which logs show: the leader's.
	pid int
	// proc is the state of the whole proxy, across reloads: shared by
	// the worker processes.
	proc *procLive

	mu        sync.Mutex // guards the fields below
	started   bool
	closed    bool
	listeners []*listener
	conns     map[*session]struct{}

	park       *parker // idle client connections, started on first use
	parkFailed bool    // epoll is not available

	wg       sync.WaitGroup // accept loops, sessions, parked connections and checks
	sessions sync.Pool      // *session
	srvConns sync.Pool      // *srvConn
	bufs     bufPools       // the connections' buffers not in use
	comp     compPools      // compression writers

	logs logSinks // the log targets' sockets
	// sysKA is TCP keep-alive with the system's timers, for connections
	// Go set up with its own (tcpka.go).
	sysKA net.KeepAliveConfig
}

// generation is a Graph with the live state of its backends. A reload
// builds a new one and swaps Engine.gen; requests keep the generation
// they started with.
type generation struct {
	g         *rules.Graph
	backends  []*backendState // by rules.Backend.Index
	frontends []*counters     // by position in g.Frontends
	// sessRates are the frontends' rates of new connections, for
	// "rate-limit sessions", by position in g.Frontends.
	sessRates []*rules.SessionRate
	// region holds the shared part of the state; nil: process memory.
	region *shm.Region
	// follower: the state is the leader's, which this process follows.
	follower bool
	start    time.Time // when the generation was built (by the leader)
	// stopChecks ends the generation's health checks; nil before they
	// start.
	stopChecks context.CancelFunc
	// dnsStop is closed to end the generation's DNS resolutions; nil
	// when it has none.
	dnsStop chan struct{}
	// stopExt ends the background work of the graph's extensions (Lua
	// tasks); nil before they start.
	stopExt context.CancelFunc
	// logs is the logging of each frontend, by position in g.Frontends;
	// nil: it logs nothing.
	logs []*feLog
}

// newGeneration builds the live state of g's backends: in process
// memory, or in a shared region of the right size when the engine is one
// of several workers. A follower finds the region as the leader laid it
// out, and fails if its own configuration lays it out otherwise.
func (e *Engine) newGeneration(g *rules.Graph) (*generation, error) {
	if e.workers == nil {
		return buildGeneration(g, nil, nil, false)
	}
	gen, r, err := layOut(e.workers, func(r *shm.Region, follower bool) (*generation, error) {
		return buildGeneration(g, r, e.workers, follower)
	})
	if err != nil {
		return nil, err
	}
	gen.region = r
	return gen, nil
}

// buildGeneration builds the live state of g, its shared part in r, for
// workers w (nil: this process alone).
func buildGeneration(g *rules.Graph, r *shm.Region, w *Workers, follower bool) (*generation, error) {
	gen := &generation{g: g, start: time.Now(), follower: follower}
	// The configuration started when the leader built it.
	start := shm.Alloc[atomic.Int64](r)
	if follower {
		gen.start = time.Unix(0, start.Load())
	} else {
		start.Store(gen.start.UnixNano())
	}
	for range g.Frontends {
		gen.frontends = append(gen.frontends, shm.Alloc[counters](r))
		gen.sessRates = append(gen.sessRates, shm.Alloc[rules.SessionRate](r))
	}
	for i, b := range g.Backends {
		if b.Index != i {
			return nil, fmt.Errorf("runtime: backend %s has index %d, want %d", b.Name, b.Index, i)
		}
		gen.backends = append(gen.backends, newBackendState(b, r, w, follower))
	}
	return gen, nil
}

var _ rules.StateView = (*generation)(nil)

// Usable reports how many servers of b can take traffic now.
func (g *generation) Usable(b *rules.Backend) int {
	if bs := g.backend(b); bs != nil {
		return bs.usable()
	}
	return 0
}

// feCounters returns the counters of frontend number i, or nil.
func (g *generation) feCounters(i int) *counters {
	if i < 0 || i >= len(g.frontends) {
		return nil
	}
	return g.frontends[i]
}

// ServerStatus reports the status of s as the statistics page words it.
func (g *generation) ServerStatus(s *rules.Server) string {
	if bs := g.backend(s.Backend); bs != nil && s.Index < len(bs.servers) {
		st, _ := bs.servers[s.Index].status()
		return st
	}
	return ""
}

// backend returns the live state of b, or nil if b is not in g.
func (g *generation) backend(b *rules.Backend) *backendState {
	if b == nil || b.Index < 0 || b.Index >= len(g.backends) {
		return nil
	}
	bs := g.backends[b.Index]
	if bs.cfg != b {
		return nil
	}
	return bs
}

// noVars is the VarStore used when Config.Vars is nil.
type noVars struct{}

func (noVars) Load(_ int, dst []byte) []byte { return dst[:0] }

func (noVars) Equal(int, []byte) bool { return false }

func (noVars) SetSlot(int, []byte) {}

// New checks cfg and builds an Engine; nothing is bound until Start.
func New(cfg Config) (*Engine, error) {
	if cfg.Graph == nil {
		return nil, errors.New("runtime: nil graph")
	}
	e := &Engine{
		log:     cfg.Log,
		vars:    cfg.Vars,
		start:   time.Now(),
		done:    make(chan struct{}),
		conns:   make(map[*session]struct{}),
		workers: cfg.Workers,
		pid:     os.Getpid(),
		sysKA:   sysKeepAlive(),
	}
	if cfg.Workers != nil && cfg.Workers.LeaderPID > 0 {
		e.pid = cfg.Workers.LeaderPID
	}
	if e.log == nil {
		e.log = log.New(io.Discard, "", 0)
	}
	if e.vars == nil {
		e.vars = noVars{}
	}
	proc, err := e.workers.procState()
	if err != nil {
		return nil, err
	}
	e.proc = proc
	if e.workers.follower() {
		e.start = time.Unix(0, proc.start.Load())
	} else {
		proc.start.Store(e.start.UnixNano())
	}
	gen, err := e.newGeneration(cfg.Graph)
	if err != nil {
		return nil, err
	}
	gen.logs = e.openLogs(cfg.Graph)
	e.gen.Store(gen)
	return e, nil
}

// Start binds every frontend's addresses, starts the health checks and
// starts serving. If any bind fails, the ones already opened are closed
// and the error names the frontend and address.
func (e *Engine) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("runtime: engine closed")
	}
	if e.started {
		return errors.New("runtime: engine already started")
	}
	gen := e.gen.Load()
	if err := initAddrs(gen); err != nil {
		return err
	}
	if err := e.startResolvers(gen); err != nil {
		return err
	}
	plan, err := e.bindAll(gen, nil)
	if err != nil {
		gen.stopResolvers()
		return err
	}
	// Before Lua's init functions, as haproxy sets them while it reads
	// the configuration. Filling an unset variable is harmless if the
	// start then fails. The leader does it for every worker.
	if !e.workers.follower() {
		gen.g.InitVars(e.vars)
	}
	if err := e.startExtensions(gen); err != nil {
		closeFresh(plan)
		gen.stopResolvers()
		return err
	}
	e.started = true
	e.startTrimming()
	e.startChecks(gen)
	e.listeners = e.useListeners(plan)
	e.workers.accepting(e.proc, true)
	return nil
}

// startExtensions starts what gen's graph brings along (Lua init
// functions and tasks). Called with e.mu held.
func (e *Engine) startExtensions(gen *generation) error {
	ctx, cancel := context.WithCancel(context.Background())
	gen.stopExt = cancel
	for _, x := range gen.g.Extensions {
		if err := x.Start(ctx, e.log, gen, !e.workers.follower()); err != nil {
			e.stopExtensions(gen)
			return err
		}
	}
	return nil
}

// stopExtensions ends gen's extensions; e.wg waits for their goroutines.
// Called with e.mu held.
func (e *Engine) stopExtensions(gen *generation) {
	if gen.stopExt == nil {
		return
	}
	gen.stopExt()
	gen.stopExt = nil
	for _, x := range gen.g.Extensions {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			x.Wait()
		}()
	}
}

// closeFresh closes the listeners plan opened.
func closeFresh(plan []binding) {
	for _, p := range plan {
		if p.fresh {
			p.l.ln.Close()
		}
	}
}

// binding is one listener of a configuration and what it serves: a new
// one, or one a reload takes over from the configuration before.
type binding struct {
	l     *listener
	cfg   *listenCfg
	fresh bool
}

// bindAll opens a listener for every bind of gen's frontends, taking over
// the listener of old that already holds the address. On error it closes
// what it opened and old stays as it was.
func (e *Engine) bindAll(gen *generation, old []*listener) ([]binding, error) {
	// An old listener is found by the address its bind line gave, or by
	// the one it got ("127.0.0.1:0" binds a port the new line may name).
	free := make(map[string]*listener, 2*len(old))
	for _, l := range old {
		if !strings.HasSuffix(l.key, ":0") { // port 0: any port, not this one
			free[l.key] = l
		}
		free[l.ln.Addr().Network()+"@"+l.ln.Addr().String()] = l
	}
	taken := make(map[*listener]bool, len(old))
	var plan []binding
	for fi, fe := range gen.g.Frontends {
		for _, b := range fe.Binds {
			cfg := &listenCfg{feIndex: fi, feName: fe.Name, acceptProxy: b.AcceptProxy, tls: b.TLS}
			e.shareTickets(b.TLS)
			key := bindKey(b)
			if l := free[key]; l != nil && !taken[l] {
				taken[l] = true
				plan = append(plan, binding{l: l, cfg: cfg})
				continue
			}
			ln, err := e.workers.listen(len(plan))
			fromFD := ln != nil || useFD(b)
			if err == nil && ln == nil {
				ln, err = bind(b)
			}
			if err != nil {
				closeFresh(plan)
				return nil, fmt.Errorf("frontend %s: cannot bind %s: %w", fe.Name, bindName(b), err)
			}
			plan = append(plan, binding{l: &listener{e: e, ln: ln, key: key, goKA: fromFD}, cfg: cfg, fresh: true})
		}
	}
	return plan, nil
}

// useListeners gives each listener of plan its configuration and starts
// the accept loops of the new ones; it returns the listeners. Called with
// e.mu held.
func (e *Engine) useListeners(plan []binding) []*listener {
	lns := make([]*listener, 0, len(plan))
	for _, p := range plan {
		p.l.cfg.Store(p.cfg)
		lns = append(lns, p.l)
	}
	for _, p := range plan {
		if p.fresh {
			e.wg.Add(1)
			go p.l.serve()
		}
	}
	return lns
}

// useFD reports whether b names an inherited socket: FD > 0, or FD 0 with
// no address (a zero Bind with an address binds the address).
func useFD(b rules.Bind) bool { return b.FD > 0 || (b.FD == 0 && b.Addr == "") }

// bindKey names the socket a bind opens; a reload keeps the listener of a
// key the new configuration still has.
func bindKey(b rules.Bind) string {
	if useFD(b) {
		return fmt.Sprintf("fd@%d", b.FD)
	}
	network := b.Network
	if network == "" {
		network = "tcp"
	}
	return network + "@" + b.Addr
}

func bindName(b rules.Bind) string {
	if useFD(b) {
		return fmt.Sprintf("fd@%d", b.FD)
	}
	return b.Addr
}

func bind(b rules.Bind) (net.Listener, error) {
	if useFD(b) {
		f := os.NewFile(uintptr(b.FD), fmt.Sprintf("fd@%d", b.FD))
		if f == nil {
			return nil, errors.New("invalid file descriptor")
		}
		defer f.Close()
		return net.FileListener(f)
	}
	network := b.Network
	if network == "" {
		network = "tcp"
	}
	// TLS starts per connection, in listener.serve; TCP keep-alive is
	// the frontend's choice (tcpka.go).
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, b.Addr)
}

// Addrs returns the addresses frontend is bound to, in bind order; nil
// before Start or for an unknown frontend.
func (e *Engine) Addrs(frontend string) []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []net.Addr
	for _, l := range e.listeners {
		if l.cfg.Load().feName == frontend {
			out = append(out, l.ln.Addr())
		}
	}
	return out
}

// Close stops the listeners and the checks, closes every connection and
// waits for the engine's goroutines to end.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	e.workers.accepting(e.proc, false)
	var err error
	for _, l := range e.listeners {
		if cerr := l.ln.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	for s := range e.conns {
		s.abort()
	}
	e.stopExtensions(e.gen.Load())
	park := e.park
	e.mu.Unlock()
	if park != nil {
		park.close()
	}
	e.wg.Wait()
	for _, bs := range e.gen.Load().backends {
		for _, ss := range bs.servers {
			ss.idle.closeAll()
		}
	}
	e.logs.close()
	return err
}

// track registers s so Close can abort it; it reports false when the
// engine is closing.
func (e *Engine) track(s *session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[s] = struct{}{}
	e.proc.actconn.Add(1)
	e.proc.conns[e.workers.index()].Add(1)
	if c := e.gen.Load().feCounters(s.feIndex); c != nil {
		s.feConnCtr = c
		c.cur.Add(1)
	}
	return true
}

func (e *Engine) untrack(s *session) {
	e.mu.Lock()
	if _, ok := e.conns[s]; ok {
		delete(e.conns, s)
		e.proc.actconn.Add(-1)
		e.proc.conns[e.workers.index()].Add(-1)
	}
	e.mu.Unlock()
	if c := s.feConnCtr; c != nil {
		c.cur.Add(-1)
		s.feConnCtr = nil
	}
}

// frontend returns frontend number i of g when it still is the one named
// name, else the first frontend of that name.
func (g *generation) frontend(i int, name string) *rules.Frontend {
	if i < len(g.g.Frontends) && g.g.Frontends[i].Name == name {
		return g.g.Frontends[i]
	}
	for _, fe := range g.g.Frontends {
		if fe.Name == name {
			return fe
		}
	}
	return nil
}
