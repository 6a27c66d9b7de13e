package parser

import (
	"net"
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

// bindOptions that only tune the socket; accepted with a warning.
var bindTuning = map[string]bool{"v4v6": false, "v6only": false, "transparent": true,
	"defer-accept": false, "tfo": false, "backlog": true, "maxconn": true, "name": true,
	"id": true, "nice": true, "process": true, "thread": true, "accept-netscaler-cip": true,
	"mss": true, "interface": true, "tcp-ut": true, "level": true, "mode": true, "user": true,
	"group": true, "uid": true, "gid": true, "namespace": true, "severity-output": true}

func (c *compiler) bind(p *proxy, st *BindStmt) {
	opts := c.values(st.Opts)
	// A crt-list's lines name files as a crt option would, from the
	// position of the bind line.
	t := bindTLS{
		crtPath: func(name string) string { return c.basePath(st.Pos, c.paths.crtBase, name) },
		caPath:  func(name string) string { return c.basePath(st.Pos, c.paths.caBase, name) },
	}
	acceptProxy := false
	for i := 0; i < len(opts); i++ {
		if opts[i] == "accept-proxy" {
			acceptProxy = true
			continue
		}
		switch opts[i] {
		case "crt", "crt-list":
			if i+1 < len(opts) {
				opts[i+1] = c.basePath(st.Opts[i+1].Pos, c.paths.crtBase, opts[i+1])
			}
		case "ca-file":
			if i+1 < len(opts) {
				opts[i+1] = c.basePath(st.Opts[i+1].Pos, c.paths.caBase, opts[i+1])
			}
		}
		n, err := t.option(opts, i)
		if err != nil {
			c.errorf(st.Opts[i].Pos, "%v", err)
			return
		}
		if n > 0 {
			i += n - 1
			continue
		}
		if tlsTuning[opts[i]] {
			c.warnf(st.Opts[i].Pos, "bind option '%s' only tunes TLS; gohap uses Go's secure defaults", opts[i])
			i++
			continue
		}
		takesValue, known := bindTuning[opts[i]]
		if !known {
			c.errorf(st.Opts[i].Pos, "bind option '%s' is not supported", opts[i])
			return
		}
		if takesValue {
			i++
		}
	}
	first := len(p.fe.Binds)
	c.bindAddrs(p, st.Addr, c.value(st.Addr))
	if acceptProxy {
		for i := first; i < len(p.fe.Binds); i++ {
			p.fe.Binds[i].AcceptProxy = true
		}
	}
	if !t.ssl {
		if len(t.crts) > 0 {
			c.warnf(st.Pos, "'crt' without 'ssl': the certificate is not used")
		}
		return
	}
	cfg, warns, err := t.config(c.cfg.ReadFile)
	if err != nil {
		c.errorf(st.Pos, "bind '%s': %v", c.value(st.Addr), err)
		return
	}
	for _, w := range warns {
		c.warnf(st.Pos, "%s", w)
	}
	for i := first; i < len(p.fe.Binds); i++ {
		p.fe.Binds[i].TLS = cfg
	}
}

// bindAddrs adds the listeners of one bind address list:
// "ADDR:PORT[,ADDR:PORT...]" with port ranges, "*:PORT", ":PORT",
// "ipv4@", "ipv6@", "unix@PATH" or "/PATH", and "fd@N".
func (c *compiler) bindAddrs(p *proxy, w *Word, list string) {
	pos := posString(w.Pos)
	for _, a := range strings.Split(list, ",") {
		switch {
		case strings.HasPrefix(a, "fd@"):
			n, err := strconv.Atoi(strings.TrimPrefix(a, "fd@"))
			if err != nil || n < 0 {
				c.errorf(w.Pos, "bind '%s': invalid file descriptor", a)
				return
			}
			p.fe.Binds = append(p.fe.Binds, rules.Bind{Pos: pos, Network: "tcp", FD: n})
			continue
		case strings.HasPrefix(a, "sockpair@"), strings.HasPrefix(a, "quic4@"), strings.HasPrefix(a, "quic6@"), strings.HasPrefix(a, "udp@"):
			c.errorf(w.Pos, "bind '%s': this address family is not supported", a)
			return
		}
		network, a := addrFamily(a)
		if network == "unix" {
			p.fe.Binds = append(p.fe.Binds, rules.Bind{Pos: pos, Network: network, Addr: a, FD: -1})
			continue
		}
		host, ports, err := net.SplitHostPort(a)
		if i := strings.LastIndexByte(a, ':'); err != nil && i > 0 && !strings.Contains(a, "[") {
			// haproxy reads "::1:80" and ":::80" as an IPv6 address and a port.
			host, ports, err = a[:i], a[i+1:], nil
		}
		if err != nil {
			c.errorf(w.Pos, "bind '%s': missing port (expected ADDR:PORT)", a)
			return
		}
		if host == "*" {
			host = ""
		}
		lo, hi, err := portRange(ports)
		if err != nil {
			c.errorf(w.Pos, "bind '%s': %v", a, err)
			return
		}
		if hi-lo > 1024 {
			c.errorf(w.Pos, "bind '%s': port range too large", a)
			return
		}
		for port := lo; port <= hi; port++ {
			p.fe.Binds = append(p.fe.Binds, rules.Bind{Pos: pos, Network: network, Addr: net.JoinHostPort(host, strconv.Itoa(port)), FD: -1})
		}
	}
}

// addrFamily reads the family prefix of a socket address: "unix@PATH" or
// "/PATH" (a unix socket), "abns@NAME" (an abstract one, which Go names
// with a leading '@'), "ipv4@" and "ipv6@"; it returns the network and
// the address without its prefix ("tcp" when there is none).
func addrFamily(a string) (network, addr string) {
	switch {
	case strings.HasPrefix(a, "abns@"):
		return "unix", "@" + strings.TrimPrefix(a, "abns@")
	case strings.HasPrefix(a, "unix@"), strings.HasPrefix(a, "/"):
		return "unix", strings.TrimPrefix(a, "unix@")
	case strings.HasPrefix(a, "ipv4@"):
		return "tcp4", strings.TrimPrefix(a, "ipv4@")
	case strings.HasPrefix(a, "ipv6@"):
		return "tcp6", strings.TrimPrefix(a, "ipv6@")
	}
	return "tcp", a
}

func portRange(s string) (int, int, error) {
	los, his, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(los)
	if err != nil || lo < 0 || lo > 65535 {
		return 0, 0, errorString("invalid port '" + s + "'")
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := strconv.Atoi(his)
	if err != nil || hi < lo || hi > 65535 {
		return 0, 0, errorString("invalid port range '" + s + "'")
	}
	return lo, hi, nil
}
