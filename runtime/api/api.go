// Package api serves haproxy's runtime API ("stats socket"): operators
// send text commands such as "show stat" or "disable server be/s1" on a
// unix or TCP socket and read haproxy's answers. It parses the command
// lines and drives the running engine through the narrow Engine
// interface; the engine keeps the state.
package api

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"gohap/runtime"
	"gohap/runtime/rules"
)

// Engine is what the commands act on: *runtime.Engine.
type Engine interface {
	Info() runtime.Info
	WriteStats(b *bytes.Buffer)
	Server(backend, server string) (*runtime.Server, error)
}

var _ Engine = (*runtime.Engine)(nil)

// Vars reads the process-wide variables (proc.NAME): *shm.Store, the
// store "gohap -S" writes.
type Vars interface {
	Get(name string) (string, bool)
}

// Config is what New needs.
type Config struct {
	Engine Engine
	// Vars are the proc variables "get var" reads; nil: none is found.
	Vars Vars
	// Name and Version are what "show info" and "show version" report.
	Name, Version string
	// Log receives socket errors and the server state changes commands
	// make; nil discards them.
	Log *log.Logger
}

// defaultTimeout is haproxy's "stats timeout" default: how long a
// connection may stay idle.
const defaultTimeout = 10 * time.Second

// defaultMaxConn is haproxy's "stats maxconn" default.
const defaultMaxConn = 10

// Server serves the runtime API on the sockets of the running
// configuration. Its methods are safe for concurrent use.
type Server struct {
	cfg Config

	mu     sync.Mutex // guards the fields below
	socks  map[string]*socket
	conns  map[net.Conn]struct{}
	closed bool
	// maxConn bounds the connections ("stats maxconn"): past it the
	// sockets stop accepting and clients wait unanswered, as in haproxy.
	// slot is signalled when a connection ends.
	maxConn int
	slot    *sync.Cond

	wg sync.WaitGroup // accept loops and connections
}

// New returns a Server that listens nowhere until Apply.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = log.New(io.Discard, "", 0)
	}
	s := &Server{cfg: cfg, socks: map[string]*socket{}, conns: map[net.Conn]struct{}{}, maxConn: defaultMaxConn}
	s.slot = sync.NewCond(&s.mu)
	return s
}

// Apply makes g's "stats socket" lines the sockets served, at start and
// on each reload. A socket whose address stays is kept open and takes the
// new level, mode and owner; new ones are opened before anything changes,
// and if one fails Apply closes what it opened and returns the error,
// leaving the sockets as they were. Sockets g no longer names are closed
// and their files removed.
func (s *Server) Apply(g rules.Global) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("runtime API: closed")
	}
	timeout := g.StatsTimeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	next := make(map[string]*socket, len(g.StatsSockets))
	var fresh []*socket
	var kept []rules.StatsSocket
	for _, sc := range g.StatsSockets {
		key := sc.Network + "@" + sc.Addr
		if next[key] != nil {
			continue // the same address twice: haproxy's second bind fails too
		}
		sock := s.socks[key]
		if sock == nil {
			var err error
			if sock, err = listen(sc); err != nil {
				for _, f := range fresh {
					f.close()
				}
				return err
			}
			fresh = append(fresh, sock)
			sock.opts.Store(&sockOpts{level: sc.Level, timeout: timeout})
		} else {
			kept = append(kept, sc)
		}
		next[key] = sock
	}
	// Every new socket is open: only now may the kept ones change.
	for _, sc := range kept {
		sock := next[sc.Network+"@"+sc.Addr]
		if err := sock.setFile(sc); err != nil {
			s.cfg.Log.Printf("stats socket %s: %v", sc.Addr, err)
		}
		sock.opts.Store(&sockOpts{level: sc.Level, timeout: timeout})
	}
	for key, sock := range s.socks {
		if next[key] == nil {
			sock.close()
		}
	}
	s.socks = next
	s.maxConn = g.StatsMaxConn
	if s.maxConn <= 0 {
		s.maxConn = defaultMaxConn
	}
	s.slot.Broadcast() // a higher limit frees waiting sockets
	for _, sock := range fresh {
		s.wg.Add(1)
		go s.serve(sock)
	}
	return nil
}

// Listeners returns how many sockets the API listens on.
func (s *Server) Listeners() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.socks)
}

// Close closes the sockets (removing their files) and the connections,
// and waits for them to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, sock := range s.socks {
		sock.close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.slot.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// serve accepts the connections of sock until it closes.
func (s *Server) serve(sock *socket) {
	defer s.wg.Done()
	var delay time.Duration // after a failed accept, as net/http's Serve
	for {
		if !s.waitSlot() {
			return
		}
		c, err := sock.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE) or the like: the socket stays,
			// and accepts again once some are free.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.cfg.Log.Printf("stats socket: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serveConn(c, sock.opts.Load())
		}()
	}
}

// waitSlot waits until fewer than maxConn connections are open; it
// reports false once the server is closed.
func (s *Server) waitSlot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitSlotLocked()
}

func (s *Server) waitSlotLocked() bool {
	for !s.closed && len(s.conns) >= s.maxConn {
		s.slot.Wait()
	}
	return !s.closed
}

// track registers c so Close can end it, once under maxConn: another
// socket may have taken the last slot since waitSlot, and c then waits
// unanswered as it would have in the backlog. It reports false once
// closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.waitSlotLocked() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.slot.Broadcast() // accept loops and accepted connections wait alike
	s.mu.Unlock()
	c.Close()
}
