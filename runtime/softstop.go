package runtime

import "time"

// SoftStop is haproxy's soft stop (SIGUSR1): the listeners close, idle
// keep-alive connections close, and busy ones close once their request
// is served. It returns when no client connection is left or after
// grace (0: no limit), logging each proxy's totals as haproxy does; the
// caller then calls Close, which ends what remains.
func (e *Engine) SoftStop(grace time.Duration) {
	e.stopping.Store(true)
	e.mu.Lock()
	for _, l := range e.listeners {
		l.ln.Close()
	}
	e.listeners = nil
	park := e.park
	e.mu.Unlock()
	if park != nil {
		park.close()
	}
	var deadline time.Time
	if grace > 0 {
		deadline = time.Now().Add(grace)
	}
	for !e.noClients() && (deadline.IsZero() || time.Now().Before(deadline)) {
		time.Sleep(10 * time.Millisecond)
	}
	gen := e.gen.Load()
	for _, p := range proxiesInOrder(gen) {
		var fe, be int64
		if c := gen.feCounters(p.fe); c != nil {
			fe = c.sessions.Load()
		}
		if bs := gen.backend(p.be); bs != nil {
			be = bs.ctr.sessions.Load()
		}
		e.log.Printf("Proxy %s stopped (cumulated conns: FE: %d, BE: %d).", p.name, fe, be)
	}
}

// noClients reports whether every client connection has ended.
func (e *Engine) noClients() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns) == 0
}
