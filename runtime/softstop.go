package runtime

import "time"

// SoftStop is haproxy's soft stop (SIGUSR1): the listeners close, idle
// keep-alive connections close, and busy ones close once their request
// is served. It returns when no client connection is left, logging each
// proxy's totals as haproxy does; with hard-stop-after set, it waits no
// longer than that and then stops hard (hardStop). The caller then calls
// Close, which ends what remains.
func (e *Engine) SoftStop() {
	e.stopping.Store(true)
	e.mu.Lock()
	for _, l := range e.listeners {
		l.ln.Close()
	}
	e.listeners = nil
	e.workers.accepting(e.proc, false)
	park := e.park
	e.mu.Unlock()
	if park != nil {
		park.close()
	}
	gen := e.gen.Load()
	var deadline time.Time
	if d := gen.g.Global.HardStopAfter; d > 0 {
		deadline = time.Now().Add(d)
	}
	e.waitClients(deadline)
	for _, p := range proxiesInOrder(gen) {
		if e.workers.follower() {
			break // the leader reports the proxy's counters
		}
		var fe, be int64
		if c := gen.feCounters(p.fe); c != nil {
			fe = c.sessions.Load()
		}
		if bs := gen.backend(p.be); bs != nil {
			be = bs.ctr.sessions.Load()
		}
		e.log.Printf("Proxy %s stopped (cumulated conns: FE: %d, BE: %d).", p.name, fe, be)
	}
	if !e.noClients() {
		e.hardStop(gen)
	}
}

// hardStop ends what a soft stop left when hard-stop-after ran out, as
// haproxy does: it logs how many connections each frontend still has,
// and takes each request waiting for its server off that connection, so
// that the client gets haproxy's 502 page ("invalid or incomplete
// response") and a close. It waits a moment for those to go out.
func (e *Engine) hardStop(gen *generation) {
	e.log.Printf("soft-stop running for too long, performing a hard-stop.")
	left := map[string]int{}
	e.mu.Lock()
	for s := range e.conns {
		left[s.feName]++
		s.mu.Lock()
		if s.curConn != nil {
			s.curConn.Close()
		}
		s.mu.Unlock()
	}
	e.mu.Unlock()
	for _, fe := range gen.g.Frontends {
		if n := left[fe.Name]; n > 0 {
			e.log.Printf("Proxy %s hard-stopped (%d remaining conns will be closed).", fe.Name, n)
		}
	}
	e.waitClients(time.Now().Add(time.Second))
}

// waitClients waits until every client connection has ended, or until
// deadline (zero: none).
func (e *Engine) waitClients(deadline time.Time) {
	for !e.noClients() && (deadline.IsZero() || time.Now().Before(deadline)) {
		time.Sleep(10 * time.Millisecond)
	}
}

// noClients reports whether every client connection has ended.
func (e *Engine) noClients() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns) == 0
}
