package runtime

import (
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// deadlineWriter writes to a connection with an inactivity timeout,
// pushing the write deadline forward lazily (when an eighth of it went by)
// to keep timer updates off most writes. Owned by the connection's
// goroutine.
type deadlineWriter struct {
	c    net.Conn
	d    time.Duration // 0: no timeout
	last time.Time
	// rc is c's descriptor for raw writes (see sysRead); nil: none
	// (TLS), write with c.Write. p, n and err are the write in progress,
	// for writeFn, rawStep's method value.
	rc      syscall.RawConn
	p       []byte
	n       int
	err     error
	writeFn func(uintptr) bool
}

// reset readies w for c, whose descriptor rc is (nil: none), without a
// timeout.
func (w *deadlineWriter) reset(c net.Conn, rc syscall.RawConn) {
	w.c, w.d, w.last, w.rc = c, 0, time.Time{}, rc
	if w.writeFn == nil {
		w.writeFn = w.rawStep
	}
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.d > 0 {
		now := time.Now()
		if now.Sub(w.last) > w.d/8 {
			w.last = now
			w.c.SetWriteDeadline(now.Add(w.d))
		}
	}
	if w.rc == nil {
		return w.c.Write(p)
	}
	w.p, w.n, w.err = p, 0, nil
	err := w.rc.Write(w.writeFn)
	n := w.n
	if err == nil {
		err = w.err
	}
	w.p, w.err = nil, nil
	return n, err
}

// rawStep writes w.p with raw writes, and asks to wait while c's buffer
// is full.
func (w *deadlineWriter) rawStep(fd uintptr) bool {
	n, err := sysWriteAll(int(fd), w.p[w.n:])
	w.n += n
	switch err {
	case 0:
	case syscall.EAGAIN:
		return false
	default:
		w.err = os.NewSyscallError("write", err)
	}
	return true
}

// setTimeout changes the timeout, forcing the next write to set it.
func (w *deadlineWriter) setTimeout(d time.Duration) {
	if d != w.d {
		w.d = d
		w.last = time.Time{}
		if d == 0 {
			w.c.SetWriteDeadline(time.Time{})
		}
	}
}

// side is one connection of a proxied exchange with its buffers.
type side struct {
	c   net.Conn
	in  rbuf
	dw  deadlineWriter
	out *wbuf
}

// reset readies sd for c, with buffers of inSize and outSize bytes from
// bufs where it holds none.
func (sd *side) reset(c net.Conn, bufs *bufPools, inSize, outSize int) {
	sd.c = c
	rc := rawConnOf(c) // one for both ways
	sd.in.reset(c, rc)
	sd.in.flush, sd.in.timeout = nil, 0
	sd.dw.reset(c, rc)
	if sd.out == nil {
		sd.out = &wbuf{}
	}
	sd.out.Reset(&sd.dw)
	sd.takeBufs(bufs, inSize, outSize)
}

// takeBufs gives sd buffers of inSize and outSize bytes from bufs where
// it holds none.
func (sd *side) takeBufs(bufs *bufPools, inSize, outSize int) {
	if sd.in.buf == nil {
		sd.in.buf = bufs.get(inSize)
	}
	if sd.out.buf == nil {
		sd.out.buf = bufs.get(outSize)
	}
}

// dropBufs gives sd's buffers back to bufs, unless they hold bytes.
func (sd *side) dropBufs(bufs *bufPools) {
	if sd.in.buffered() > 0 || sd.out.Buffered() > 0 {
		return
	}
	bufs.put(sd.in.buf)
	bufs.put(sd.out.buf)
	sd.in.buf, sd.in.r, sd.in.w, sd.out.buf = nil, 0, 0, nil
}

// session is one client connection and the state reused by each of its
// requests. Owned by the goroutine serving the connection, except mu and
// what it guards.
type session struct {
	e       *Engine
	side    // the client connection
	feIndex int
	feName  string
	src     netip.AddrPort
	dst     netip.AddrPort
	srcKey  [16]byte // client address, for source hashing
	srcLen  int
	lbKey   lbKey // the request's hashing key, set by take
	// tls is the client connection when it is TLS; sni its server name,
	// read once the handshake is done.
	tls *tls.Conn
	sni []byte
	// tlsVersion and tlsCipher name the TLS version and cipher suite,
	// for the logs (%sslv %sslc).
	tlsVersion, tlsCipher string
	// ck is the cookie persistence of the current request.
	ck cookieState
	// stk is the stick-table persistence of the current request.
	stk stickState
	// The counters the current request's response counts in: its
	// frontend's, and once chosen its backend's and server's; nil: none.
	feCtr, beCtr, srvCtr *counters
	srvSNI               []byte // the server name for the next connection (sniFor)
	txn                  rules.Txn
	// counted are the client buffers' counts (in, out) already added to
	// the tracked counters' bytes_in and bytes_out (countBytes).
	counted [2]int64
	// countBytesFn is countBytes as a func value, made once (bytesHook).
	countBytesFn func()
	req          msgInfo
	resp         respHead
	rinfo        msgInfo
	hop          hopScratch
	scratch      []byte
	nreq         int
	srv          *srvConn      // server connection kept between requests
	ln           *listener     // the listener that accepted c; nil in tests
	sem          chan struct{} // its maxconn slots; nil: no limit
	parked       bool          // c was handed to the parker: not ours any more
	// accepted: the tcp-request connection rules already accepted c (a
	// connection resumed from the parker).
	accepted bool
	// Per request, set by exchange.
	isHead   bool // HEAD request: the response has no body
	bodyDone bool // the request body was read entirely
	srvKeep  bool // the server connection may serve another request
	// compAlgo is the compression chosen for the response (CompNone:
	// none); comp streams it.
	compAlgo rules.CompAlgo
	comp     compressor
	// upBackend is the HTTP backend that upgraded a "mode tcp"
	// frontend's connection, for its first request.
	upBackend *rules.Backend
	// Retries of the current request: how many were used (connection
	// and retry-on alike; whether its server came from persistence is
	// ck.direct), whether it is kept for retry-on (replay: its body,
	// replayLen bytes, stays in the client buffer until endReplay), and
	// the status to answer when no connection could be made.
	retries    int
	replay     bool
	replayLen  int
	replayView rbuf // the kept chunked body, read again by writeReplayBody
	connFail   int

	// lg is the current request's log; feConnCtr the frontend counters
	// whose cur counts the connection (nil: none).
	lg        reqLog
	feConnCtr *counters

	mu      sync.Mutex // guards curConn and aborted, for Close
	curConn net.Conn   // the server connection in use
	aborted bool
	curSeen net.Conn // last value given to setCur, owner only
}

// srvConn is a connection to a server, kept in the server's idle pool
// between requests.
type srvConn struct {
	side
	s      *serverState
	reused bool
	sni    []byte // the TLS server name it was opened with; nil: none
}

func (e *Engine) newSession(c net.Conn, feIndex int, feName string) *session {
	s, _ := e.sessions.Get().(*session)
	if s == nil {
		s = &session{e: e, scratch: make([]byte, 0, 256)}
		s.hop.buf = make([]byte, 0, 512)
	}
	s.reset(c, &e.bufs, clientIn, clientOut)
	s.txn.PID = e.pid // also for a connection that logs without a request
	s.in.flush = s.out
	s.feIndex, s.feName, s.nreq, s.srv = feIndex, feName, 0, nil
	s.ln, s.sem, s.parked, s.accepted, s.upBackend = nil, nil, false, false, nil
	s.aborted, s.curConn, s.curSeen = false, nil, nil
	s.setAddrs(addrPort(c.RemoteAddr()), addrPort(c.LocalAddr()))
	s.tls, _ = c.(*tls.Conn)
	s.lg.start = time.Now()
	s.counted = [2]int64{s.in.count, s.out.count}
	s.sni = s.sni[:0]
	s.tlsVersion, s.tlsCipher = "", ""
	return s
}

// setAddrs records the client's address src and the address dst it
// reached, with src's bytes as the source-hashing key.
func (s *session) setAddrs(src, dst netip.AddrPort) {
	s.src, s.dst = src, dst
	a := src.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		s.srcLen = copy(s.srcKey[:], b[:])
	} else {
		b := a.As16()
		s.srcLen = copy(s.srcKey[:], b[:])
	}
}

func (e *Engine) putSession(s *session) {
	s.c, s.in.c, s.dw.c, s.dw.rc, s.srv = nil, nil, nil, nil, nil
	s.in.rc, s.ln, s.sem = nil, nil, nil
	s.countBytes()
	s.out.Reset(&s.dw)
	s.dropBufs(&e.bufs)
	s.txn.Track.End()
	s.txn.Reset()
	s.txn.EndSession()
	s.mu.Lock()
	s.curConn, s.curSeen = nil, nil
	s.mu.Unlock()
	e.sessions.Put(s)
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// setCur records the server connection in use so Close can interrupt it.
func (s *session) setCur(c net.Conn) {
	if c == s.curSeen {
		return
	}
	s.curSeen = c
	s.mu.Lock()
	s.curConn = c
	aborted := s.aborted
	s.mu.Unlock()
	if aborted && c != nil {
		c.SetDeadline(time.Unix(1, 0))
	}
}

// abort interrupts the session from another goroutine (Engine.Close).
func (s *session) abort() {
	s.mu.Lock()
	s.aborted = true
	if s.curConn != nil {
		s.curConn.SetDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
	s.c.SetDeadline(time.Unix(1, 0))
	s.c.Close()
}

func (e *Engine) newSrvConn(c net.Conn, st *serverState) *srvConn {
	sc, _ := e.srvConns.Get().(*srvConn)
	if sc == nil {
		sc = &srvConn{}
	}
	sc.reset(c, &e.bufs, serverIn, serverOut)
	sc.s, sc.reused, sc.sni = st, false, sc.sni[:0]
	if st.cfg.ShutdownOnDown {
		st.track(sc, c)
	}
	return sc
}

// closeSrv closes sc and recycles its buffers.
func (e *Engine) closeSrv(sc *srvConn) {
	if sc.s != nil && sc.s.cfg.ShutdownOnDown {
		sc.s.untrack(sc)
	}
	sc.c.Close()
	sc.c, sc.in.c, sc.in.rc, sc.dw.c, sc.dw.rc, sc.s = nil, nil, nil, nil, nil, nil
	sc.out.Reset(&sc.dw)
	sc.dropBufs(&e.bufs)
	e.srvConns.Put(sc)
}
