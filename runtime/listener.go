package runtime

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"gohap/runtime/rules"
)

// listener is one bound address of a frontend and its accept loop.
type listener struct {
	e       *Engine
	ln      net.Listener
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
	var sem chan struct{}
	gen := l.e.gen.Load()
	fe := gen.frontend(l.feIndex, l.feName)
	maxConn := 0
	if fe != nil {
		maxConn = fe.MaxConn
	}
	if maxConn == 0 {
		maxConn = gen.g.Global.MaxConn
	}
	if maxConn > 0 {
		sem = make(chan struct{}, maxConn)
	}
	backoff := 5 * time.Millisecond
	for {
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-l.e.done:
				return
			}
		}
		c, err := l.ln.Accept()
		if err != nil {
			if sem != nil {
				<-sem
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-l.e.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s := l.e.newSession(c, l.feIndex, l.feName)
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
		if l.acceptProxy {
			go l.runProxied(s, sem)
		} else {
			go l.run(s, sem)
		}
	}
}

// runProxied reads the PROXY header of a new connection, then serves it
// as run does; a connection without a valid header is closed.
func (l *listener) runProxied(s *session, sem chan struct{}) {
	if !s.acceptProxy(l.tls, l.e.gen.Load().frontend(s.feIndex, s.feName)) {
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
	if fe != nil && (len(fe.TCPConnection) == 0 || s.acceptConn(fe)) {
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
