package runtime

import "gohap/runtime/rules"

// serveTCP proxies a "mode tcp" connection: pick a backend (switching
// rules see only the addresses), a server, connect with retries, then
// relay both ways until both sides closed.
func (s *session) serveTCP(fe *rules.Frontend) {
	gen := s.e.gen.Load()
	t := &s.txn
	t.Reset()
	t.Src, t.Dst, t.Vars, t.State = s.src, s.dst, s.e.vars, gen
	be := fe.DefaultBackend
	for i := range fe.Switching {
		if sw := &fe.Switching[i]; sw.Cond.Eval(t) {
			be = sw.Backend
			break
		}
	}
	bs := gen.backend(be)
	if bs == nil {
		return
	}
	srv := s.take(bs)
	if srv == nil {
		return
	}
	sc := s.dialRetries(bs, srv)
	if sc == nil {
		srv.release()
		return
	}
	defer moveSlot(srv, sc.s).release()
	s.setCur(sc.c)
	s.tunnel(&sc.side, fe, be)
	s.setCur(nil)
	s.e.closeSrv(sc)
}
