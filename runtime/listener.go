package runtime

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"gohap/runtime/rules"
)

// listener is one bound address of a frontend and its accept loop. A
// reload that keeps the address keeps the listener and swaps its cfg, so
// no connection is refused while the configuration changes.
type listener struct {
	e   *Engine
	ln  net.Listener
	key string // bindKey of the address
	cfg atomic.Pointer[listenCfg]
	// goKA: ln was made from a descriptor, and Go turns TCP keep-alive
	// on, with its own timers, for the connections it accepts.
	goKA bool
}

// listenCfg is what a listener takes from its frontend's bind line.
type listenCfg struct {
	feIndex int
	feName  string
	// acceptProxy: read a PROXY header first, then start TLS with tls
	// (nil: none) on the connection itself.
	acceptProxy bool
	tls         *tls.Config
}

// serve accepts connections until the listener is closed, starting one
// goroutine per connection.
func (l *listener) serve() {
	defer l.e.wg.Done()
	// The maxconn slots are the listener's: a reload that keeps the
	// listener keeps its limit.
	var sem chan struct{}
	gen := l.e.gen.Load()
	lc := l.cfg.Load()
	fe := gen.frontend(lc.feIndex, lc.feName)
	maxConn := 0
	if fe != nil {
		maxConn = fe.MaxConn
	}
	if maxConn == 0 {
		maxConn = gen.g.Global.MaxConn
	}
	maxConn = l.e.workers.connLimit(maxConn)
	if maxConn > 0 {
		sem = make(chan struct{}, maxConn)
	}
	backoff := 5 * time.Millisecond
	l.e.awaitFollowers()
	for {
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-l.e.done:
				return
			}
		}
		if !l.waitRate() {
			if sem != nil {
				<-sem
			}
			return
		}
		l.e.acceptTurn()
		c, err := l.ln.Accept()
		if err != nil {
			if sem != nil {
				<-sem
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !l.e.pause(backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		lc, gen := l.cfg.Load(), l.e.gen.Load()
		if fe := gen.frontend(lc.feIndex, lc.feName); fe != nil {
			l.e.clientKeepAlive(c, fe.Options.ClientTCPKA, l.goKA)
		}
		if lc.tls != nil && !lc.acceptProxy {
			// The handshake runs on the first read, in the connection's
			// goroutine.
			c = tls.Server(c, lc.tls)
		}
		if lc.feIndex < len(gen.frontends) {
			gen.frontends[lc.feIndex].sessions.Add(1)
			if !l.admit(gen, lc) {
				c.Close()
				if sem != nil {
					<-sem
				}
				return
			}
		}
		s := l.e.newSession(c, lc.feIndex, lc.feName)
		s.ln, s.sem = l, sem
		if !l.e.track(s) {
			c.Close()
			l.e.putSession(s)
			if sem != nil {
				<-sem
			}
			return
		}
		l.e.wg.Add(1)
		if lc.acceptProxy {
			go l.runProxied(s, lc.tls, sem)
		} else {
			go l.run(s, sem)
		}
	}
}

// waitRate holds the accept loop while the frontend is at its "rate-limit
// sessions": new connections wait in the kernel's backlog, as in haproxy.
// It reports false when the engine stops.
func (l *listener) waitRate() bool {
	for {
		gen, lc := l.e.gen.Load(), l.cfg.Load()
		fe := gen.frontend(lc.feIndex, lc.feName)
		if fe == nil || fe.RateLimitSessions == 0 || lc.feIndex >= len(gen.sessRates) {
			return true
		}
		wait := gen.sessRates[lc.feIndex].Wait(time.Now().UnixMilli(), uint32(fe.RateLimitSessions))
		if wait == 0 {
			return true
		}
		if !l.e.pause(time.Duration(wait) * time.Millisecond) {
			return false
		}
	}
}

// admit counts the connection just accepted in its frontend's session
// rate. Under "rate-limit sessions" the check and the count are one step,
// as other worker processes count in the same rate: a connection over the
// limit waits here, as it would have waited in the backlog, until the
// rate lets it in. It reports false when the engine stops.
func (l *listener) admit(gen *generation, lc *listenCfg) bool {
	rate := gen.sessRates[lc.feIndex]
	fe := gen.frontend(lc.feIndex, lc.feName)
	if fe == nil || fe.RateLimitSessions == 0 {
		rate.Add(time.Now().UnixMilli())
		return true
	}
	for {
		wait := rate.Admit(time.Now().UnixMilli(), uint32(fe.RateLimitSessions))
		if wait == 0 {
			return true
		}
		if !l.e.pause(time.Duration(wait) * time.Millisecond) {
			return false
		}
	}
}

// pause waits d; it reports false, at once, when the engine closes
// meanwhile.
func (e *Engine) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.done:
		return false
	case <-t.C:
		return true
	}
}

// runProxied reads the PROXY header of a new connection, then serves it
// as run does; a connection without a valid header is closed.
func (l *listener) runProxied(s *session, tlsCfg *tls.Config, sem chan struct{}) {
	if !s.acceptProxy(tlsCfg, l.e.gen.Load().frontend(s.feIndex, s.feName)) {
		s.c.Close()
		l.e.untrack(s)
		l.e.putSession(s)
		if sem != nil {
			<-sem
		}
		l.e.wg.Done()
		return
	}
	l.run(s, sem)
}

// run serves s, then closes its connection and gives back its maxconn
// slot and its count of Engine.wg, unless the connection was parked: the
// parker owns them then.
func (l *listener) run(s *session, sem chan struct{}) {
	fe := l.e.gen.Load().frontend(s.feIndex, s.feName)
	if fe != nil && (s.accepted || s.acceptConn(fe)) {
		if fe.Mode == rules.ModeHTTP {
			s.serveHTTP()
		} else {
			s.serveTCP(fe)
		}
	}
	parked := s.parked
	if !parked {
		s.c.Close()
	}
	l.e.untrack(s)
	l.e.putSession(s)
	if parked {
		return
	}
	if sem != nil {
		<-sem
	}
	l.e.wg.Done()
}
