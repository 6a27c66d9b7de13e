package runtime

import (
	"errors"

	"gohap/runtime/rules"
)

// Reload makes g the running configuration, as a haproxy reload does,
// without a new process. Requests that start after it returns use g;
// requests in flight finish with the configuration they started with.
// Addresses both configurations bind stay open throughout, so clients see
// no refused connection; addresses only g binds are bound before anything
// changes, and if one fails Reload returns the error and the running
// configuration stays whole. Server state starts afresh (servers up,
// counters at zero), as in a haproxy reload without a server-state file.
func (e *Engine) Reload(g *rules.Graph) error {
	if g == nil {
		return errors.New("runtime: nil graph")
	}
	next, err := e.newGeneration(g)
	if err != nil {
		return err
	}
	if err := initAddrs(next); err != nil {
		return err
	}
	next.logs = e.openLogs(g)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("runtime: engine closed")
	}
	if !e.started {
		return errors.New("runtime: engine not started")
	}
	if e.stopping.Load() {
		return errors.New("runtime: engine stopping")
	}
	if err := e.startResolvers(next); err != nil {
		return err
	}
	plan, err := e.bindAll(next, e.listeners)
	if err != nil {
		next.stopResolvers()
		return err
	}
	if !e.workers.follower() {
		next.g.InitVars(e.vars)
	}
	if err := e.startExtensions(next); err != nil {
		closeFresh(plan)
		next.stopResolvers()
		return err
	}
	prev := e.gen.Swap(next)
	kept := make(map[*listener]bool, len(plan))
	for _, p := range plan {
		kept[p.l] = true
	}
	for _, l := range e.listeners {
		if !kept[l] {
			l.ln.Close()
		}
	}
	e.listeners = e.useListeners(plan)
	if prev.stopChecks != nil {
		prev.stopChecks()
	}
	prev.stopResolvers()
	e.stopExtensions(prev)
	// Connections to the old servers close as their requests end: the
	// pools refuse them back.
	for _, bs := range prev.backends {
		for _, ss := range bs.servers {
			ss.idle.closeAll()
		}
	}
	e.startChecks(next)
	return nil
}
