package runtime

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// logSinks are the open log destinations, by network and address, kept
// across reloads so that a reload opens no socket it already has. Safe
// for concurrent use.
type logSinks struct {
	mu    sync.Mutex
	conns map[string]io.Writer
}

// open returns the writer for t, opening it on first use.
func (ls *logSinks) open(t *rules.LogTarget) (io.Writer, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	key := t.Network + " " + t.Addr
	if w, ok := ls.conns[key]; ok {
		return w, nil
	}
	if ls.conns == nil {
		ls.conns = map[string]io.Writer{}
	}
	if t.Network == "fd" {
		f := os.Stderr
		if t.Addr == "stdout" {
			f = os.Stdout
		}
		w := newFDWriter(f)
		ls.conns[key] = w
		return w, nil
	}
	var c net.Conn
	var to syscall.Sockaddr
	var err error
	if t.Network == "unixgram" {
		// Not connected: each line is sent to the path, as haproxy does,
		// so a syslog server that comes up or restarts later gets them.
		c, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"})
		to = &syscall.SockaddrUnix{Name: t.Addr}
	} else {
		c, err = net.Dial(t.Network, t.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", t.Addr, err)
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("log %s: %w", t.Addr, err)
	}
	w := &dgramConn{Conn: c, rc: rc, to: to}
	ls.conns[key] = w
	return w, nil
}

// dgramConn is a log socket whose Write never waits: a line the socket
// cannot take at once (a syslog server that reads too slowly fills a
// unix socket) is dropped, as haproxy sends its logs with MSG_DONTWAIT.
// Safe for concurrent use.
type dgramConn struct {
	net.Conn
	rc syscall.RawConn
	// to is the address of an unconnected socket (a unix path); nil: the
	// socket is connected.
	to    syscall.Sockaddr
	sends sync.Pool // of *dgramSend, so that a Write allocates nothing
}

// dgramSend is one Write's datagram and result.
type dgramSend struct {
	b    []byte
	to   syscall.Sockaddr // this sender's copy of dgramConn.to: Sendto writes in it
	err  error
	send func(fd uintptr) bool // d.write, bound once
}

// write sends d.b once on fd (non-blocking, as Go opens its sockets),
// and reports true so that the poller does not wait for room.
func (d *dgramSend) write(fd uintptr) bool {
	if d.to == nil {
		_, d.err = syscall.Write(int(fd), d.b)
	} else {
		d.err = syscall.Sendto(int(fd), d.b, 0, d.to)
	}
	return true
}

func (c *dgramConn) Write(b []byte) (int, error) {
	d, _ := c.sends.Get().(*dgramSend)
	if d == nil {
		d = &dgramSend{}
		if to, ok := c.to.(*syscall.SockaddrUnix); ok {
			d.to = &syscall.SockaddrUnix{Name: to.Name}
		}
		d.send = d.write
	}
	d.b = b
	err := c.rc.Write(d.send)
	if err == nil {
		err = d.err
	}
	d.b, d.err = nil, nil
	c.sends.Put(d)
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// close closes the sockets.
func (ls *logSinks) close() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for k, w := range ls.conns {
		w.(io.Closer).Close()
		delete(ls.conns, k)
	}
}

// fdQueueLen is how many lines an fdWriter holds while its descriptor
// is slow.
const fdQueueLen = 64

// fdWriter writes log lines to a descriptor (stdout, stderr) from its own
// goroutine, so that a reader that does not keep up never holds a
// request: a line that finds the queue full is dropped, as haproxy drops
// a line its non-blocking descriptor refuses. Safe for concurrent use;
// Close once no Write can come.
type fdWriter struct {
	f     *os.File
	free  chan []byte   // buffers to copy a line in, reused
	queue chan []byte   // lines to write, in order
	done  chan struct{} // closed when run ends
}

func newFDWriter(f *os.File) *fdWriter {
	w := &fdWriter{f: f, free: make(chan []byte, fdQueueLen), queue: make(chan []byte, fdQueueLen), done: make(chan struct{})}
	for range fdQueueLen {
		w.free <- nil
	}
	go w.run()
	return w
}

func (w *fdWriter) Write(b []byte) (int, error) {
	select {
	case buf := <-w.free:
		w.queue <- append(buf[:0], b...) // never waits: there are as many buffers as room
		return len(b), nil
	default:
		return 0, errLogDropped
	}
}

func (w *fdWriter) run() {
	defer close(w.done)
	for b := range w.queue {
		w.f.Write(b)
		w.free <- b
	}
}

// Close writes the queued lines, waiting for them a second at most.
func (w *fdWriter) Close() error {
	close(w.queue)
	select {
	case <-w.done:
	case <-time.After(time.Second):
	}
	return nil
}

// feLog is a frontend's logging, ready to send: its config and the
// writers of its targets (nil: the target could not be opened).
type feLog struct {
	cfg       *rules.Log
	targets   []logTarget
	tag, host string
	pid       string
}

type logTarget struct {
	cfg *rules.LogTarget
	w   io.Writer
}

// openLogs prepares the logging of g's frontends, by frontend position.
// A target that cannot be opened is reported to e's logger and skipped,
// as haproxy starts without its syslog server.
func (e *Engine) openLogs(g *rules.Graph) []*feLog {
	out := make([]*feLog, len(g.Frontends))
	tag := g.Global.LogTag
	if tag == "" {
		tag = "haproxy"
	}
	for i, fe := range g.Frontends {
		if fe.Log == nil {
			continue
		}
		fl := &feLog{cfg: fe.Log, tag: tag, host: g.Global.LogHostname, pid: strconv.Itoa(e.pid)}
		for j := range fe.Log.Targets {
			t := &fe.Log.Targets[j]
			w, err := e.logs.open(t)
			if err != nil {
				e.log.Printf("[WARNING] %s: %v", t.Pos, err)
			}
			fl.targets = append(fl.targets, logTarget{cfg: t, w: w})
		}
		out[i] = fl
	}
	return out
}

// reqLog are the moments of the current request that its log line
// reports, recorded only when its frontend logs (on).
type reqLog struct {
	on bool
	// start is when the stream started: the accept for the first
	// request, the end of the previous one after it.
	start time.Time
	// first is when the request's first byte came, head when its head
	// was all in; queue, connect, connected and resp mark the server
	// steps (zero: not reached).
	first, head, queue, connect, connected, resp time.Time
	// in and out are the client buffers' counts when the request began.
	in, out int64
	// active: the request got far enough to be logged.
	active bool
	// line is the message, frame the datagram; both are reused.
	line, frame []byte
}

// stamp records now in *at when the request is logged.
func (s *session) stamp(at *time.Time) {
	if s.lg.on {
		*at = time.Now()
	}
}

// beginLog prepares the log of a request of fe that starts now.
func (s *session) beginLog(gen *generation, fe *rules.Frontend) {
	lg := &s.lg
	lg.on = fe.Log != nil && gen.feLog(s.feIndex) != nil
	lg.active = false
	if !lg.on {
		s.in.first = nil
		return
	}
	lg.first, lg.head, lg.queue, lg.connect, lg.connected, lg.resp = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if s.in.buffered() > 0 {
		lg.first = time.Now()
	}
	s.in.first = &lg.first
	lg.in, lg.out = s.in.count-int64(s.in.buffered()), s.out.count
	s.txn.Log.Reset(lg.start)
	s.txn.Src, s.txn.Dst = s.src, s.dst
	s.txn.Log.Frontend = fe.Name
}

// setTerm records how the request ended (%ts), unless already known.
func (s *session) setTerm(who, when byte) { s.txn.Log.SetTerm(who, when) }

// badRequest records a request that failed before it was parsed: it
// is logged with status (-1: none) and termination state who, when.
func (s *session) badRequest(status int, who, when byte) {
	s.lg.active = true
	l := &s.txn.Log
	l.BadReq, l.Status = true, status
	l.SetTerm(who, when)
}

// endLog sends the log line of the request that just ended, if its
// frontend logs, and starts the next stream's clock.
func (s *session) endLog(gen *generation) {
	lg := &s.lg
	if !lg.on {
		return
	}
	s.in.first = nil
	now := time.Now()
	start := lg.start
	lg.start = now
	fl := gen.feLog(s.feIndex)
	if !lg.active || fl == nil {
		return
	}
	l := &s.txn.Log
	l.TLS, l.TLSVersion, l.TLSCipher = s.tls != nil, s.tlsVersion, s.tlsCipher
	s.fillTimers(l, start, now)
	l.BytesIn, l.BytesOut = s.in.count-int64(s.in.buffered())-lg.in, s.out.count-lg.out
	if l.BadReq {
		// haproxy's HTTP/1 layer answers these itself: no request
		// time, and no byte counted.
		l.TR, l.BytesOut = -1, 0
	}
	s.fillCounts(l)
	if c := gen.feCounters(s.feIndex); c != nil {
		l.Counter = c.logLines.Add(1) - 1
	}
	s.sendLog(fl, l)
}

// sendLog formats l's line and sends it to fl's targets, unless the
// options drop it.
func (s *session) sendLog(fl *feLog, l *rules.LogInfo) {
	cfg := fl.cfg
	normal := l.Normal()
	if (cfg.DontLogNull && l.BytesIn == 0) || (cfg.DontLogNormal && normal) {
		return
	}
	level := rules.LevelInfo
	if cfg.SeparateErrors && !normal {
		level = rules.LevelErr
	}
	lg := &s.lg
	lg.line = cfg.Format.Append(&s.txn, lg.line[:0])
	now := time.Now()
	for i := range fl.targets {
		t := &fl.targets[i]
		if t.w == nil || level > t.cfg.Level {
			continue
		}
		lg.frame = appendFrame(lg.frame[:0], fl, t.cfg, max(level, t.cfg.MinLevel), now, lg.line)
		t.w.Write(lg.frame)
	}
}

// fillTimers computes haproxy's timers (section 8.4) from the stamps of
// a request that started at start and ends at end.
func (s *session) fillTimers(l *rules.LogInfo, start, end time.Time) {
	lg := &s.lg
	l.Accept, l.Request = start, start
	l.Tt = ms(end.Sub(start))
	if !lg.first.IsZero() {
		l.Request = lg.first
		l.Ti = ms(lg.first.Sub(start))
	}
	l.Ta = l.Tt - l.Th - l.Ti
	l.TR = span(lg.first, lg.head)
	l.Tw = span(lg.queue, lg.connect)
	l.Tc = span(lg.connect, lg.connected)
	l.Tr = span(lg.connected, lg.resp)
}

// span returns the milliseconds from a to b, -1 when either is unknown.
func span(a, b time.Time) int64 {
	if a.IsZero() || b.IsZero() {
		return -1
	}
	return ms(b.Sub(a))
}

func ms(d time.Duration) int64 { return int64(d / time.Millisecond) }

// fillCounts records the connection and queue counts at log time.
func (s *session) fillCounts(l *rules.LogInfo) {
	l.ActConn = s.e.proc.actconn.Load()
	if c := s.feConnCtr; c != nil {
		l.FeConn = c.cur.Load()
	}
	if s.ck.srv != nil && s.txn.Log.Server != "" {
		srv := s.ck.srv
		l.SrvConn = srv.cur.Load()
		for _, o := range srv.be.servers {
			l.BeConn += o.cur.Load()
		}
		l.BeQueue = srv.be.queued.Load()
	}
	l.Retries = s.retries
}

// appendFrame appends msg framed for target t at level, as haproxy's
// __send_log does: header, message cut to the target's length, newline.
func appendFrame(b []byte, fl *feLog, t *rules.LogTarget, level int, now time.Time, msg []byte) []byte {
	pri := t.Facility<<3 | level
	switch t.Framing {
	case rules.FramingRFC3164, rules.FramingLocal:
		b = appendPri(b, pri)
		b = appendSyslogDate(b, now.Local())
		switch {
		case t.Framing == rules.FramingLocal:
		case fl.host != "":
			b = append(append(b, fl.host...), ' ')
		case t.NamedRFC3164:
			b = append(b, "localhost "...)
		}
		b = append(append(b, fl.tag...), '[')
		b = append(append(b, fl.pid...), "]: "...)
	case rules.FramingRFC5424:
		b = append(appendPri(b, pri), "1 "...)
		b = append(appendISODate(b, now.Local()), ' ')
		if fl.host != "" {
			b = append(b, fl.host...)
		} else {
			b = append(b, '-')
		}
		b = append(append(append(b, ' '), fl.tag...), ' ')
		b = append(append(b, fl.pid...), " - - "...)
	case rules.FramingShort:
		b = appendPri(b, level)
	case rules.FramingISO:
		b = append(appendISODate(b, now.Local()), ' ')
	case rules.FramingTimed:
		b = append(appendISODate(appendPri(b, level), now.Local()), ' ')
	case rules.FramingPriority:
		b = appendPri(b, pri)
	}
	if room := t.MaxLen - 1 - len(b); len(msg) > room {
		msg = msg[:max(room, 0)]
	}
	return append(append(b, msg...), '\n')
}

func appendPri(b []byte, pri int) []byte {
	b = strconv.AppendInt(append(b, '<'), int64(pri), 10)
	return append(b, '>')
}

// appendSyslogDate appends "Nov  4 05:46:43 " (RFC 3164).
func appendSyslogDate(b []byte, d time.Time) []byte {
	_, mo, day := d.Date()
	h, mi, sec := d.Clock()
	b = append(append(b, monthAbbr[mo-1]...), ' ')
	if day < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(day), 10)
	b = append2(append(b, ' '), h)
	b = append2(append(b, ':'), mi)
	return append(append2(append(b, ':'), sec), ' ')
}

var monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendISODate appends "2026-11-24T05:46:43.300368+00:00" (RFC 5424).
func appendISODate(b []byte, d time.Time) []byte {
	return d.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
}

// append2 appends n (0 to 99) with two digits.
func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// feLog returns the logging of frontend number i; nil: it logs nothing.
func (g *generation) feLog(i int) *feLog {
	if i < 0 || i >= len(g.logs) {
		return nil
	}
	return g.logs[i]
}

// logServer records the server a request went to, and sc's addresses
// (nil: the connection failed), when the request is logged.
func (s *session) logServer(srv *serverState, sc *srvConn) {
	if !s.lg.on {
		return
	}
	l := &s.txn.Log
	l.Server = srv.cfg.Name
	if sc != nil {
		l.ServerAddr, l.BackendSrc = addrPort(sc.c.RemoteAddr()), addrPort(sc.c.LocalAddr())
	}
}

// logStats records a request the statistics page answers as haproxy
// logs it: server "<STATS>", no time in queue nor connect, and a
// response time of 0 when the page itself (not its 401) is sent.
func (s *session) logStats(page bool) {
	if !s.lg.on {
		return
	}
	lg := &s.lg
	now := time.Now()
	lg.queue, lg.connect, lg.connected = now, now, now
	if page {
		lg.resp = now
	}
	s.txn.Log.Server = "<STATS>"
}

// fwdTerm records the termination state an exchange with a server
// ended with.
func (s *session) fwdTerm(st fwdStatus) {
	switch st {
	case fwd504:
		s.setTerm('s', 'H')
	case fwd502, fwdEmpty, fwdJunk:
		s.setTerm('S', 'H')
	case fwdReply:
		s.setTerm('P', 'H')
	case fwdAbort:
		if s.out.err != nil || s.in.err != nil {
			s.setTerm('C', 'D')
		} else {
			s.setTerm('S', 'D')
		}
	}
}

// tlsVersionName names a TLS version as haproxy's %sslv ("TLSv1.3").
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return ""
}
