package runtime

import (
	"errors"

	"gohap/runtime/rules"
)

// AdminState is what an operator decided for a server, as haproxy's
// forced admin flags: the runtime API sets it, a reload resets it to the
// configuration's ("disabled" starts in maintenance).
type AdminState uint32

// The admin states. A server leaves one state for another whole: drain
// ends maintenance and maintenance ends drain, as in haproxy.
const (
	// AdminReady leaves the server to its checks.
	AdminReady AdminState = iota
	// AdminDrain takes no new traffic: only the clients persistence
	// sends to it.
	AdminDrain
	// AdminMaint takes no traffic at all and is not checked.
	AdminMaint
)

// Errors of the server lookup; the runtime API words them as haproxy.
var (
	ErrNoBackend = errors.New("no such backend")
	ErrNoServer  = errors.New("no such server")
)

// Server is a live server of the running configuration, as the runtime
// API reaches it. A reload makes it stale: changes then affect a server
// that no longer serves. Safe for concurrent use.
type Server struct {
	e  *Engine
	ss *serverState
}

// Server returns the server named server of backend, in the running
// configuration.
func (e *Engine) Server(backend, server string) (*Server, error) {
	gen := e.gen.Load()
	for _, bs := range gen.backends {
		if bs.cfg.Name != backend {
			continue
		}
		for _, ss := range bs.servers {
			if ss.cfg.Name == server {
				return &Server{e: e, ss: ss}, nil
			}
		}
		return nil, ErrNoServer
	}
	return nil, ErrNoBackend
}

func (s *serverState) adminState() AdminState { return AdminState(s.admin.Load()) }

// SetAdmin puts the server in state st and logs the change as haproxy.
func (sv *Server) SetAdmin(st AdminState) {
	s := sv.ss
	before := s.be.usable()
	prev := AdminState(s.admin.Swap(uint32(st)))
	if prev == st {
		return
	}
	s.bounces.Add(1)
	who := sv.kind() + " " + s.be.cfg.Name + "/" + s.cfg.Name
	log := sv.e.log
	if prev == AdminMaint {
		// As haproxy, leaving maintenance puts the server up, its checks
		// starting again from rise: the next failed one takes it down.
		s.healthReset.Store(true)
		s.up.Store(true)
	}
	switch st {
	case AdminMaint:
		if !s.up.Load() {
			log.Printf("%s was DOWN and now enters maintenance.", who)
			break
		}
		act, bck := s.be.counts()
		log.Printf("%s is going DOWN for maintenance. %d active and %d backup servers left.%s %d sessions active, 0 requeued, 0 remaining in queue.",
			who, act, bck, runningOnBackup(act, bck), s.cur.Load())
	case AdminDrain:
		if prev == AdminMaint {
			log.Printf("%s is UP/DRAIN (leaving forced maintenance).", who)
			log.Printf("%s remains in forced drain mode.", who)
			break
		}
		act, bck := s.be.counts()
		log.Printf("%s enters drain state. %d active and %d backup servers online.%s 0 sessions requeued, %d total in queue.",
			who, act, bck, runningOnBackup(act, bck), s.be.queued.Load())
	case AdminReady:
		if prev == AdminMaint {
			log.Printf("%s is %s (leaving forced maintenance).", who, sv.upWord("UP/READY"))
		} else {
			log.Printf("%s is %s (leaving forced drain).", who, sv.upWord("UP"))
		}
		s.be.wake()
	}
	if before > 0 && s.be.usable() == 0 {
		log.Printf("backend '%s' has no server available!", s.be.cfg.Name)
	}
}

// upWord is up when the server passes its checks, else DOWN.
func (sv *Server) upWord(up string) string {
	if sv.ss.up.Load() {
		return up
	}
	return "DOWN"
}

func (sv *Server) kind() string {
	if sv.ss.cfg.Backup {
		return "Backup Server"
	}
	return "Server"
}

// Admin returns the server's admin state.
func (sv *Server) Admin() AdminState { return sv.ss.adminState() }

// Weight returns the server's current weight and the one it was
// configured with.
func (sv *Server) Weight() (cur, initial int) {
	return int(sv.ss.weight.Load()), sv.ss.cfg.Weight
}

// SetWeight sets the server's weight (0 to 256). Balancing picks it up
// with the next request; a weight other than 0 or the configured one is
// refused when the backend's algorithm has static weights.
func (sv *Server) SetWeight(w int) error {
	if w < 0 || w > 256 {
		return errors.New("weight out of range")
	}
	if w != 0 && w != sv.ss.cfg.Weight && staticWeights(sv.ss.be.cfg) {
		return ErrStaticWeights
	}
	sv.ss.weight.Store(int32(w))
	if w != 0 {
		sv.ss.be.wake()
	}
	return nil
}

// ErrStaticWeights refuses a weight change the backend's algorithm cannot
// follow.
var ErrStaticWeights = errors.New("backend uses a static algorithm: weights can only be 0 or the configured one")

// staticWeights reports whether be's algorithm fixes weights at start,
// as haproxy's static-rr and map-based hashing: only 0% and 100% apply.
func staticWeights(be *rules.Backend) bool {
	return be.Balance == rules.AlgoStaticRR || (be.Balance.Hashed() && !be.Hash.Consistent)
}

// SetChecks resumes (true) or pauses (false) the server's health checks;
// while paused the server keeps the state its last check gave.
func (sv *Server) SetChecks(on bool) { sv.ss.checksOff.Store(!on) }
