package runtime

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"gohap/runtime/rules"
	"gohap/shm"
)

// serverState is the live state of one server; the frozen config is cfg.
// The atomics are safe for concurrent use; health is owned by the server's
// check loop.
type serverState struct {
	cfg *rules.Server
	be  *backendState
	// serverLive is the state every worker process of the proxy shares.
	*serverLive
	// slot is this process's place in serverLive.held.
	slot int
	// name is cfg.Name as bytes, for http-send-name-header.
	name []byte
	// active are the server's open connections, tracked only for
	// on-marked-down shutdown-sessions. Guarded by activeMu.
	activeMu sync.Mutex
	active   map[*srvConn]net.Conn
	// health is HAProxy's check counter, 0..rise+fall-1; the server is up
	// while it is >= rise. Owned by the check loop.
	health int
	idle   idlePool
	// live is the server's current address and cookie value.
	live atomic.Pointer[liveAddr]
	sni  sniConfigs // TLS configurations by server name
}

// serverLive is the part of a server's state that decides where requests
// go: in shared memory when the proxy runs as several worker processes,
// so that the leader's checks and runtime API steer every worker, and
// counters and connection counts are the proxy's, not one process's.
type serverLive struct {
	up  atomic.Bool  // HAProxy's "running": health >= rise
	cur atomic.Int64 // connections currently served
	// nolb: up, but out of load balancing (disable-on-404, "NOLB").
	nolb atomic.Bool
	// admin is what an operator (or "disabled") decided: ready, drain
	// or maintenance.
	admin atomic.Uint32
	// checksOff: "disable health" paused the server's checks.
	checksOff atomic.Bool
	// healthReset: the server left maintenance, up; the check loop sets
	// health to rise before it applies its next result.
	healthReset atomic.Bool
	// bounces counts the server's moves in and out of load balancing
	// (admin state, checks): roundrobin replays a server that went out
	// and came back between two picks, as haproxy saw both moves.
	bounces atomic.Uint32
	// weight is the server's weight: its configured one, or what its
	// SRV record says.
	weight atomic.Int32
	ctr    counters
	// srcPort is the last port taken from a "source" port range.
	srcPort atomic.Uint32
	// held are the connections each worker process (by slot) holds of
	// cur: when a follower dies, the leader takes its share back.
	held [MaxWorkers]atomic.Int32
	// addr is the address DNS gave the server in the leader, which the
	// followers take.
	addr sharedAddr
}

// sharedAddr is an address one process writes and others read: a
// sequence number, odd while it is written, around the address in
// words.
type sharedAddr struct {
	seq  atomic.Uint32
	none atomic.Bool
	n    atomic.Uint32
	w    [8]atomic.Uint64 // up to 64 bytes: IPv6 address and port fit
}

// store writes addr; one writer at a time (the leader's resolvers).
func (a *sharedAddr) store(addr string, none bool) {
	if len(addr) > 8*len(a.w) {
		return // not an address
	}
	a.seq.Add(1)
	var b [64]byte
	copy(b[:], addr)
	for i := range a.w {
		a.w[i].Store(binary.LittleEndian.Uint64(b[8*i:]))
	}
	a.n.Store(uint32(len(addr)))
	a.none.Store(none)
	a.seq.Add(1)
}

// load returns the address and its sequence number; seq 0: never
// written.
func (a *sharedAddr) load() (addr string, none bool, seq uint32) {
	for {
		seq = a.seq.Load()
		if seq&1 != 0 {
			goruntime.Gosched()
			continue
		}
		var b [64]byte
		for i := range a.w {
			binary.LittleEndian.PutUint64(b[8*i:], a.w[i].Load())
		}
		n, none := a.n.Load(), a.none.Load()
		if a.seq.Load() == seq && n <= uint32(len(b)) {
			return string(b[:n]), none, seq
		}
	}
}

// newServerState builds the state of s, its shared part in r (nil:
// process memory). A follower finds it as the leader left it.
func newServerState(s *rules.Server, bs *backendState, r *shm.Region, follower bool) *serverState {
	ss := &serverState{cfg: s, be: bs, name: []byte(s.Name), serverLive: shm.Alloc[serverLive](r)}
	ss.live.Store(newLiveAddr(s, s.Addr, s.CheckAddr))
	rise := s.Rise
	if rise <= 0 {
		rise = defaultRise
	}
	// HAProxy starts a server up, with its health at rise: the first
	// failed check marks it down.
	ss.health = rise
	if follower {
		return ss
	}
	ss.up.Store(true)
	ss.weight.Store(int32(s.Weight))
	if s.Disabled {
		ss.admin.Store(uint32(AdminMaint))
	}
	return ss
}

// liveAddr is where a server is now: its configured address, or the one
// DNS gave it. A change stores a new liveAddr; fields never change.
type liveAddr struct {
	// addr is host:port (a host alone with PortFromClient, or a socket
	// path).
	addr string
	// none: the server has no address (init-addr none, or DNS has none
	// for it) and is in maintenance.
	none bool
	// checkAddr is what checks connect to; empty: addr.
	checkAddr string
	// cookie is the value naming the server in the persistence cookie:
	// "cookie VALUE", or the dynamic one; empty: none.
	cookie string
}

// newLiveAddr builds the live address of srv at addr (an IP:port from
// DNS, or the configured address), with its dynamic cookie if any.
func newLiveAddr(srv *rules.Server, addr string, check string) *liveAddr {
	la := &liveAddr{addr: addr, checkAddr: check, cookie: srv.Cookie}
	be := srv.Backend
	if la.cookie == "" && be != nil && be.Cookie != nil && be.Cookie.Dynamic && be.DynamicCookieKey != "" {
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			la.cookie = rules.DynamicCookie(be.DynamicCookieKey, ap)
		}
	}
	return la
}

// dialAddr returns where to connect to s for a client that reached dst.
func (s *serverState) dialAddr(dst netip.AddrPort) (network, addr string) {
	return s.cfg.DialAddr(s.live.Load().addr, dst)
}

// cookie returns the value that names s in its backend's cookie.
func (s *serverState) cookie() string { return s.live.Load().cookie }

// running reports whether s is up for persistence (haproxy's "not
// stopped"): not in maintenance and passing its checks; draining and
// weight 0 servers still serve the clients their cookie names.
func (s *serverState) running() bool {
	return s.adminState() != AdminMaint && s.up.Load() && !s.live.Load().none
}

// usable reports whether the server may take new traffic: running, not
// draining, and with a weight (HAProxy sends nothing to "weight 0").
func (s *serverState) usable() bool {
	return s.running() && s.weight.Load() != 0 && !s.nolb.Load() && s.adminState() != AdminDrain
}

// full reports whether the server reached its maxconn.
func (s *serverState) full() bool {
	return s.cfg.MaxConn > 0 && s.cur.Load() >= int64(s.cfg.MaxConn)
}

// backendState is the live side of a backend: its servers' states and
// its balancer.
type backendState struct {
	cfg     *rules.Backend
	servers []*serverState // config order
	active  []*serverState
	backup  []*serverState
	bal     Balancer
	queue   srvQueue
	queued  atomic.Int64 // requests waiting in queue
	ctr     *counters    // shared by the worker processes, as serverLive
}

// newBackendState builds the state of b, its shared part in r (nil:
// process memory) for workers w (nil: this process alone); follower:
// another process set it up.
func newBackendState(b *rules.Backend, r *shm.Region, w *Workers, follower bool) *backendState {
	bs := &backendState{cfg: b, ctr: shm.Alloc[counters](r)}
	for _, s := range b.Servers {
		ss := newServerState(s, bs, r, follower)
		ss.slot = w.index()
		bs.servers = append(bs.servers, ss)
		if s.Backup {
			bs.backup = append(bs.backup, ss)
		} else {
			bs.active = append(bs.active, ss)
		}
	}
	bs.bal = newBalancer(b.Balance, bs, r, w, follower)
	return bs
}

// key returns the hashing key of a request of session s (req nil in TCP
// mode); the zero key when the backend does not hash.
func (b *backendState) key(s *session, req *rules.Request) lbKey {
	if h, ok := b.bal.(*hashBalancer); ok {
		return h.key(s.srcKey[:s.srcLen], req)
	}
	return lbKey{}
}

// counts returns how many active and backup servers are usable.
func (b *backendState) counts() (act, bck int) {
	for _, s := range b.active {
		if s.usable() {
			act++
		}
	}
	for _, s := range b.backup {
		if s.usable() {
			bck++
		}
	}
	return act, bck
}

// usable is HAProxy's nbsrv (be_usable_srv): the usable active servers,
// or when there are none, the usable backup servers with "option
// allbackups", else 1 if a backup server is usable (only the first one
// takes traffic).
func (b *backendState) usable() int {
	act, bck := b.counts()
	switch {
	case act > 0:
		return act
	case bck > 0 && !b.cfg.Options.AllBackups:
		return 1
	}
	return bck
}

// pick chooses a server for a request with hashing key key, avoiding
// avoid when another server is usable; nil when none is.
func (b *backendState) pick(key lbKey, avoid *serverState) *serverState {
	if h, ok := b.bal.(*hashBalancer); ok {
		return h.Pick(nil, false, key, avoid) // covers the backup servers too
	}
	for _, s := range b.active {
		if s.usable() {
			return b.bal.Pick(b.active, false, key, avoid)
		}
	}
	if b.cfg.Options.AllBackups {
		return b.bal.Pick(b.backup, true, key, avoid)
	}
	var first *serverState
	for _, s := range b.backup {
		if s.usable() && !s.full() {
			if s != avoid {
				return s
			}
			if first == nil {
				first = s
			}
		}
	}
	return first
}

// idlePool keeps a server's idle keep-alive connections for reuse. Safe
// for concurrent use.
type idlePool struct {
	mu     sync.Mutex
	conns  []*srvConn
	closed bool
}

// maxIdle bounds the idle connections kept per server.
const maxIdle = 256

// get returns an idle connection opened with TLS server name sni (nil:
// none), the most recent first, or nil: as haproxy keys its idle
// connections by name, a request never goes over a connection set up for
// another one.
func (p *idlePool) get(sni []byte) *srvConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.conns) - 1; i >= 0; i-- {
		sc := p.conns[i]
		if !bytes.Equal(sc.sni, sni) {
			continue
		}
		n := len(p.conns) - 1
		copy(p.conns[i:], p.conns[i+1:])
		p.conns[n] = nil
		p.conns = p.conns[:n]
		return sc
	}
	return nil
}

// put keeps sc for reuse; it reports false (and keeps nothing) when the
// pool is full or closed: the caller then closes sc.
func (p *idlePool) put(sc *srvConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.conns) >= maxIdle {
		return false
	}
	p.conns = append(p.conns, sc)
	return true
}

// closeAll closes the idle connections and refuses new ones.
// track records an open connection of a server whose sessions are shut
// down when it goes down.
func (s *serverState) track(sc *srvConn, c net.Conn) {
	s.activeMu.Lock()
	if s.active == nil {
		s.active = map[*srvConn]net.Conn{}
	}
	s.active[sc] = c
	s.activeMu.Unlock()
}

func (s *serverState) untrack(sc *srvConn) {
	s.activeMu.Lock()
	delete(s.active, sc)
	s.activeMu.Unlock()
}

// shutdownSessions closes every connection to the server, busy or idle:
// the sessions using them end, as with haproxy's shutdown-sessions.
func (s *serverState) shutdownSessions() {
	s.activeMu.Lock()
	for _, c := range s.active {
		c.Close()
	}
	s.activeMu.Unlock()
}

func (p *idlePool) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	for _, sc := range conns {
		sc.c.Close()
	}
}
