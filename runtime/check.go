package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// Check defaults, as HAProxy's.
const (
	defaultInter = 2 * time.Second
	defaultRise  = 2
	defaultFall  = 3
	// checkBufSize bounds what a check reads, as HAProxy's tune.bufsize.
	checkBufSize = 16384
)

// checkStatus is HAProxy's health check status (HCHK_STATUS_*), in its
// order: statuses from chkL7OKD on carry an L7 code.
type checkStatus uint8

const (
	chkSockErr checkStatus = iota
	chkL4OK
	chkL4Tout
	chkL4Con
	chkL7Tout
	chkL7Rsp
	chkL7OKD
	chkL7OKC // 404 with disable-on-404: passed, but the server drains
	chkL7Sts
)

var checkStatusText = [...]string{
	chkSockErr: "Socket error",
	chkL4OK:    "Layer4 check passed",
	chkL4Tout:  "Layer4 timeout",
	chkL4Con:   "Layer4 connection problem",
	chkL7Tout:  "Layer7 timeout",
	chkL7Rsp:   "Layer7 invalid response",
	chkL7OKD:   "Layer7 check passed",
	chkL7OKC:   "Layer7 check conditionally passed",
	chkL7Sts:   "Layer7 wrong status",
}

func (st checkStatus) String() string { return checkStatusText[st] }

// passed reports whether the status counts as a successful check.
func (st checkStatus) passed() bool { return st == chkL4OK || st == chkL7OKD || st == chkL7OKC }

// checkResult is the outcome of one check.
type checkResult struct {
	status checkStatus
	code   int    // HTTP status, shown for chkL7OKD and chkL7Sts
	info   string // HAProxy's check description; empty: none
	took   time.Duration
}

// checker runs the health checks of one server in one loop, with
// HAProxy's rise/fall counter. Its fields are owned by the loop.
type checker struct {
	e          *Engine
	s          *serverState
	rise, fall int
	first      time.Duration // delay before the first check, spreading checks
	buf        []byte        // receive buffer, reused across checks
}

func newChecker(e *Engine, s *serverState) *checker {
	c := &checker{e: e, s: s, rise: s.cfg.Rise, fall: s.cfg.Fall}
	if c.rise <= 0 {
		c.rise = defaultRise
	}
	if c.fall <= 0 {
		c.fall = defaultFall
	}
	return c
}

// startChecks starts one check loop per checked server of gen. As
// HAProxy's start_checks, the first checks are spread evenly over the
// smallest initial interval, across every backend, so that many servers
// are not checked in the same instant. Called with e.mu held.
func (e *Engine) startChecks(gen *generation) {
	if e.workers.follower() {
		e.followLeader(gen) // the leader checks for every worker
		return
	}
	var cs []*checker
	var mininter time.Duration
	for _, bs := range gen.backends {
		for _, ss := range bs.servers {
			if !ss.cfg.Check {
				continue // a "disabled" one is checked once enabled
			}
			c := newChecker(e, ss)
			if d := c.next(); mininter == 0 || d < mininter {
				mininter = d
			}
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	gen.stopChecks = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for i, c := range cs {
		c.first = mininter * time.Duration(i) / time.Duration(len(cs))
		e.wg.Add(1)
		go c.run(ctx)
	}
}

func (c *checker) inter() time.Duration {
	if c.s.cfg.Inter > 0 {
		return c.s.cfg.Inter
	}
	return defaultInter
}

// next returns the delay before the next check, as HAProxy's
// srv_getinter: inter while fully up, downinter while fully down,
// fastinter in between.
func (c *checker) next() time.Duration {
	cfg := c.s.cfg
	switch {
	case c.s.health == c.rise+c.fall-1:
	case c.s.health == 0 && !c.s.up.Load():
		if cfg.DownInter > 0 {
			return cfg.DownInter
		}
	default:
		if cfg.FastInter > 0 {
			return cfg.FastInter
		}
	}
	return c.inter()
}

func (c *checker) run(ctx context.Context) {
	defer c.e.wg.Done()
	t := time.NewTimer(c.first)
	defer t.Stop()
	for {
		select {
		case <-c.e.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.s.paused() {
			t.Reset(c.next())
			continue
		}
		r := c.check(ctx)
		select {
		case <-c.e.done:
			return
		case <-ctx.Done():
			// A reload stopped this configuration's checks: the check
			// was cut short, which says nothing about the server.
			return
		default:
		}
		if c.s.healthReset.Swap(false) {
			c.s.health = c.rise
		}
		c.result(r)
		t.Reset(c.next())
	}
}

// paused reports whether s is not checked now: in maintenance (by an
// operator, or with no address) or with its checks disabled.
func (s *serverState) paused() bool {
	return s.live.Load().none || s.adminState() == AdminMaint || s.checksOff.Load()
}

// probe is one check in progress: its connection and deadlines.
type probe struct {
	c        *checker
	ctx      context.Context
	start    time.Time
	deadline time.Time // of the whole check, until connected
	conn     net.Conn
	stop     func() bool // unregisters the close-on-cancel hook
	buf      []byte
	eof      bool // the server closed, or the buffer is full
}

// check runs one check of the backend's kind and returns its outcome.
func (c *checker) check(ctx context.Context) checkResult {
	p := &probe{c: c, ctx: ctx, start: time.Now(), buf: c.buf[:0]}
	p.deadline = p.start.Add(c.inter())
	defer p.close()
	var r checkResult
	hc := c.s.be.cfg.Check
	switch {
	case hc == nil:
		r = p.connectCheck()
	case hc.Kind == rules.CheckHTTP:
		r = p.httpCheck(hc)
	case hc.Kind == rules.CheckTCPRules:
		r = p.tcpCheck(hc)
	default:
		r = p.connectCheck()
	}
	r.took = time.Since(p.start)
	c.buf = p.buf[:0]
	return r
}

// addr returns the address checks connect to: the server's "addr" and
// "port" options, else its address.
func (c *checker) addr() string {
	la := c.s.live.Load()
	if la.checkAddr != "" {
		return la.checkAddr
	}
	return la.addr
}

// dial connects to addr with the server's check settings. The connect
// timeout is the check's whole interval, or with "timeout check"
// min("timeout connect", inter); once connected, "timeout check" (if
// set) bounds the rest of the check.
func (p *probe) dial(addr string) error { return p.dialStep(addr, nil) }

// dialStep is dial with the options of a connect rule (nil: the
// server's).
func (p *probe) dialStep(addr string, st *rules.CheckStep) error {
	p.close()
	be := p.c.s.be.cfg
	dl := p.deadline
	if be.Timeouts.Check > 0 && be.Timeouts.Connect > 0 {
		if t := time.Now().Add(be.Timeouts.Connect); t.Before(dl) {
			dl = t
		}
	}
	d := p.c.s.checkDialer(dl)
	network := "tcp"
	if p.c.s.cfg.Network == "unix" && p.c.s.cfg.CheckAddr == "" && addr == p.c.s.live.Load().addr {
		network = "unix" // a unix socket server, checked on its socket
	}
	conn, err := d.DialContext(p.ctx, network, addr)
	if err != nil {
		return err
	}
	if conn, err = checkConnPrepare(conn, p.c.s.cfg, st, dl); err != nil {
		return err
	}
	p.conn = conn
	p.buf, p.eof = p.buf[:0], false
	if be.Timeouts.Check > 0 {
		p.deadline = time.Now().Add(be.Timeouts.Check)
	}
	conn.SetDeadline(p.deadline)
	p.stop = context.AfterFunc(p.ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return nil
}

func (p *probe) close() {
	if p.conn != nil {
		p.stop()
		p.conn.Close()
		p.conn = nil
	}
}

// read appends what the server sends next to p.buf. It returns a timeout
// error when the check's time is up; a close or a full buffer sets eof.
func (p *probe) read() error {
	if len(p.buf) >= checkBufSize {
		p.eof = true
		return nil
	}
	if cap(p.buf) < checkBufSize {
		p.buf = append(make([]byte, 0, checkBufSize), p.buf...)
	}
	n, err := p.conn.Read(p.buf[len(p.buf):checkBufSize])
	p.buf = p.buf[:len(p.buf)+n]
	if len(p.buf) >= checkBufSize {
		p.eof = true
	}
	if err != nil {
		if isTimeout(err) {
			return err
		}
		p.eof = true // closed or reset: no more data
	}
	return nil
}

func (p *probe) write(b []byte) error {
	_, err := p.conn.Write(b)
	return err
}

// connectCheck is the plain TCP connect check.
func (p *probe) connectCheck() checkResult {
	if err := p.dial(p.c.addr()); err != nil {
		return connError(err, "")
	}
	return checkResult{status: chkL4OK}
}

// connError turns a failed connect into HAProxy's status and info; where
// is appended to the info (tcp-check step).
func connError(err error, where string) checkResult {
	if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return checkResult{status: chkL4Tout, info: where}
	}
	return checkResult{status: chkL4Con, info: checkInfo(err) + where}
}

// result applies one check outcome to the counter, as HAProxy's
// set_server_check_status, and reports a state change.
func (c *checker) result(r checkResult) {
	s := c.s
	max := c.rise + c.fall - 1
	if r.status == chkL7OKC && !s.up.Load() {
		// A stopped server stays stopped even if it replies 404.
		r.status = chkL7Sts
	}
	if r.status.passed() && s.nolb.Swap(r.status == chkL7OKC) != (r.status == chkL7OKC) {
		s.bounces.Add(1)
	}
	if !r.status.passed() {
		if s.health > 0 {
			s.health--
			if s.health < c.rise {
				s.health = 0
			}
		}
		if s.health == 0 && s.up.Load() {
			s.up.Store(false)
			s.bounces.Add(1)
			c.logDown(r)
			if s.cfg.ShutdownOnDown {
				s.shutdownSessions()
			}
		}
		return
	}
	if s.health < max {
		s.health++
		if s.health >= c.rise {
			s.health = max
		}
	}
	if s.health >= c.rise && !s.up.Load() {
		s.up.Store(true)
		s.bounces.Add(1)
		c.s.be.wake()
		c.logUp(r)
	}
}

func (c *checker) kind() string {
	if c.s.cfg.Backup {
		return "Backup Server"
	}
	return "Server"
}

// appendStatus writes HAProxy's ", reason: ..., check duration: Nms"
// part of a state change message (srv_append_status).
func appendStatus(b *strings.Builder, r checkResult) {
	b.WriteString(", reason: ")
	b.WriteString(r.status.String())
	if r.status >= chkL7OKD {
		b.WriteString(", code: ")
		b.WriteString(strconv.Itoa(r.code))
	}
	if r.info != "" {
		b.WriteString(", info: \"")
		asciiEncode(b, r.info)
		b.WriteByte('"')
	}
	b.WriteString(", check duration: ")
	b.WriteString(strconv.FormatInt(r.took.Milliseconds(), 10))
	b.WriteString("ms")
}

// asciiEncode writes s with non-printable bytes and '"' as <XX>, as
// HAProxy's chunk_asciiencode.
func asciiEncode(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < 32 || ch > 126 || ch == '"' {
			b.WriteString("<" + strings.ToUpper(strconv.FormatUint(uint64(ch)>>4, 16)+strconv.FormatUint(uint64(ch)&15, 16)) + ">")
			continue
		}
		b.WriteByte(ch)
	}
}

func runningOnBackup(act, bck int) string {
	if bck > 0 && act == 0 {
		return " Running on backup."
	}
	return ""
}

func (c *checker) logDown(r checkResult) {
	be := c.s.be
	act, bck := be.counts()
	var b strings.Builder
	b.WriteString(c.kind() + " " + be.cfg.Name + "/" + c.s.cfg.Name + " is DOWN")
	appendStatus(&b, r)
	b.WriteString(". " + strconv.Itoa(act) + " active and " + strconv.Itoa(bck) + " backup servers left." +
		runningOnBackup(act, bck) + " " + strconv.FormatInt(c.s.cur.Load(), 10) +
		" sessions active, 0 requeued, 0 remaining in queue.")
	c.e.log.Print(b.String())
	if act == 0 && bck == 0 {
		c.e.log.Printf("backend '%s' has no server available!", be.cfg.Name)
	}
}

func (c *checker) logUp(r checkResult) {
	be := c.s.be
	act, bck := be.counts()
	var b strings.Builder
	b.WriteString(c.kind() + " " + be.cfg.Name + "/" + c.s.cfg.Name + " is UP")
	appendStatus(&b, r)
	b.WriteString(". " + strconv.Itoa(act) + " active and " + strconv.Itoa(bck) + " backup servers online." +
		runningOnBackup(act, bck) + " 0 sessions requeued, " + strconv.Itoa(int(be.queued.Load())) + " total in queue.")
	c.e.log.Print(b.String())
}

// checkInfo returns HAProxy's wording of a failed connect.
func checkInfo(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED:
			return "Connection refused"
		case syscall.ENETUNREACH:
			return "Network is unreachable"
		case syscall.EHOSTUNREACH:
			return "No route to host"
		case syscall.ECONNRESET:
			return "Connection reset by peer"
		}
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "Connection timeout"
	}
	if errors.Is(err, io.EOF) {
		return "Connection closed"
	}
	return err.Error()
}

// checkConnPrepare does for a check connection what the server's own
// connections get: the PROXY line when the check goes to the server's
// address (as haproxy), and TLS with check-ssl or inherited from ssl.
func checkConnPrepare(conn net.Conn, srv *rules.Server, st *rules.CheckStep, dl time.Time) (net.Conn, error) {
	proxy, useTLS := 0, srv.CheckTLS
	if srv.CheckAddr == "" {
		proxy = srv.ProxyProtocol
	}
	var sni string
	var alpn []string
	if st != nil {
		if !st.Default {
			proxy, useTLS = 0, false
		}
		if st.SendProxy && proxy == 0 {
			proxy = 1
		}
		useTLS = useTLS || st.SSL
		sni, alpn = st.SNI, st.ALPN
	}
	if proxy == 0 && !useTLS {
		return conn, nil
	}
	conn.SetDeadline(dl)
	var err error
	if proxy != 0 {
		err = writeProxyHeader(conn, proxy, addrPort(conn.LocalAddr()), addrPort(conn.RemoteAddr()))
	}
	if err == nil && useTLS {
		cfg := srv.TLS
		if cfg == nil {
			cfg = &tls.Config{InsecureSkipVerify: true}
		}
		if sni != "" || alpn != nil {
			cfg = cfg.Clone()
			if sni != "" {
				cfg.ServerName = sni
			}
			if alpn != nil {
				cfg.NextProtos = alpn
			}
		}
		tc := tls.Client(conn, cfg)
		err = tc.Handshake()
		conn = tc
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
