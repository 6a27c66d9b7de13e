package runtime

import (
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"gohap/runtime/rules"
)

// evloop serves keep-alive HTTP connections between their goroutines'
// turns, as HAProxy's threads do: one goroutine waits on an epoll set of
// its own for the client connections waiting for their next request and
// the server connections whose response is due, and serves every one
// that became readable in the same pass. That saves the goroutine wake-up
// a request and a response each cost, and hands the peers their bytes in
// batches. The engine runs one loop a GOMAXPROCS.
//
// A loop only runs what does not wait: a request without a body, on a
// connection to the server that is already open, and a response whose
// head and body are all there. Anything else (a body to stream, a dial,
// a retry, a timeout, a write that did not complete) detaches the session
// to a goroutine of its own, which goes on from where the loop was.
//
// Descriptors are registered edge-triggered for reading only; a session
// remembers which of its two became readable (session.lReady).
type evloop struct {
	e      *Engine
	epfd   int
	wake   int // eventfd: look at closed, or at a nearer deadline
	events [128]syscall.EpollEvent
	// file holds epfd for Go's netpoller, for when the loop sleeps
	// there (see run); armed is the read deadline set on it.
	file   *os.File
	rc     syscall.RawConn
	armed  time.Time
	pollFn func(uintptr) bool
	n      int   // events got by poll
	err    error // poll's error

	mu       sync.Mutex // held while the loop serves; guards the fields below
	closed   bool
	fds      []loopFD // by descriptor
	timers   deadlineHeap
	waitTill time.Time // when the loop's wait ends
	requests int       // requests the loop has served
	// again holds the sessions with pipelined requests left when their
	// turn ended (see request), served at the next turn; spare is the
	// other slice of the two the loop swaps.
	again, spare []*session
}

// loopFD is what a descriptor registered on a loop belongs to.
type loopFD struct {
	s  *session
	sc *srvConn // one of the session's server connections; nil: its client's
}

// loopWait is what a session on a loop waits for.
type loopWait uint8

const (
	loopBusy     loopWait = iota // being served
	loopRequest                  // the client's next request
	loopResponse                 // the server's response
)

func newEvloop(e *Engine) (*evloop, error) {
	epfd, wake, err := epollWithWake()
	if err != nil {
		return nil, err
	}
	l := &evloop{e: e, epfd: epfd, wake: wake}
	err = syscall.SetNonblock(epfd, true)
	if err == nil {
		l.file = os.NewFile(uintptr(epfd), "evloop")
		l.rc, err = l.file.SyscallConn()
	}
	if err != nil {
		if l.file != nil {
			l.file.Close()
		} else {
			syscall.Close(epfd)
		}
		syscall.Close(l.wake)
		return nil, err
	}
	l.pollFn = l.poll
	return l, nil
}

// evloop returns the loop for s, the loops started on first use; nil
// when the engine is closing or epoll is not available. A session keeps
// the loop it was first given; sessions are given loops in turn, so that
// each loop gets its share however descriptors are numbered.
func (e *Engine) evloop(s *session) *evloop {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.loopFailed {
		return nil
	}
	if e.loops == nil {
		n := runtime.GOMAXPROCS(0)
		e.loopProcs = int32(n)
		for range n {
			l, err := newEvloop(e)
			if err != nil {
				e.loopFailed = true
				for _, l := range e.loops {
					l.close()
				}
				e.loops = nil
				return nil
			}
			e.loops = append(e.loops, l)
			e.wg.Add(1)
			go l.run()
		}
	}
	if s.lHome < 0 || s.lHome >= len(e.loops) {
		s.lHome = e.loopNext % len(e.loops)
		e.loopNext++
	}
	return e.loops[s.lHome]
}

// toLoop hands the session, between two requests, to an event loop; it
// reports false when it cannot go there (the goroutine goes on serving
// it). Once it reported true, the session is the loop's.
//
// A connection goes to a loop from its second request on: one that made
// a single request (most idle ones, and clients that close after it)
// waits in its goroutine and then the parker, as it would without loops,
// and costs no loop a registration.
func (s *session) toLoop() bool {
	gen := s.e.gen.Load()
	if s.nreq < 2 || s.loopOff || s.upBackend != nil || s.ln == nil || s.tls != nil || s.in.buffered() > 0 || s.e.stopping.Load() ||
		len(gen.g.Extensions) > 0 {
		return false
	}
	if fe := gen.frontend(s.feIndex, s.feName); fe == nil || fe.Mode != rules.ModeHTTP {
		return false
	}
	if s.in.raw() == nil || !s.flushNow() {
		return false
	}
	fd := s.in.fd
	l := s.e.evloop(s)
	if l == nil {
		return false
	}
	// The loop reads without deadlines: it keeps its own.
	s.c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	defer l.mu.Unlock()
	// stopping again: a soft stop may have emptied the loop meanwhile.
	if l.closed || s.e.stopping.Load() || !l.add(fd, loopFD{s: s}) {
		return false
	}
	s.lp, s.lfd, s.lReady = l, fd, false
	s.out.hold = true
	now := time.Now()
	l.waitRequest(s, now)
	if !s.lDeadline.IsZero() && (l.waitTill.IsZero() || s.lDeadline.Before(l.waitTill)) {
		l.poke()
	}
	return true
}

// add registers fd for reading, edge-triggered, as belonging to what.
func (l *evloop) add(fd int, what loopFD) bool {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(fd)}
	if syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
		return false
	}
	if fd >= len(l.fds) {
		// Linear growth: the table is as long as the highest
		// descriptor, which the loops share between them.
		l.fds = append(l.fds, make([]loopFD, fd+1024-len(l.fds))...)
	}
	l.fds[fd] = what
	return true
}

// del unregisters fd, if it still is s's.
func (l *evloop) del(fd int, s *session) {
	if fd < 0 || fd >= len(l.fds) || l.fds[fd].s != s {
		return
	}
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	l.fds[fd] = loopFD{}
}

// dropSrv unregisters a session's server connection, which leaves the
// session (to the idle pool, or closed).
func (l *evloop) dropSrv(sc *srvConn) {
	if what := l.fds[sc.lfd]; what.sc == sc {
		l.del(sc.lfd, what.s)
	}
	sc.lp, sc.lReady = nil, false
}

// poke makes run look again at its deadlines and at closed.
func (l *evloop) poke() {
	one := [8]byte{1}
	syscall.Write(l.wake, one[:])
}

// run serves the loop's sessions until close.
//
// It takes the events that are there without waiting. When there are
// none, it first lets the goroutines it made runnable (detached sessions,
// waiters on mu) have the P, then sleeps. It sleeps in epoll_wait as a
// system call, as a haproxy thread does, so that an event wakes this
// thread directly: through Go's netpoller, a loop's wake-up would wait
// until a P runs out of work, which under load a busy loop never does.
// But a P sleeping in a system call runs nothing else until the
// scheduler's monitor takes it back, so one P at least is always left
// to the goroutines: a loop that would take the last one sleeps in the
// netpoller instead, where the P is free and its thread polls.
func (l *evloop) run() {
	defer l.e.wg.Done()
	for {
		l.mu.Lock()
		closed, more := l.closed, len(l.again) > 0
		next := l.timers.next()
		if limit := time.Now().Add(maxLoopWait); next.IsZero() || next.After(limit) {
			next = limit
		}
		l.waitTill = next
		l.mu.Unlock()
		if closed {
			break
		}
		n, err := l.wait(0)
		if n == 0 && err == nil && !more {
			if ms := waitMillis(next); ms != 0 {
				runtime.Gosched()
				if l.e.loopsAsleep.Add(1) < l.e.loopProcs {
					n, err = l.wait(ms)
					l.e.loopsAsleep.Add(-1)
				} else {
					l.e.loopsAsleep.Add(-1)
					n, err = l.await(next)
				}
			}
		}
		if err != nil {
			l.e.log.Printf("event loop: epoll: %v", err)
			l.close()
			break
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			break
		}
		for i := range n {
			fd := int(l.events[i].Fd)
			if fd == l.wake {
				var b [8]byte
				syscall.Read(l.wake, b[:])
				continue
			}
			if fd < len(l.fds) {
				l.readable(l.fds[fd])
			}
		}
		l.serveAgain()
		if t := l.timers.next(); !t.IsZero() {
			l.expire(time.Now())
		}
		l.mu.Unlock()
	}
	l.file.Close()
	syscall.Close(l.wake)
}

// await waits for events through Go's netpoller, until deadline.
func (l *evloop) await(deadline time.Time) (int, error) {
	if !deadline.Equal(l.armed) {
		l.file.SetReadDeadline(deadline)
		l.armed = deadline
	}
	l.n, l.err = 0, nil
	if err := l.rc.Read(l.pollFn); err != nil && !isTimeout(err) {
		return 0, err
	}
	return l.n, l.err
}

// poll is await's syscall.RawConn.Read callback: it takes the events
// there are, and has the goroutine wait in the netpoller when there are
// none.
func (l *evloop) poll(uintptr) bool {
	l.n, l.err = l.wait(0)
	return l.n > 0 || l.err != nil
}

// maxLoopWait bounds a loop's sleep, so that it looks at closed and at
// its deadlines even if a poke were lost.
const maxLoopWait = 100 * time.Millisecond

// waitMillis is epoll_wait's timeout for a wait until deadline, rounded
// up so that the loop does not wake just before it.
func waitMillis(deadline time.Time) int {
	d := time.Until(deadline)
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// wait is epoll_wait for up to ms milliseconds (0: do not wait). A
// signal (the runtime's preemption) ends it early with no events.
func (l *evloop) wait(ms int) (int, error) {
	r, _, e := syscall.Syscall6(syscall.SYS_EPOLL_WAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(ms), 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case syscall.EINTR:
		return 0, nil
	}
	return 0, e
}

// serveAgain goes on serving the sessions whose pipelined requests were
// left at their last turn, if they still wait for them on this loop.
func (l *evloop) serveAgain() {
	batch := l.again
	l.again = l.spare[:0]
	for i, s := range batch {
		batch[i] = nil
		if s != nil && s.lp == l && s.lw == loopRequest {
			l.request(s)
		}
	}
	l.spare = batch[:0]
}

// readable serves what a readable descriptor's session waited for.
func (l *evloop) readable(what loopFD) {
	s := what.s
	if s == nil {
		return
	}
	if sc := what.sc; sc != nil {
		sc.lReady = true
		if s.lw == loopResponse && s.fw.sc == sc {
			l.response(s)
		}
		return
	}
	s.lReady = true
	if s.lw == loopRequest {
		l.request(s)
	}
}

// request reads what the client sent and serves the requests that are
// whole, as many as it pipelined; it leaves the session waiting for more.
func (l *evloop) request(s *session) {
	for i := 0; ; i++ {
		if i == maxPipelined {
			// Enough for this turn: the others' events come first.
			l.again = append(l.again, s)
			return
		}
		var err error
		if s.lReady {
			s.lReady, err = s.in.readNow()
		}
		gen := l.e.gen.Load()
		fe := gen.frontend(s.feIndex, s.feName)
		if fe == nil {
			l.finish(s)
			return
		}
		n := headReady(&s.in)
		if n < 0 {
			if err == nil && s.in.buffered() < len(s.in.buf) {
				// Part of a head: the rest has until the deadline
				// set when the wait began, as on a goroutine.
				l.timers.set(s, s.lIdle)
				return
			}
			if err == nil {
				err = errHeadTooBig
			}
			s.headFailed(err, fe)
			l.finish(s)
			return
		}
		l.timers.remove(s)
		s.lw = loopBusy
		l.requests++
		s.dw.setTimeout(fe.Timeouts.Client)
		if !l.served(s, s.serveHead(gen, fe, n)) {
			return
		}
	}
}

// maxPipelined is how many requests a loop serves a connection in one
// turn before it looks at the other connections' events.
const maxPipelined = 16

// served goes on from a request's service (keep: whether the connection
// stays open): it reports whether the session waits for its client's
// next request, which may be there already.
func (l *evloop) served(s *session, keep bool) bool {
	if s.lcont != nil {
		l.spawn(s)
		return false
	}
	if s.lw == loopResponse {
		if s.fw.sc.lReady {
			l.response(s)
		}
		return false
	}
	if !s.requestDone(keep) {
		l.finish(s)
		return false
	}
	if !s.flushNow() {
		s.detach(s.flushOut)
		l.spawn(s)
		return false
	}
	if s.in.buffered() > 0 || s.lReady {
		l.beginWait(s, time.Now())
		return true
	}
	l.waitRequest(s, time.Now())
	return false
}

// beginWait starts s's wait for its client's next request: the idle
// deadline (lIdle) counts from now, also for a head that comes in parts.
func (l *evloop) beginWait(s *session, now time.Time) {
	s.lw = loopRequest
	s.lIdle = time.Time{}
	if fe := l.e.gen.Load().frontend(s.feIndex, s.feName); fe != nil {
		if d := s.idleTimeout(fe); d > 0 {
			s.lIdle = now.Add(d)
		}
	}
}

// waitRequest has s wait for its client's next request: until the
// keep-alive timeout, and for an idle connection until quietWait, when it
// goes to the parker, which holds it for less.
func (l *evloop) waitRequest(s *session, now time.Time) {
	l.beginWait(s, now)
	at := s.lIdle
	if s.in.buffered() == 0 && (at.IsZero() || now.Add(quietWait).Before(at)) {
		at = now.Add(quietWait)
	}
	l.timers.set(s, at)
}

// awaitResponse suspends the session, whose request is written in the
// server connection's buffer, until the response is there.
func (s *session) awaitResponse() bool {
	l, sc := s.lp, s.fw.sc
	if sc.in.raw() == nil || !sc.flushNow() {
		return s.detach(s.recvAttempted)
	}
	if sc.lp != l {
		fd := sc.in.fd
		if !l.add(fd, loopFD{s: s, sc: sc}) {
			return s.detach(s.recvAttempted)
		}
		sc.lp, sc.lfd, sc.lReady = l, fd, false
	}
	s.lw = loopResponse
	var at time.Time
	if d := s.fw.bs.cfg.Timeouts.Server; d > 0 {
		at = time.Now().Add(d)
	}
	l.timers.set(s, at)
	return false
}

// response reads what the server sent and, once the response is all
// there, relays it; else it waits for more, or hands the session to a
// goroutine when the loop cannot finish the exchange.
func (l *evloop) response(s *session) {
	sc := s.fw.sc
	var err error
	if sc.lReady {
		sc.lReady, err = sc.in.readNow()
	}
	ready, more := s.responseReady(sc)
	switch {
	case ready:
	case more && err == nil:
		return
	default:
		l.timers.remove(s)
		s.lw = loopBusy
		s.detachOnce(s.recvAttempted)
		l.spawn(s)
		return
	}
	l.timers.remove(s)
	s.lw = loopBusy
	if l.served(s, s.recvAttempted()) {
		l.request(s)
	}
}

// responseReady reports whether sc's buffer holds a final response head
// and all of its body, so that relaying it does not wait; more, when it
// does not, that more bytes may make it so.
func (s *session) responseReady(sc *srvConn) (ready, more bool) {
	n := headReady(&sc.in)
	if n < 0 {
		return false, sc.in.buffered() < len(sc.in.buf)
	}
	if parseResponse(sc.in.data()[:n], &s.resp, &s.rinfo) != nil || s.resp.status < 200 {
		return false, false
	}
	if s.isHead || s.resp.status == 204 || s.resp.status == 304 {
		return true, false
	}
	for _, h := range s.resp.hdrs {
		if string(h.Name) == "transfer-encoding" {
			return false, false
		}
	}
	for _, h := range s.resp.hdrs {
		if string(h.Name) == "content-length" {
			cl, ok := parseCL(h.Value)
			if !ok {
				return true, false // refused whole: nothing to wait for
			}
			if int64(sc.in.buffered()-n) >= cl {
				return true, false
			}
			return false, int64(n)+cl <= int64(len(sc.in.buf))
		}
	}
	return false, false // a body up to the close: a goroutine streams it
}

// detach has the session, on its loop, go to a goroutine of its own,
// which runs cont (the rest of the current request; it reports whether
// the connection stays open) and then serves the connection as usual.
// The goroutine starts once the loop's call returned (spawn): until
// then the loop still uses the session.
func (s *session) detach(cont func() bool) bool {
	s.lcont = cont
	// What made the loop give up will likely come again on this
	// connection: it stays with its goroutine.
	s.loopOff = true
	return false
}

// detachOnce is detach for a cause that passes (a connection to dial, a
// response that did not fit or came late): the session may come back.
func (s *session) detachOnce(cont func() bool) bool {
	s.lcont = cont
	return false
}

// spawn starts the goroutine detach asked for.
func (l *evloop) spawn(s *session) {
	cont := s.lcont
	s.lcont = nil
	l.forget(s)
	go func() {
		if !s.requestDone(cont()) {
			s.out.Flush() // what the loop left buffered
			s.releaseSrv()
		} else if s.serveHTTP() {
			return // back on a loop
		}
		s.finish()
	}()
}

// recvAttempted reads the response to the request sent on s.fw.sc and
// goes on from there: the rest of a request a loop could not finish.
func (s *session) recvAttempted() bool {
	return s.attempted(s.recvResponse(s.fw.fe, s.fw.sc, false))
}

// forget removes s from the loop, which no longer serves it.
func (l *evloop) forget(s *session) {
	l.del(s.lfd, s)
	for _, sc := range s.srvs {
		if sc != nil && sc.lp == l {
			l.dropSrv(sc)
		}
	}
	if sc := s.fw.sc; sc != nil && sc.lp == l {
		l.dropSrv(sc)
	}
	l.timers.remove(s)
	for i, x := range l.again {
		if x == s {
			l.again[i] = nil
		}
	}
	s.lp = nil
	s.lw = loopBusy
	s.lReady = false
	s.out.hold = false
}

// finish ends a session on the loop, as its goroutine would.
func (l *evloop) finish(s *session) {
	l.forget(s)
	s.releaseSrv()
	if !s.flushNow() {
		// What the client has not taken yet (an error page, the last
		// response) goes out from a goroutine, within timeout client.
		go func() {
			s.out.Flush()
			s.finish()
		}()
		return
	}
	s.finish()
}

// expire handles the sessions whose deadline passed: an idle connection
// goes to the parker, a request or response that took too long goes to a
// goroutine, which meets the timeout as usual.
func (l *evloop) expire(now time.Time) {
	for {
		s := l.timers.first()
		if s == nil || s.lDeadline.After(now) {
			return
		}
		l.timers.remove(s)
		switch {
		case s.lw == loopResponse:
			l.abandonResponse(s)
		case !s.lIdle.IsZero() && !now.Before(s.lIdle):
			if fe := l.e.gen.Load().frontend(s.feIndex, s.feName); fe != nil {
				s.headFailed(os.ErrDeadlineExceeded, fe)
			}
			l.finish(s)
		case s.in.buffered() > 0:
			l.timers.set(s, s.lIdle) // part of a head: wait for the rest
		default:
			l.park(s)
		}
	}
}

// abandonResponse hands a session waiting for its server's response to
// a goroutine, whose read of it fails at once as a timeout: the server
// timeout ran out, or the loop is closing.
func (l *evloop) abandonResponse(s *session) {
	s.lw = loopBusy
	s.fw.sc.c.SetReadDeadline(time.Unix(1, 0))
	s.detachOnce(s.recvAttempted)
	l.spawn(s)
}

// park hands an idle session's connection to the parker, and ends the
// session; with no parker, a goroutine waits for the next request.
func (l *evloop) park(s *session) {
	l.forget(s)
	s.releaseSrv()
	if s.park(s.lIdle) {
		s.parked = true
		s.finish()
		return
	}
	go func() {
		if !s.serveHTTP() {
			s.finish()
		}
	}()
}

// closeIdle ends the sessions waiting for a request with nothing of it
// received (a soft stop).
func (l *evloop) closeIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, what := range l.fds {
		if s := what.s; s != nil && what.sc == nil && s.lw == loopRequest && s.in.buffered() == 0 {
			l.finish(s)
		}
	}
}

// close ends every session of the loop and stops run.
func (l *evloop) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	for _, what := range l.fds {
		switch s := what.s; {
		case s == nil || what.sc != nil:
		case s.lw == loopResponse:
			l.abandonResponse(s) // its goroutine releases the server
		default:
			l.finish(s)
		}
	}
	l.closed = true
	l.poke()
}

// readNow reads what has come on b's connection, without waiting; it
// reports whether the read filled the free space, so that more may be
// waiting. EOF and errors are kept for the next fill, as fill's are.
func (b *rbuf) readNow() (full bool, err error) {
	if b.err != nil {
		return false, b.err
	}
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	if b.w == len(b.buf) {
		b.compact()
		if b.w == len(b.buf) {
			return true, nil
		}
	}
	space := len(b.buf) - b.w
	b.rawRun, b.rawN, b.rawErr = rawProbe, 0, nil
	if err := b.rc.Read(b.rawFn); err != nil {
		b.err = err
		return false, err
	}
	if b.rawRun == rawProbe {
		return false, nil // nothing
	}
	if b.rawN > 0 {
		b.w += b.rawN
		return b.rawN == space, nil
	}
	if err = b.rawErr; err == nil {
		err = io.EOF
	}
	b.err = err
	return false, err
}

// raw returns b's connection as a syscall.RawConn, with its descriptor
// in b.fd; nil when it has none (TLS).
func (b *rbuf) raw() syscall.RawConn {
	if b.rc == nil {
		sc, ok := b.c.(syscall.Conn)
		if !ok {
			return nil
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return nil
		}
		fd := -1
		if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
			return nil
		}
		b.rc, b.fd = rc, fd
	}
	return b.rc
}

// flushNow writes what sd.out holds without waiting; it reports whether
// all of it went.
func (sd *side) flushNow() bool {
	if sd.out.Buffered() == 0 {
		return true
	}
	rc := sd.in.raw()
	if rc == nil {
		return false
	}
	sd.dw.arm()
	sd.flushed = false
	if rc.Write(sd.flushFn) != nil {
		return false
	}
	return sd.flushed
}

// flushStep is flushNow's syscall.RawConn.Write callback.
func (sd *side) flushStep(fd uintptr) bool {
	sd.flushed = sd.out.flushFD(int(fd))
	return true
}

// deadlineHeap orders a loop's waiting sessions by deadline.
type deadlineHeap []*session

func (h deadlineHeap) first() *session {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h deadlineHeap) next() time.Time {
	if len(h) == 0 {
		return time.Time{}
	}
	return h[0].lDeadline
}

// set gives s deadline at (zero: none).
func (h *deadlineHeap) set(s *session, at time.Time) {
	if at.IsZero() {
		h.remove(s)
		return
	}
	s.lDeadline = at
	if s.lIdx < 0 {
		s.lIdx = len(*h)
		*h = append(*h, s)
	}
	h.down(h.up(s.lIdx))
}

func (h *deadlineHeap) remove(s *session) {
	i := s.lIdx
	if i < 0 {
		return
	}
	old := *h
	last := len(old) - 1
	h.swap(i, last)
	old[last] = nil
	*h = old[:last]
	s.lIdx = -1
	if i < last {
		h.down(h.up(i))
	}
}

func (h deadlineHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].lIdx, h[j].lIdx = i, j
}

func (h deadlineHeap) up(i int) int {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].lDeadline.Before(h[p].lDeadline) {
			break
		}
		h.swap(i, p)
		i = p
	}
	return i
}

func (h deadlineHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && h[r].lDeadline.Before(h[c].lDeadline) {
			c = r
		}
		if !h[c].lDeadline.Before(h[i].lDeadline) {
			return
		}
		h.swap(i, c)
		i = c
	}
}
