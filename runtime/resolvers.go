package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"gohap/runtime/rules"
)

// dnsStatus is how a resolution ended, haproxy's RSLV_STATUS_*: each
// failure keeps the last valid answer for its own "hold" period.
type dnsStatus uint8

const (
	dnsValid dnsStatus = iota
	dnsNX
	dnsRefused
	dnsTimeout
	dnsOther
)

func (st dnsStatus) String() string {
	return [...]string{"valid", "NX domain", "query refused", "timeout", "unspecified error"}[st]
}

// hold returns how long a failure of kind st keeps the last valid answer.
func hold(h *rules.Hold, st dnsStatus) time.Duration {
	switch st {
	case dnsNX:
		return h.NX
	case dnsRefused:
		return h.Refused
	case dnsTimeout:
		return h.Timeout
	}
	return h.Other
}

// resolverLoop resolves the names of one resolvers section for the
// servers that use it, one query at a time. Its fields are owned by its
// goroutine.
type resolverLoop struct {
	e    *Engine
	stop <-chan struct{} // the generation's dnsStop
	cfg  *rules.Resolvers
	conn net.PacketConn
	ns   []net.Addr
	buf  []byte
	res  []*resolution
}

// resolution is one name asked for (a host name, or an SRV name), with
// the servers it gives addresses to.
type resolution struct {
	name      string
	srv       bool
	prefer6   bool
	slots     []*dnsSlot
	next      time.Time
	lastValid time.Time
}

// dnsSlot is a server filled by a resolution; for SRV, the record it
// holds ("target:port", empty when free) and when it was last seen.
type dnsSlot struct {
	ss   *serverState
	rec  string
	seen time.Time
}

// srvRecord is one SRV answer with the addresses of its target.
type srvRecord struct {
	target string
	port   uint16
	weight uint16
	ips    []netip.Addr
}

// startResolvers starts one resolution loop per resolvers section that
// servers of gen use, until the engine closes or gen.stopResolvers;
// called by Start and Reload with e.mu held.
func (e *Engine) startResolvers(gen *generation) error {
	if gen.follower {
		return nil // the leader resolves for every worker
	}
	loops := map[*rules.Resolvers]*resolverLoop{}
	var order []*resolverLoop
	for _, bs := range gen.backends {
		for _, ss := range bs.servers {
			cfg := ss.cfg
			if cfg.Resolvers == nil || (cfg.Hostname == "" && cfg.SRVName == "") {
				continue
			}
			l := loops[cfg.Resolvers]
			if l == nil {
				if gen.dnsStop == nil {
					gen.dnsStop = make(chan struct{})
				}
				l = &resolverLoop{e: e, stop: gen.dnsStop, cfg: cfg.Resolvers}
				loops[cfg.Resolvers] = l
				order = append(order, l)
			}
			l.add(ss)
		}
	}
	for _, l := range order {
		if err := l.open(); err != nil {
			for _, o := range order {
				if o.conn != nil {
					o.conn.Close()
				}
			}
			return err
		}
	}
	for _, l := range order {
		e.wg.Add(1)
		go l.run()
	}
	return nil
}

// stopResolvers ends gen's DNS resolutions.
func (gen *generation) stopResolvers() {
	if gen.dnsStop != nil {
		close(gen.dnsStop)
		gen.dnsStop = nil
	}
}

// add gives ss to the resolution of its name, creating it.
func (l *resolverLoop) add(ss *serverState) {
	name, isSRV := ss.cfg.Hostname, false
	if ss.cfg.SRVName != "" {
		name, isSRV = ss.cfg.SRVName, true
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, r := range l.res {
		if r.name == name && r.srv == isSRV {
			r.slots = append(r.slots, &dnsSlot{ss: ss})
			return
		}
	}
	l.res = append(l.res, &resolution{name: name, srv: isSRV, prefer6: ss.cfg.ResolvePrefer != "ipv4",
		slots: []*dnsSlot{{ss: ss}}})
}

// open creates the loop's UDP socket and checks the nameservers.
func (l *resolverLoop) open() error {
	for _, a := range l.cfg.Nameservers {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return fmt.Errorf("resolvers %s: nameserver %s: %w", l.cfg.Name, a, err)
		}
		l.ns = append(l.ns, ua)
	}
	if len(l.ns) == 0 {
		return fmt.Errorf("resolvers %s: no nameserver", l.cfg.Name)
	}
	c, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("resolvers %s: %w", l.cfg.Name, err)
	}
	l.conn, l.buf = c, make([]byte, 65535)
	return nil
}

// run resolves each name when due until the engine closes.
func (l *resolverLoop) run() {
	defer l.e.wg.Done()
	closed := make(chan struct{})
	defer close(closed)
	go func() { // a query in progress ends at once when the loop must stop
		select {
		case <-l.e.done:
		case <-l.stop:
		case <-closed:
		}
		l.conn.Close()
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-l.e.done:
			return
		case <-l.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		next := now.Add(l.cfg.Resolve)
		for _, r := range l.res {
			if !r.next.After(now) {
				l.resolve(r)
			}
			if r.next.Before(next) {
				next = r.next
			}
		}
		t.Reset(time.Until(next))
	}
}

// resolve runs one resolution of r and applies its outcome to its
// servers; the next one is due after "hold valid" when it succeeded,
// "timeout resolve" otherwise.
func (l *resolverLoop) resolve(r *resolution) {
	var st dnsStatus
	now := time.Now()
	if r.srv {
		var recs []srvRecord
		recs, st = l.lookupSRV(r.name)
		if st == dnsValid {
			l.applySRV(r, recs, now)
		}
	} else {
		var ips []netip.Addr
		ips, st = l.lookupHost(r.name, r.prefer6)
		if st == dnsValid {
			l.applyHost(r, ips)
		}
	}
	if st == dnsValid {
		r.lastValid, r.next = now, now.Add(max(l.cfg.Hold.Valid, l.cfg.Resolve))
		return
	}
	r.next = now.Add(l.cfg.Resolve)
	if !r.lastValid.IsZero() && now.Sub(r.lastValid) <= hold(&l.cfg.Hold, st) {
		return // the last valid answer still holds
	}
	for _, s := range r.slots {
		if !s.ss.live.Load().none {
			l.e.log.Printf("Server %s/%s is going DOWN for maintenance (DNS %s status).", s.ss.be.cfg.Name, s.ss.cfg.Name, st)
		}
		s.rec = ""
		s.ss.setAddr("", true)
	}
}

// applyHost gives each server of r an address of ips, in order: its
// current one when DNS still has it and no server of the same backend
// took it, else one of the preferred family that none has, else the
// first preferred one (haproxy's default, without "allow-dup-ip").
func (l *resolverLoop) applyHost(r *resolution, ips []netip.Addr) {
	ips = preferred(ips, r.prefer6)
	used := map[string]bool{}
	for _, s := range r.slots {
		be := s.ss.be.cfg.Name + "/"
		la := s.ss.live.Load()
		if cur := addrIP(la.addr); !la.none && slices.Contains(ips, cur) && !used[be+cur.String()] {
			used[be+cur.String()] = true
			continue
		}
		pick := ips[0]
		for _, ip := range ips {
			if !used[be+ip.String()] {
				pick = ip
				break
			}
		}
		used[be+pick.String()] = true
		l.setIP(s.ss, pick, 0, r.name)
	}
}

// applySRV matches the SRV records to r's servers: a server keeps its
// record while it is in the answer (or for "hold obsolete" after), free
// servers take the new records, and a server without one goes to
// maintenance.
func (l *resolverLoop) applySRV(r *resolution, recs []srvRecord, now time.Time) {
	taken := map[string]bool{}
	byKey := map[string]*srvRecord{}
	for i := range recs {
		rec := &recs[i]
		if len(rec.ips) == 0 {
			continue
		}
		byKey[rec.target+":"+strconv.Itoa(int(rec.port))] = rec
	}
	for _, s := range r.slots {
		if s.rec == "" {
			continue
		}
		if rec, ok := byKey[s.rec]; ok {
			s.seen = now
			taken[s.rec] = true
			l.setSRV(s, rec)
		} else if now.Sub(s.seen) > l.cfg.Hold.Obsolete {
			l.e.log.Printf("Server %s/%s is going DOWN for maintenance (entry removed from SRV record).", s.ss.be.cfg.Name, s.ss.cfg.Name)
			s.rec = ""
			s.ss.setAddr("", true)
		}
	}
	for i := range recs {
		rec := &recs[i]
		key := rec.target + ":" + strconv.Itoa(int(rec.port))
		if taken[key] || byKey[key] == nil {
			continue
		}
		for _, s := range r.slots {
			if s.rec == "" {
				s.rec, s.seen = key, now
				taken[key] = true
				l.setSRV(s, rec)
				break
			}
		}
	}
}

// setSRV gives s the address, port and weight of rec.
func (l *resolverLoop) setSRV(s *dnsSlot, rec *srvRecord) {
	ip := preferred(rec.ips, s.ss.cfg.ResolvePrefer != "ipv4")[0]
	la := s.ss.live.Load()
	if la.none || addrIP(la.addr) != ip || portOf(la.addr) != rec.port {
		l.setIP(s.ss, ip, rec.port, rec.target)
	}
	s.ss.weight.Store(int32((int(rec.weight) + 255) / 256))
}

// setIP moves ss to ip, on port (0: its configured port), and logs it
// with the name that gave it.
func (l *resolverLoop) setIP(ss *serverState, ip netip.Addr, port uint16, name string) {
	cfg := ss.cfg
	if port == 0 {
		if _, p, err := net.SplitHostPort(cfg.Addr); err == nil {
			n, _ := strconv.Atoi(p)
			port = uint16(n)
		}
	}
	addr := ip.String()
	if !cfg.PortFromClient {
		addr = netip.AddrPortFrom(ip, port).String()
	}
	old := ss.live.Load()
	ss.setAddr(addr, false)
	from := "(none)"
	if !old.none {
		from = addrIP(old.addr).String()
	}
	l.e.log.Printf("%s/%s changed its IP from %s to %s by DNS.", ss.be.cfg.Name, cfg.Name, from, ip)
	if old.none {
		l.e.log.Printf("Server %s/%s ('%s') is UP/READY (resolves again).", ss.be.cfg.Name, cfg.Name, name)
	}
}

// setAddr stores the server's new address (none: no address, the server
// is in maintenance), with the checks' address and the dynamic cookie
// that go with it.
func (s *serverState) setAddr(addr string, none bool) {
	s.useAddr(addr, none)
	s.addr.store(addr, none) // for the followers, when workers serve
}

// useAddr is setAddr in this process only.
func (s *serverState) useAddr(addr string, none bool) {
	if none {
		la := *s.live.Load()
		la.none = true
		s.live.Store(&la)
		return
	}
	check := ""
	if s.cfg.CheckPort != 0 {
		host := addr
		if h, _, err := net.SplitHostPort(addr); err == nil {
			host = h
		}
		check = net.JoinHostPort(host, strconv.Itoa(s.cfg.CheckPort))
	}
	s.live.Store(newLiveAddr(s.cfg, addr, check))
}

// preferred returns ips with the preferred family first, or ips alone
// when none is of that family.
func preferred(ips []netip.Addr, prefer6 bool) []netip.Addr {
	var first, rest []netip.Addr
	for _, ip := range ips {
		if ip.Is6() && !ip.Is4In6() == prefer6 {
			first = append(first, ip)
		} else {
			rest = append(rest, ip)
		}
	}
	return append(first, rest...)
}

func addrIP(a string) netip.Addr {
	if ap, err := netip.ParseAddrPort(a); err == nil {
		return ap.Addr()
	}
	ip, _ := netip.ParseAddr(a)
	return ip
}

func portOf(a string) uint16 {
	ap, _ := netip.ParseAddrPort(a)
	return ap.Port()
}

// lookupHost asks for name's addresses of the preferred family, then of
// the other when there are none, as haproxy does.
func (l *resolverLoop) lookupHost(name string, prefer6 bool) ([]netip.Addr, dnsStatus) {
	types := []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	if prefer6 {
		types[0], types[1] = types[1], types[0]
	}
	var st dnsStatus
	for _, t := range types {
		var msg *dnsmessage.Message
		msg, st = l.query(name, t)
		if st != dnsValid {
			if st == dnsNX {
				continue
			}
			return nil, st
		}
		if ips := answerIPs(msg, name); len(ips) > 0 {
			return ips, dnsValid
		}
		st = dnsNX
	}
	return nil, st
}

// lookupSRV asks for name's SRV records and their targets' addresses
// (from the additional records, else with a query of their own).
func (l *resolverLoop) lookupSRV(name string) ([]srvRecord, dnsStatus) {
	msg, st := l.query(name, dnsmessage.TypeSRV)
	if st != dnsValid {
		return nil, st
	}
	var recs []srvRecord
	for _, a := range msg.Answers {
		srv, ok := a.Body.(*dnsmessage.SRVResource)
		if !ok {
			continue
		}
		target := strings.ToLower(strings.TrimSuffix(srv.Target.String(), "."))
		rec := srvRecord{target: target, port: srv.Port, weight: srv.Weight}
		rec.ips = answerIPs(&dnsmessage.Message{Answers: msg.Additionals}, target)
		if len(rec.ips) == 0 {
			rec.ips, _ = l.lookupHost(target, true)
		}
		recs = append(recs, rec)
	}
	return recs, dnsValid
}

// answerIPs returns the A and AAAA records of msg's answers for name.
func answerIPs(msg *dnsmessage.Message, name string) []netip.Addr {
	var ips []netip.Addr
	for _, a := range msg.Answers {
		if !strings.EqualFold(strings.TrimSuffix(a.Header.Name.String(), "."), name) {
			continue
		}
		switch b := a.Body.(type) {
		case *dnsmessage.AResource:
			ips = append(ips, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			ips = append(ips, netip.AddrFrom16(b.AAAA))
		}
	}
	return ips
}

// query sends one question to every nameserver, up to "resolve_retries"
// times, and returns the first answer that matches it.
func (l *resolverLoop) query(name string, t dnsmessage.Type) (*dnsmessage.Message, dnsStatus) {
	qname, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return nil, dnsOther
	}
	for try := 0; try < max(l.cfg.Retries, 1); try++ {
		id := uint16(rand.Uint32())
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: qname, Type: t, Class: dnsmessage.ClassINET})
		b.StartAdditionals()
		var opt dnsmessage.ResourceHeader
		opt.SetEDNS0(l.cfg.PayloadSize, dnsmessage.RCodeSuccess, false)
		b.OPTResource(opt, dnsmessage.OPTResource{})
		q, err := b.Finish()
		if err != nil {
			return nil, dnsOther
		}
		for _, ns := range l.ns {
			l.conn.WriteTo(q, ns)
		}
		msg, err := l.receive(id, qname, t)
		select {
		case <-l.e.done:
			return nil, dnsTimeout
		case <-l.stop:
			return nil, dnsTimeout
		default:
		}
		if err != nil {
			continue
		}
		switch msg.Header.RCode {
		case dnsmessage.RCodeSuccess:
			return msg, dnsValid
		case dnsmessage.RCodeNameError:
			return msg, dnsNX
		case dnsmessage.RCodeRefused:
			return msg, dnsRefused
		}
		return msg, dnsOther
	}
	return nil, dnsTimeout
}

// receive waits "timeout retry" for the answer to question id.
func (l *resolverLoop) receive(id uint16, name dnsmessage.Name, t dnsmessage.Type) (*dnsmessage.Message, error) {
	l.conn.SetReadDeadline(time.Now().Add(l.cfg.Retry))
	for {
		n, _, err := l.conn.ReadFrom(l.buf)
		if err != nil {
			return nil, err
		}
		var msg dnsmessage.Message
		if msg.Unpack(l.buf[:n]) != nil || msg.Header.ID != id || !msg.Header.Response ||
			len(msg.Questions) != 1 || msg.Questions[0].Type != t ||
			!strings.EqualFold(msg.Questions[0].Name.String(), name.String()) {
			continue // a late answer to an earlier question, or garbage
		}
		return &msg, nil
	}
}

// initAddrs gives the servers with a DNS name their first address, with
// their "init-addr" methods (default "last,libc"; gohap keeps no state
// file, so "last" finds nothing). SRV servers start without one.
func initAddrs(gen *generation) error {
	if gen.follower {
		return nil // it takes the leader's (followLeader)
	}
	for _, bs := range gen.backends {
		for _, ss := range bs.servers {
			if err := ss.initAddr(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *serverState) initAddr() error {
	cfg := s.cfg
	if cfg.SRVName != "" {
		s.setAddr("", true)
		return nil
	}
	if cfg.Resolvers == nil || cfg.Hostname == "" {
		return nil
	}
	methods := cfg.InitAddr
	if len(methods) == 0 {
		methods = []rules.InitAddr{{Method: "last"}, {Method: "libc"}}
	}
	port := uint16(0)
	if _, p, err := net.SplitHostPort(cfg.Addr); err == nil {
		n, _ := strconv.Atoi(p)
		port = uint16(n)
	}
	set := func(ip netip.Addr) {
		if cfg.PortFromClient {
			s.setAddr(ip.String(), false)
		} else {
			s.setAddr(netip.AddrPortFrom(ip, port).String(), false)
		}
	}
	for _, m := range methods {
		switch m.Method {
		case "none":
			s.setAddr("", true)
			return nil
		case "ip":
			set(netip.MustParseAddr(m.IP))
			return nil
		case "libc":
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", cfg.Hostname)
			cancel()
			if err == nil && len(ips) > 0 {
				for i := range ips {
					ips[i] = ips[i].Unmap()
				}
				set(preferred(ips, cfg.ResolvePrefer != "ipv4")[0])
				return nil
			}
		}
	}
	return fmt.Errorf("%s: server %s/%s: could not resolve address '%s'", cfg.Pos, s.be.cfg.Name, cfg.Name, cfg.Hostname)
}
