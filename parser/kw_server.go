package parser

import (
	"net"
	"strconv"
	"strings"
	"time"

	"gohap/runtime/rules"
)

// server compiles "server NAME ADDR [OPTIONS]".
func (c *compiler) server(p *proxy, st *ServerStmt) {
	c.addServer(p, st, c.value(st.Name))
}

// kwServerTemplate is "server-template PREFIX NUM|LOW-HIGH ADDR [OPTIONS]":
// servers PREFIX<n> with the same address and options. With "resolvers",
// a name is resolved for each (each takes an address of its own when DNS
// has several), and "_service._proto.name" fills them from SRV records.
func kwServerTemplate(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) < 3 {
		c.errorf(g.Pos, "'server-template' expects a prefix, a number or range, and an address")
		return
	}
	lo, hi := 1, 0
	if a, b, isRange := strings.Cut(args[1], "-"); isRange {
		var err1, err2 error
		lo, err1 = parseInt(a, 1, 1<<16)
		hi, err2 = parseInt(b, lo, 1<<16)
		if err1 != nil || err2 != nil {
			c.errorf(g.Args[1].Pos, "server-template: invalid range '%s'", args[1])
			return
		}
	} else {
		n, err := parseInt(args[1], 1, 1<<16)
		if err != nil {
			c.errorf(g.Args[1].Pos, "server-template: %v", err)
			return
		}
		hi = n
	}
	st := &ServerStmt{Pos: g.Pos, Name: g.Args[0], Addr: g.Args[2], Opts: g.Args[3:]}
	for i := lo; i <= hi; i++ {
		c.addServer(p, st, args[0]+strconv.Itoa(i))
	}
}

// addServer compiles one server named name from a server line.
func (c *compiler) addServer(p *proxy, st *ServerStmt, name string) {
	if st.Addr == nil {
		c.errorf(st.Pos, "'server %s' expects an address", name)
		return
	}
	for _, s := range p.be.Servers {
		if s.Name == name {
			c.errorf(st.Name.Pos, "server '%s/%s' is declared twice (first at %s)", p.name, name, s.Pos)
			return
		}
	}
	written := c.value(st.Addr)
	srvName := ""
	sa := srvAddr{network: "tcp"}
	if strings.HasPrefix(written, "_") {
		// An SRV name: the address and port come from DNS.
		srvName, _, _ = strings.Cut(written, ":")
	} else {
		var err error
		if sa, err = serverAddr(written); err != nil {
			c.errorf(st.Addr.Pos, "server '%s': %v", name, err)
			return
		}
	}
	addr := sa.addr
	d := p.set.server
	if !c.serverOptions(&d, st.Opts, "server") {
		return
	}
	srv := &rules.Server{
		Name: name, Pos: posString(st.Pos), Index: len(p.be.Servers), Backend: p.be, Addr: addr,
		Network: sa.network, PortFromClient: sa.portFromClient,
		Weight: d.weight, Backup: d.backup, Disabled: d.disabled, NonStick: d.nonStick, MaxConn: d.maxconn,
		Check: d.check, Inter: d.inter, FastInter: d.fastinter, DownInter: d.downinter,
		Rise: d.rise, Fall: d.fall, ID: d.id,
	}
	for _, o := range p.be.Servers {
		if d.id != 0 && o.ID == d.id {
			c.errorf(st.Pos, "server '%s/%s': id %d is already used by server '%s'", p.name, name, d.id, o.Name)
			return
		}
	}
	if srv.FastInter == 0 {
		srv.FastInter = srv.Inter
	}
	if srv.DownInter == 0 {
		srv.DownInter = srv.Inter
	}
	srv.ProxyProtocol, srv.CheckTLS, srv.ShutdownOnDown = d.proxyProto, d.checkSSL, d.shutdownOnDown
	srv.Cookie = d.cookie
	srv.CheckPort = d.port
	if !c.serverResolvers(p, srv, &d, st.Pos) {
		return
	}
	if host, _, err := net.SplitHostPort(sa.addr); sa.network == "tcp" && srv.Resolvers != nil {
		if sa.portFromClient {
			host, err = sa.addr, nil
		}
		if err == nil && net.ParseIP(host) == nil {
			srv.Hostname = host
		}
	}
	if srvName != "" {
		if srv.Resolvers == nil {
			c.warnf(st.Pos, "server '%s/%s': '%s' is a DNS SRV name but the server has no 'resolvers': it stays in maintenance", p.name, name, srvName)
		}
		srv.SRVName, srv.Addr = srvName, ""
	}
	srv.Source = d.source
	if d.ssl {
		if d.caFile != "" {
			d.caFile = c.basePath(st.Pos, c.paths.caBase, d.caFile)
		}
		if d.crt != "" {
			d.crt = c.basePath(st.Pos, c.paths.crtBase, d.crt)
		}
		cfg, warns, err := c.serverTLSConfig(&d)
		if err != nil {
			c.errorf(st.Pos, "server '%s/%s': %v", p.name, name, err)
			return
		}
		for _, w := range warns {
			c.warnf(st.Pos, "server '%s/%s': %s", p.name, name, w)
		}
		srv.TLS = cfg
		if d.sniExpr != "" {
			if srv.SNI = c.format(p, st.Pos, "%["+d.sniExpr+"]"); srv.SNI == nil {
				return
			}
			srv.SNIVerify = d.verify != "none"
		}
		// Checks go over TLS too unless they have their own address.
		srv.CheckTLS = srv.CheckTLS || (d.addr == "" && d.port == 0)
	}
	if srv.Check && sa.portFromClient && d.port == 0 {
		// As haproxy: a check cannot use the client's port.
		c.errorf(st.Pos, "server '%s' has no port: its health check needs 'port'", name)
		return
	}
	if d.addr != "" || d.port != 0 {
		host, port, _ := net.SplitHostPort(addr)
		if sa.portFromClient {
			host = addr
		}
		if d.addr != "" {
			host = d.addr
		}
		if d.port != 0 {
			port = strconv.Itoa(d.port)
		}
		srv.CheckAddr = net.JoinHostPort(host, port)
	}
	p.be.Servers = append(p.be.Servers, srv)
}

func kwDefaultServer(c *compiler, p *proxy, g *Generic, args []string) {
	d := p.set.server
	opts := g.Args
	if c.serverOptions(&d, opts, "default-server") {
		if d.id != 0 {
			c.errorf(g.Pos, "'default-server' does not accept option 'id'")
			return
		}
		p.set.server = d
	}
}

// serverAddr checks a server address: host:port, a host alone (the port
// is then the client's), ipv4@/ipv6@ prefixes, unix@PATH or /PATH, and
// abns@NAME (a Linux abstract socket).
func serverAddr(s string) (srvAddr, error) {
	for _, pre := range []string{"ipv4@", "ipv6@"} {
		s = strings.TrimPrefix(s, pre)
	}
	switch {
	case strings.HasPrefix(s, "abns@"):
		return srvAddr{network: "unix", addr: "@" + strings.TrimPrefix(s, "abns@")}, nil
	case strings.HasPrefix(s, "unix@"), strings.HasPrefix(s, "/"):
		return srvAddr{network: "unix", addr: strings.TrimPrefix(s, "unix@")}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.ContainsAny(s, "[]") || strings.Count(s, ":") == 1 {
			return srvAddr{}, errorString("invalid address '" + s + "'")
		}
		// No port: connect on the port the client came in on.
		return srvAddr{network: "tcp", addr: strings.Trim(s, "[]"), portFromClient: true}, nil
	}
	if strings.HasPrefix(port, "+") || strings.HasPrefix(port, "-") {
		return srvAddr{}, errorString("port offsets ('" + s + "') are not supported")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return srvAddr{}, errorString("invalid port '" + port + "' in '" + s + "'")
	}
	if host == "" || host == "*" {
		host = "127.0.0.1"
	}
	return srvAddr{network: "tcp", addr: net.JoinHostPort(host, port)}, nil
}

// srvAddr is a checked server address.
type srvAddr struct {
	network, addr  string
	portFromClient bool
}

type errorString string

func (e errorString) Error() string { return string(e) }

// serverFlags are server options without a value.
var serverFlags = map[string]func(d *serverDefaults){
	"check":         func(d *serverDefaults) { d.check = true },
	"no-check":      func(d *serverDefaults) { d.check = false },
	"backup":        func(d *serverDefaults) { d.backup = true },
	"no-backup":     func(d *serverDefaults) { d.backup = false },
	"disabled":      func(d *serverDefaults) { d.disabled = true },
	"enabled":       func(d *serverDefaults) { d.disabled = false },
	"non-stick":     func(d *serverDefaults) { d.nonStick = true },
	"stick":         func(d *serverDefaults) { d.nonStick = false },
	"no-tfo":        func(*serverDefaults) {},
	"no-send-proxy": func(*serverDefaults) {},
	"no-ssl":        func(*serverDefaults) {},
}

// serverValues are server options that take a value.
var serverValues = map[string]func(d *serverDefaults, v string) error{
	"inter":     func(d *serverDefaults, v string) error { return setDur(&d.inter, v) },
	"fastinter": func(d *serverDefaults, v string) error { return setDur(&d.fastinter, v) },
	"downinter": func(d *serverDefaults, v string) error { return setDur(&d.downinter, v) },
	"rise":      func(d *serverDefaults, v string) error { return setInt(&d.rise, v, 1, 1<<20) },
	"fall":      func(d *serverDefaults, v string) error { return setInt(&d.fall, v, 1, 1<<20) },
	"weight":    func(d *serverDefaults, v string) error { return setInt(&d.weight, v, 0, 256) },
	"maxconn":   func(d *serverDefaults, v string) error { return setInt(&d.maxconn, v, 0, 1<<30) },
	"port":      func(d *serverDefaults, v string) error { return setInt(&d.port, v, 1, 65535) },
	"addr":      func(d *serverDefaults, v string) error { d.addr = v; return nil },
	"id":        func(d *serverDefaults, v string) error { return setInt(&d.id, v, 1, 1<<30) },
}

// serverTuning are server options that only tune; accepted with a warning.
var serverTuning = map[string]bool{"maxqueue": true, "slowstart": true,
	"resolve-net": true, "minconn": true, "pool-max-conn": true,
	"pool-purge-delay": true, "pool-low-conn": true, "tcp-ut": true, "log-proto": true}

// serverOptions applies option words to d; it reports false on error.
func (c *compiler) serverOptions(d *serverDefaults, opts []*Word, kw string) bool {
	ok := true
	for i := 0; i < len(opts); i++ {
		name := c.value(opts[i])
		if set, found := serverFlags[name]; found {
			set(d)
			continue
		}
		if set, found := serverTLSFlags[name]; found {
			set(d)
			continue
		}
		if name == "source" {
			// ADDR, then "usesrc X" and "interface Y" pairs.
			args := []string{}
			for i+1 < len(opts) {
				v := c.value(opts[i+1])
				if len(args) > 0 && v != "usesrc" && v != "interface" {
					break
				}
				args = append(args, v)
				i++
				if len(args) > 1 && i+1 < len(opts) {
					args = append(args, c.value(opts[i+1]))
					i++
				}
			}
			src, err := parseSource(args, true)
			if err != nil {
				c.errorf(opts[i].Pos, "%s option 'source': %v", kw, err)
				return false
			}
			d.source = src
			continue
		}
		setv, hasValue := serverValues[name]
		if tv, found := serverTLSValues[name]; found {
			setv, hasValue = tv, true
		}
		if tv, found := serverDNSValues[name]; found {
			setv, hasValue = tv, true
		}
		if hasValue || serverTuning[name] {
			if i+1 >= len(opts) {
				c.errorf(opts[i].Pos, "'%s' option '%s' expects a value", kw, name)
				return false
			}
			v := c.value(opts[i+1])
			i++
			if !hasValue {
				c.warnf(opts[i-1].Pos, "%s option '%s' only tunes; gohap ignores it", kw, name)
				continue
			}
			if err := setv(d, v); err != nil {
				c.errorf(opts[i].Pos, "%s option '%s': %v", kw, name, err)
				ok = false
			}
			continue
		}
		c.errorf(opts[i].Pos, "%s option '%s' is not supported", kw, name)
		return false
	}
	return ok
}

func setDur(dst *time.Duration, v string) error {
	d, err := parseTime(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errorString("'" + v + "' must be greater than zero")
	}
	*dst = d
	return nil
}

func setInt(dst *int, v string, lo, hi int) error {
	n, err := parseInt(v, lo, hi)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}
