package runtime

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// parker holds idle keep-alive client connections without a goroutine,
// a session or buffers, as HAProxy holds them: in an epoll set of its
// own, with a timer for the keep-alive timeout. When one becomes readable
// it is served again by a new goroutine; when its timer fires it is
// closed, as an idle connection whose timeout ran out is. Safe for
// concurrent use.
type parker struct {
	e    *Engine
	epfd int
	wake int // eventfd that stops loop

	mu     sync.Mutex // guards the fields below
	closed bool
	conns  map[int]*parked // by descriptor
	// timeouts are the parked connections with a keep-alive deadline,
	// earliest first (a heap): loop closes them as they run out, so that
	// an idle connection needs no timer of its own.
	timeouts parkHeap
	// chunk is where the next entries are taken from and spare the
	// entries of ended connections, for reuse: the entries of idle
	// connections then sit together, not among what a burst of
	// connections allocated and freed, and a collection can give the
	// burst's memory back whole (the idle benchmark's processes held
	// 0.6 MB less with them).
	chunk []parked
	spare []*parked
}

// parkedChunk is how many parked entries are allocated together.
const parkedChunk = 64

// parked is an idle client connection and what is needed to serve it
// again. It holds a maxconn slot (sem) and a count of Engine.wg, given
// back when the connection ends.
type parked struct {
	// c is the connection; nil once a plain TCP connection was detached
	// from Go's poller to hold only its descriptor, fd, which then
	// belongs to the parked connection.
	c       net.Conn
	fd      int
	l       *listener
	sem     chan struct{}
	feIndex int
	feName  string
	nreq    int
	// deadline is when the keep-alive timeout runs out (UnixNano); 0:
	// none. at is the connection's place in parker.timeouts, -1: none.
	deadline int64
	at       int
	// ctr are the counters of the frontend, in the generation the
	// connection was parked under, whose idle count holds it.
	ctr *counters
	// more is what only some connections carry across the wait; nil for
	// most, so that an idle connection stays small.
	more *parkedMore
}

// parkedMore is the state of a parked connection beyond its socket.
type parkedMore struct {
	// track are the sticky counters the connection's rules tracked, held
	// while it is parked.
	track rules.Trackers
	// The client's addresses (from a PROXY header) and its session
	// variables, for the session that resumes it.
	src, dst netip.AddrPort
	sess     rules.SessVars
	// logStart is when the previous request ended, where the next one's
	// log timers (%Ti, %Tt) start; zero: the frontend does not log.
	logStart time.Time
}

func newParker(e *Engine) (*parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, errno
	}
	p := &parker{e: e, epfd: epfd, wake: int(wake), conns: make(map[int]*parked)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(p.wake)
		return nil, err
	}
	return p, nil
}

// parker returns the engine's parker, started on first use; nil when the
// engine is closing or epoll is not available.
func (e *Engine) parker() *parker {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.parkFailed {
		return nil
	}
	if e.park == nil {
		p, err := newParker(e)
		if err != nil {
			e.parkFailed = true
			return nil
		}
		e.park = p
		e.wg.Add(1)
		go p.loop()
	}
	return e.park
}

// park hands the session's connection, idle with nothing buffered either
// way, to the parker, with the keep-alive deadline (zero: none). It
// reports false when the connection cannot be parked: the session then
// goes on waiting itself.
func (s *session) park(deadline time.Time) bool {
	if s.ln == nil || s.in.rc == nil || s.in.buffered() > 0 || s.out.Buffered() > 0 {
		return false
	}
	p := s.e.parker()
	if p == nil {
		return false
	}
	// A plain TCP connection keeps its socket, not Go's connection around
	// it: its poller entry, addresses and buffers are most of what an
	// idle connection would cost (resume wraps it again). The copy is
	// made while Control holds the descriptor, which Engine.Close may
	// close at any time otherwise.
	_, detach := s.c.(*net.TCPConn)
	fd := -1
	var dupErr error
	if s.in.rc.Control(func(f uintptr) {
		fd = int(f)
		if detach {
			fd, dupErr = dupCloexec(fd)
		}
	}) != nil || dupErr != nil || fd < 0 {
		return false
	}
	pc := &parked{c: s.c, fd: fd, l: s.ln, sem: s.sem, feIndex: s.feIndex, feName: s.feName, nreq: s.nreq, at: -1}
	// pc is copied into the parker's entry: it does not leave this call.
	if s.txn.Track.Any() || s.txn.HasSessVars() || s.lg.on ||
		s.src != addrPort(s.c.RemoteAddr()) || s.dst != addrPort(s.c.LocalAddr()) {
		pc.more = &parkedMore{src: s.src, dst: s.dst}
		if s.lg.on {
			pc.more.logStart = s.lg.start
		}
	}
	// The counters go with the connection: the loop resumes it only
	// once add released p.mu.
	if m := pc.more; m != nil {
		m.track, s.txn.Track = s.txn.Track, rules.Trackers{}
		s.txn.SwapSess(&m.sess)
	}
	if !p.add(pc, deadline, detach) {
		if m := pc.more; m != nil {
			s.txn.Track, m.track = m.track, rules.Trackers{}
			s.txn.SwapSess(&m.sess)
		}
		if detach {
			syscall.Close(pc.fd)
		}
		return false
	}
	return true
}

// dupCloexec returns a copy of descriptor fd, closed on exec.
func dupCloexec(fd int) (int, error) {
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// poke wakes loop, to look at closed and the deadlines again.
func (p *parker) poke() {
	one := [8]byte{1}
	syscall.Write(p.wake, one[:])
}

// add puts a copy of v in the set, with its keep-alive deadline (zero:
// none); it reports false when v cannot be parked. With detach, v.fd is a
// copy of the connection's descriptor, and the connection closes once it
// is in.
func (p *parker) add(v *parked, deadline time.Time, detach bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(v.fd)}
	if syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, v.fd, &ev) != nil {
		return false
	}
	pc := p.newParked()
	*pc = *v
	if c := p.e.gen.Load().feCounters(pc.feIndex); c != nil {
		pc.ctr = c
		c.idle.Add(1)
	}
	p.conns[pc.fd] = pc
	if !deadline.IsZero() {
		pc.deadline = deadline.UnixNano()
		if p.timeouts.push(pc) {
			p.poke() // earlier than loop's wait
		}
	}
	if detach {
		pc.c.Close() // the socket lives on in pc.fd
		pc.c = nil
	}
	return true
}

// newParked returns an entry for a parked connection. Called with p.mu
// held.
func (p *parker) newParked() *parked {
	if n := len(p.spare); n > 0 {
		pc := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return pc
	}
	if len(p.chunk) == 0 {
		p.chunk = make([]parked, parkedChunk)
	}
	pc := &p.chunk[0]
	p.chunk = p.chunk[1:]
	return pc
}

// recycle keeps pc, which nothing uses any more, for another connection.
func (p *parker) recycle(pc *parked) {
	*pc = parked{}
	p.mu.Lock()
	p.spare = append(p.spare, pc)
	p.mu.Unlock()
}

// take removes pc from the set; it reports false when someone else
// (resume, expiry, close) took it first. Called with p.mu held: an entry
// can be recycled for another connection as soon as it is taken, so
// whoever found it must take it under the same hold of p.mu.
func (p *parker) take(pc *parked) bool {
	if p.conns[pc.fd] != pc {
		return false
	}
	delete(p.conns, pc.fd)
	p.timeouts.remove(pc)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
	return true
}

// end closes pc and gives back its slot, its sticky counters and its
// count of Engine.wg.
func (p *parker) end(pc *parked) {
	if pc.c != nil {
		pc.c.Close()
	} else {
		syscall.Close(pc.fd)
	}
	p.endDetached(pc)
}

// loop resumes the connections that become readable and closes those
// whose keep-alive timeout ran out, until close.
func (p *parker) loop() {
	defer p.e.wg.Done()
	var events [128]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], p.expireDue())
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.e.log.Printf("idle connections: epoll: %v", err)
			p.close()
			syscall.Close(p.epfd)
			syscall.Close(p.wake)
			return
		}
		for i := range n {
			fd := int(events[i].Fd)
			if fd == p.wake {
				var b [8]byte
				syscall.Read(p.wake, b[:])
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if closed {
					syscall.Close(p.epfd)
					syscall.Close(p.wake)
					return
				}
				continue
			}
			p.mu.Lock()
			pc := p.conns[fd]
			taken := pc != nil && p.take(pc)
			p.mu.Unlock()
			if !taken {
				continue
			}
			go p.resume(pc)
		}
	}
}

// expireDue closes the connections whose keep-alive timeout ran out and
// returns how long, in ms, loop may wait for the next: -1 for ever.
func (p *parker) expireDue() int {
	for {
		p.mu.Lock()
		pc := p.timeouts.first()
		if pc == nil {
			p.mu.Unlock()
			return -1
		}
		left := pc.deadline - time.Now().UnixNano()
		if left > 0 {
			p.mu.Unlock()
			return int((left + int64(time.Millisecond) - 1) / int64(time.Millisecond))
		}
		taken := p.take(pc)
		p.mu.Unlock()
		if taken {
			p.end(pc)
		}
	}
}

// resume serves pc again on a new session.
func (p *parker) resume(pc *parked) {
	e := p.e
	c := pc.c
	if c == nil {
		f := os.NewFile(uintptr(pc.fd), "")
		var err error
		c, err = net.FileConn(f)
		f.Close()
		if err != nil {
			pc.fd = -1 // closed with f
			p.endDetached(pc)
			return
		}
		pc.c = c
		if fe := e.gen.Load().frontend(pc.feIndex, pc.feName); fe != nil {
			e.clientKeepAlive(c, fe.Options.ClientTCPKA, true)
		}
	}
	s := e.newSession(c, pc.feIndex, pc.feName)
	s.nreq, s.ln, s.sem = pc.nreq, pc.l, pc.sem
	s.accepted = true
	if m := pc.more; m != nil {
		s.txn.Track, m.track = m.track, rules.Trackers{}
		s.setAddrs(m.src, m.dst)
		s.txn.SwapSess(&m.sess)
		if !m.logStart.IsZero() {
			s.lg.start = m.logStart
		}
	}
	if !e.track(s) {
		e.putSession(s)
		p.end(pc)
		return
	}
	pc.unpark() // counted as served now
	l, sem := pc.l, pc.sem
	p.recycle(pc)
	l.run(s, sem)
}

// endDetached ends pc, whose socket is already closed: it gives back
// the slot, the sticky counters and the count of Engine.wg.
func (p *parker) endDetached(pc *parked) {
	pc.unpark()
	if pc.more != nil {
		pc.more.track.End()
	}
	if pc.sem != nil {
		<-pc.sem
	}
	p.recycle(pc)
	p.e.wg.Done()
}

// unpark takes pc out of its frontend's count of idle connections.
func (pc *parked) unpark() {
	if c := pc.ctr; c != nil {
		c.idle.Add(-1)
		pc.ctr = nil
	}
}

// close ends every parked connection and stops loop.
func (p *parker) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	conns := p.conns
	p.conns = nil
	for fd := range conns {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	p.timeouts = nil
	p.mu.Unlock()
	p.poke()
	for _, pc := range conns {
		p.end(pc)
	}
}

// parkHeap orders parked connections by deadline, earliest first.
type parkHeap []*parked

func (h parkHeap) first() *parked {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

// push adds pc; it reports whether pc became the earliest.
func (h *parkHeap) push(pc *parked) bool {
	pc.at = len(*h)
	*h = append(*h, pc)
	h.up(pc.at)
	return pc.at == 0
}

// remove takes pc out, if it is in.
func (h *parkHeap) remove(pc *parked) {
	i := pc.at
	if i < 0 || i >= len(*h) || (*h)[i] != pc {
		return
	}
	last := len(*h) - 1
	h.swap(i, last)
	(*h)[last] = nil
	*h = (*h)[:last]
	pc.at = -1
	if i < last {
		h.down(i)
		h.up(i)
	}
}

func (h parkHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}

func (h parkHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].deadline <= h[i].deadline {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h parkHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].deadline < h[l].deadline {
			m = r
		}
		if h[i].deadline <= h[m].deadline {
			return
		}
		h.swap(i, m)
		i = m
	}
}
