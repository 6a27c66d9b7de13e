// Package runtime owns gohap's sockets: it binds the frontends of a
// rules.Graph, proxies HTTP and TCP connections to the backends' servers,
// balances load, runs health checks and keeps the live server state.
package runtime

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"gohap/runtime/rules"
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
}

// Engine runs one configuration: its listeners, proxies and checks. Its
// methods are safe for concurrent use.
type Engine struct {
	log  *log.Logger
	vars rules.VarStore
	gen  atomic.Pointer[generation]

	done chan struct{} // closed by Close

	mu        sync.Mutex // guards the fields below
	started   bool
	closed    bool
	listeners []*listener
	conns     map[*session]struct{}
	checks    []*checker

	park       *parker // idle client connections, started on first use
	parkFailed bool    // epoll is not available

	wg       sync.WaitGroup // accept loops, sessions, parked connections and checks
	sessions sync.Pool      // *session
	srvConns sync.Pool      // *srvConn
}

// generation is a Graph with the live state of its backends. A reload
// would build a new one and swap Engine.gen; requests keep the generation
// they started with.
type generation struct {
	g        *rules.Graph
	backends []*backendState // by rules.Backend.Index
}

var _ rules.StateView = (*generation)(nil)

// Usable reports how many servers of b can take traffic now.
func (g *generation) Usable(b *rules.Backend) int {
	if bs := g.backend(b); bs != nil {
		return bs.usable()
	}
	return 0
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

// New checks cfg and builds an Engine; nothing is bound until Start.
func New(cfg Config) (*Engine, error) {
	if cfg.Graph == nil {
		return nil, errors.New("runtime: nil graph")
	}
	e := &Engine{
		log:   cfg.Log,
		vars:  cfg.Vars,
		done:  make(chan struct{}),
		conns: make(map[*session]struct{}),
	}
	if e.log == nil {
		e.log = log.New(io.Discard, "", 0)
	}
	if e.vars == nil {
		e.vars = noVars{}
	}
	gen := &generation{g: cfg.Graph}
	for i, b := range cfg.Graph.Backends {
		if b.Index != i {
			return nil, fmt.Errorf("runtime: backend %s has index %d, want %d", b.Name, b.Index, i)
		}
		gen.backends = append(gen.backends, newBackendState(b))
	}
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
	var lns []*listener
	for fi, fe := range gen.g.Frontends {
		for _, b := range fe.Binds {
			ln, err := bind(b)
			if err != nil {
				for _, l := range lns {
					l.ln.Close()
				}
				return fmt.Errorf("frontend %s: cannot bind %s: %w", fe.Name, bindName(b), err)
			}
			lns = append(lns, &listener{e: e, ln: ln, feIndex: fi, feName: fe.Name, acceptProxy: b.AcceptProxy, tls: b.TLS})
		}
	}
	e.started = true
	e.listeners = lns
	e.startChecks(gen)
	for _, l := range lns {
		e.wg.Add(1)
		go l.serve()
	}
	return nil
}

// useFD reports whether b names an inherited socket: FD > 0, or FD 0 with
// no address (a zero Bind with an address binds the address).
func useFD(b rules.Bind) bool { return b.FD > 0 || (b.FD == 0 && b.Addr == "") }

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
	ln, err := net.Listen(network, b.Addr)
	if err != nil || b.TLS == nil || b.AcceptProxy {
		// With accept-proxy, TLS starts after the header, per connection.
		return ln, err
	}
	// The handshake runs on the first read, in the connection's goroutine.
	return tls.NewListener(ln, b.TLS), nil
}

// Addrs returns the addresses frontend is bound to, in bind order; nil
// before Start or for an unknown frontend.
func (e *Engine) Addrs(frontend string) []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []net.Addr
	for _, l := range e.listeners {
		if l.feName == frontend {
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
	var err error
	for _, l := range e.listeners {
		if cerr := l.ln.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	for s := range e.conns {
		s.abort()
	}
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
	return true
}

func (e *Engine) untrack(s *session) {
	e.mu.Lock()
	delete(e.conns, s)
	e.mu.Unlock()
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
