package runtime

import "fmt"

// DumpState logs every proxy's and server's state and connection counts,
// in haproxy's words, as haproxy does on SIGHUP.
func (e *Engine) DumpState() {
	gen := e.gen.Load()
	feConns := frontendConns(gen)
	e.log.Printf("SIGHUP received, dumping servers states.")
	for _, p := range proxiesInOrder(gen) {
		var feAct, beAct, pend, feTot, beTot int64
		if p.fe >= 0 {
			feAct = feConns[p.fe]
			if c := gen.feCounters(p.fe); c != nil {
				feTot = c.sessions.Load()
			}
		}
		var bs *backendState
		if p.be != nil {
			bs = gen.backend(p.be)
		}
		what := "has no servers"
		if bs != nil {
			for _, ss := range bs.servers {
				state := "DOWN"
				if ss.running() {
					state = "UP"
				}
				cur := ss.cur.Load()
				beAct += cur
				e.log.Printf("SIGHUP: Server %s/%s is %s. Conn: %d act, 0 pend, %d tot.",
					p.name, ss.cfg.Name, state, cur, ss.ctr.sessions.Load())
			}
			pend, beTot = bs.queued.Load(), bs.ctr.sessions.Load()
			if len(bs.servers) > 0 {
				act, bck := bs.counts()
				switch {
				case act > 0:
					what = fmt.Sprintf("has %d active servers and %d backup servers available.", act, bck)
				case bck > 0:
					what = "is running on backup servers !"
				default:
					what = "has no server available !"
				}
			}
		}
		if what == "has no servers" {
			what += "."
		}
		e.log.Printf("SIGHUP: Proxy %s %s Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
			p.name, what, feAct, beAct, pend, pend, feTot, beTot)
	}
}
