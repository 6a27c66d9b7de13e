package runtime

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Check defaults, as HAProxy's.
const (
	defaultInter = 2 * time.Second
	defaultRise  = 2
	defaultFall  = 3
)

// checker runs the TCP health checks of one server in one loop, with
// HAProxy's rise/fall counter.
type checker struct {
	e          *Engine
	s          *serverState
	rise, fall int
	first      time.Duration // delay before the first check, spreading checks
}

func newChecker(e *Engine, s *serverState, idx, n int) *checker {
	c := &checker{e: e, s: s, rise: s.cfg.Rise, fall: s.cfg.Fall}
	if c.rise <= 0 {
		c.rise = defaultRise
	}
	if c.fall <= 0 {
		c.fall = defaultFall
	}
	if n > 0 {
		c.first = c.inter() * time.Duration(idx) / time.Duration(n)
	}
	return c
}

func (c *checker) inter() time.Duration {
	if c.s.cfg.Inter > 0 {
		return c.s.cfg.Inter
	}
	return defaultInter
}

// next returns the delay before the next check: downinter while down,
// fastinter while changing state, inter otherwise.
func (c *checker) next() time.Duration {
	cfg := c.s.cfg
	switch {
	case c.s.health == 0 && cfg.DownInter > 0:
		return cfg.DownInter
	case c.s.health != 0 && c.s.health != c.rise+c.fall-1 && cfg.FastInter > 0:
		return cfg.FastInter
	}
	return c.inter()
}

// timeout is how long one check may take to connect.
func (c *checker) timeout() time.Duration {
	be := c.s.be.cfg
	if be.Timeouts.Check > 0 {
		if be.Timeouts.Connect > 0 {
			return min(be.Timeouts.Check, be.Timeouts.Connect)
		}
		return be.Timeouts.Check
	}
	if be.Timeouts.Connect > 0 {
		return min(be.Timeouts.Connect, c.inter())
	}
	return c.inter()
}

func (c *checker) run() {
	defer c.e.wg.Done()
	t := time.NewTimer(c.first)
	defer t.Stop()
	var d net.Dialer
	for {
		select {
		case <-c.e.done:
			return
		case <-t.C:
		}
		addr := c.s.cfg.CheckAddr
		if addr == "" {
			addr = c.s.cfg.Addr
		}
		d.Timeout = c.timeout()
		start := time.Now()
		conn, err := d.Dial("tcp", addr)
		took := time.Since(start)
		if err == nil {
			conn.Close()
		}
		c.result(err, took)
		t.Reset(c.next())
	}
}

// result applies one check outcome to the counter, as HAProxy's
// set_server_check_status does, and reports a state change.
func (c *checker) result(err error, took time.Duration) {
	s := c.s
	max := c.rise + c.fall - 1
	if err != nil {
		if s.health > 0 {
			s.health--
			if s.health < c.rise {
				s.health = 0
			}
		}
		if s.health == 0 && s.up.Load() {
			s.up.Store(false)
			c.logDown(err, took)
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
		c.logUp(took)
	}
}

func (c *checker) kind() string {
	if c.s.cfg.Backup {
		return "Backup Server"
	}
	return "Server"
}

func (c *checker) logDown(err error, took time.Duration) {
	reason := "Layer4 connection problem"
	info := ", info: \"" + checkInfo(err) + "\""
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		reason, info = "Layer4 timeout", ""
	}
	be := c.s.be
	act, bck := be.counts()
	c.e.log.Printf("%s %s/%s is DOWN, reason: %s%s, check duration: %dms. %d active and %d backup servers left. %d sessions active, 0 requeued, 0 remaining in queue.",
		c.kind(), be.cfg.Name, c.s.cfg.Name, reason, info, took.Milliseconds(), act, bck, c.s.cur.Load())
	if act == 0 && bck == 0 {
		c.e.log.Printf("backend %s has no server available!", be.cfg.Name)
	}
}

func (c *checker) logUp(took time.Duration) {
	be := c.s.be
	act, bck := be.counts()
	c.e.log.Printf("%s %s/%s is UP, reason: Layer4 check passed, check duration: %dms. %d active and %d backup servers online. 0 sessions requeued, 0 total in queue.",
		c.kind(), be.cfg.Name, c.s.cfg.Name, took.Milliseconds(), act, bck)
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
		}
		s := errno.Error()
		if s != "" {
			return string(s[0]-32*boolByte(s[0] >= 'a' && s[0] <= 'z')) + s[1:]
		}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "Connection timeout"
	}
	return err.Error()
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
