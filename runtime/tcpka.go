package runtime

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// haproxy leaves TCP keep-alive off unless "option clitcpka" or "option
// srvtcpka" (or "option tcpka") asks for it, and then keeps the system's
// timers. Go turns it on, with 15 s timers of its own, for every
// connection it accepts, dials or wraps from a descriptor unless told
// not to: the listeners gohap binds and its dialers are told; a listener
// made from an inherited descriptor (a worker's, fd@) and a connection
// wrapped again after the parker held it cannot be, so their connections
// are set right after.

// keepAliveOn turns keep-alive on with the system's timers.
var keepAliveOn = net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}

// sysKeepAlive returns keepAliveOn with the system's timers written out
// (net.ipv4.tcp_keepalive_*), for a connection on which Go set its own;
// a timer it cannot read stays as Go set it.
func sysKeepAlive() net.KeepAliveConfig {
	cfg := keepAliveOn
	read := func(name string) int {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		if err != nil {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n <= 0 {
			return -1
		}
		return n
	}
	if n := read("tcp_keepalive_time"); n > 0 {
		cfg.Idle = time.Duration(n) * time.Second
	}
	if n := read("tcp_keepalive_intvl"); n > 0 {
		cfg.Interval = time.Duration(n) * time.Second
	}
	cfg.Count = read("tcp_keepalive_probes")
	return cfg
}

// clientKeepAlive gives the client connection c the TCP keep-alive its
// frontend asks for (on); goSet says Go turned it on with its own timers.
func (e *Engine) clientKeepAlive(c net.Conn, on, goSet bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	switch {
	case on && goSet:
		tc.SetKeepAliveConfig(e.sysKA)
	case on:
		tc.SetKeepAliveConfig(keepAliveOn)
	case goSet:
		tc.SetKeepAlive(false)
	}
}

// serverDialer returns a dialer of connections to servers, with TCP
// keep-alive when on.
func serverDialer(timeout time.Duration, on bool) net.Dialer {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	if on {
		d.KeepAliveConfig = keepAliveOn
	}
	return d
}
