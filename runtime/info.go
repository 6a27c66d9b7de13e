package runtime

import "time"

// Info is what the process can say about itself, for the runtime API's
// "show info": only what gohap tracks.
type Info struct {
	Start     time.Time // when the engine was built: the leader's, in worker processes
	Threads   int       // GOMAXPROCS, or the worker processes' count
	MaxConn   int       // global maxconn; 0: no limit
	CurrConns int64     // client connections open now
	CumConns  int64     // client connections accepted since the last (re)load
	CumReq    int64     // HTTP requests received since the last (re)load
	Listeners int       // frontend sockets bound
	Stopping  bool      // a soft stop is under way
}

// Info returns the process information now.
func (e *Engine) Info() Info {
	gen := e.gen.Load()
	in := Info{Start: e.start, Threads: e.workers.threads(), MaxConn: gen.g.Global.MaxConn, Stopping: e.stopping.Load()}
	for _, n := range frontendConns(gen) {
		in.CurrConns += n
	}
	for _, c := range gen.frontends {
		in.CumConns += c.sessions.Load()
		in.CumReq += c.requests.Load()
	}
	e.mu.Lock()
	in.Listeners = len(e.listeners)
	e.mu.Unlock()
	return in
}
