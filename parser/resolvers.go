package parser

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// declareResolvers creates the resolvers sections of f before any proxy
// is compiled, so that a server can name one declared further down.
func (c *compiler) declareResolvers(f *File) {
	for _, s := range f.Sections {
		if s.Kind != "resolvers" || len(s.Args) == 0 {
			continue
		}
		name := c.value(s.Args[0])
		if prev, dup := c.resolvers[name]; dup {
			c.errorf(s.Pos, "resolvers section '%s' has the same name as another one declared at %s", name, prev.Pos)
			continue
		}
		r := rules.NewResolvers(name, posString(s.Pos))
		c.resolvers[name] = r
		c.g.Resolvers = append(c.g.Resolvers, r)
	}
}

// resolversSection compiles "resolvers NAME": nameserver ID ADDR:PORT,
// parse-resolv-conf, resolve_retries N, timeout resolve|retry T, hold
// STATUS T, accepted_payload_size N.
func (c *compiler) resolversSection(s *Section) {
	args := c.values(s.Args)
	if len(args) != 1 {
		c.errorf(s.Pos, "'resolvers' expects exactly one name")
		return
	}
	r := c.resolvers[args[0]]
	if r == nil || r.Pos != posString(s.Pos) {
		return // a duplicate, reported by declareResolvers
	}
	ids := map[string]bool{}
	for _, st := range s.Stmts {
		g := st.Generic
		if g == nil {
			c.errorf(st.Pos, "'%s' is not allowed in 'resolvers' section", stmtKeyword(st))
			continue
		}
		kw, a := c.value(g.Keyword), c.values(g.Args)
		switch kw {
		case "nameserver":
			if len(a) != 2 {
				c.errorf(g.Pos, "'nameserver' expects <name> and <addr>[:<port>] as arguments")
				continue
			}
			if ids[a[0]] {
				c.errorf(g.Pos, "nameserver '%s' has same name as another nameserver", a[0])
			}
			ids[a[0]] = true
			addr, err := nameserverAddr(a[1])
			if err != nil {
				c.errorf(g.Args[1].Pos, "'nameserver %s' : %v", a[0], err)
				continue
			}
			r.Nameservers = append(r.Nameservers, addr)
		case "parse-resolv-conf":
			c.parseResolvConf(r, g.Pos)
		case "resolve_retries", "accepted_payload_size":
			if len(a) != 1 {
				c.errorf(g.Pos, "'%s' expects <nb> as argument", kw)
				continue
			}
			lo, hi, dst := 1, 1<<20, &r.Retries
			if kw == "accepted_payload_size" {
				lo, hi, dst = 12, 65535, &r.PayloadSize
			}
			n, err := parseInt(a[0], lo, hi)
			if err != nil {
				c.errorf(g.Args[0].Pos, "'%s': %v", kw, err)
				continue
			}
			*dst = n
		case "timeout", "hold":
			c.resolversTime(r, g, kw, a)
		default:
			c.errorf(g.Pos, "unknown keyword '%s' in 'resolvers' section", kw)
		}
	}
}

// resolversTime is "timeout resolve|retry T" and "hold STATUS T".
func (c *compiler) resolversTime(r *rules.Resolvers, g *Generic, kw string, a []string) {
	dst := map[string]*time.Duration{"resolve": &r.Resolve, "retry": &r.Retry}
	if kw == "hold" {
		h := &r.Hold
		dst = map[string]*time.Duration{"valid": &h.Valid, "nx": &h.NX, "other": &h.Other,
			"refused": &h.Refused, "timeout": &h.Timeout, "obsolete": &h.Obsolete}
	}
	if len(a) != 2 {
		c.errorf(g.Pos, "'%s' expects an event and a <time> as arguments", kw)
		return
	}
	p, ok := dst[a[0]]
	if !ok {
		c.errorf(g.Args[0].Pos, "'%s' unknown <event>: '%s'", kw, a[0])
		return
	}
	d, err := parseTime(a[1])
	if err != nil {
		c.errorf(g.Args[1].Pos, "'%s %s': %v", kw, a[0], err)
		return
	}
	*p = d
}

// nameserverAddr checks a nameserver address: IP:PORT, optionally
// "udp@"; DNS over TCP is not supported.
func nameserverAddr(s string) (string, error) {
	if strings.HasPrefix(s, "tcp@") {
		return "", errorString("DNS over TCP ('" + s + "') is not supported")
	}
	for _, pre := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
		s = strings.TrimPrefix(s, pre)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errorString("missing port specification in '" + s + "'")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errorString("invalid port '" + port + "'")
	}
	if net.ParseIP(host) == nil {
		return "", errorString("'" + host + "' is not an IP address")
	}
	return s, nil
}

// parseResolvConf adds the nameservers of /etc/resolv.conf, on port 53.
func (c *compiler) parseResolvConf(r *rules.Resolvers, pos lexer.Position) {
	data, err := c.cfg.ReadFile("/etc/resolv.conf")
	if err != nil {
		c.errorf(pos, "failed to open /etc/resolv.conf")
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip := net.ParseIP(strings.SplitN(f[1], "%", 2)[0])
		if ip == nil {
			c.warnf(pos, "/etc/resolv.conf: address '%s' could not be recognized, nameserver will be excluded", f[1])
			continue
		}
		r.Nameservers = append(r.Nameservers, net.JoinHostPort(ip.String(), "53"))
	}
}

// serverResolvers links srv to the resolvers section its options name,
// and checks its DNS options. haproxy creates a "default" section from
// /etc/resolv.conf when none has that name.
func (c *compiler) serverResolvers(p *proxy, srv *rules.Server, d *serverDefaults, pos lexer.Position) bool {
	srv.ResolvePrefer = d.resolvePrefer
	if srv.ResolvePrefer == "" {
		srv.ResolvePrefer = "ipv6"
	}
	srv.InitAddr = d.initAddr
	if d.resolvers == "" {
		return true
	}
	r := c.resolvers[d.resolvers]
	if r == nil && d.resolvers == "default" {
		r = rules.NewResolvers("default", posString(pos))
		c.parseResolvConf(r, pos)
		c.resolvers["default"] = r
		c.g.Resolvers = append(c.g.Resolvers, r)
	}
	if r == nil {
		c.errorf(pos, "backend '%s', server '%s': unable to find required resolvers '%s'", p.name, srv.Name, d.resolvers)
		return false
	}
	srv.Resolvers = r
	return true
}

// serverDNSValues are the server options about DNS.
var serverDNSValues = map[string]func(d *serverDefaults, v string) error{
	"resolvers": func(d *serverDefaults, v string) error { d.resolvers = v; return nil },
	"resolve-prefer": func(d *serverDefaults, v string) error {
		if v != "ipv4" && v != "ipv6" {
			return errorString("expects 'ipv4' or 'ipv6', got '" + v + "'")
		}
		d.resolvePrefer = v
		return nil
	},
	"init-addr": func(d *serverDefaults, v string) error {
		d.initAddr = nil
		for _, m := range strings.Split(v, ",") {
			switch {
			case m == "last" || m == "libc" || m == "none":
				d.initAddr = append(d.initAddr, rules.InitAddr{Method: m})
			case net.ParseIP(m) != nil:
				d.initAddr = append(d.initAddr, rules.InitAddr{Method: "ip", IP: m})
			default:
				return errorString("'" + m + "' : unknown init-addr method, expects 'last', 'libc', 'none' or an IP address")
			}
		}
		return nil
	},
}

// checkDynamicCookies warns, as haproxy does, when two servers of p with
// written IP addresses get the same dynamic cookie.
func (c *compiler) checkDynamicCookies(p *proxy) {
	ck := p.be.Cookie
	if ck == nil || !ck.Dynamic || p.be.DynamicCookieKey == "" {
		return
	}
	seen := map[string]bool{}
	for _, s := range p.be.Servers {
		ap, err := netip.ParseAddrPort(s.Addr)
		if s.Cookie != "" || s.Disabled || err != nil {
			continue
		}
		v := rules.DynamicCookie(p.be.DynamicCookieKey, ap)
		if seen[v] {
			c.warnf(p.pos, "We generated two equal cookies for two different servers. Please change the secret key for '%s'.", p.name)
			return
		}
		seen[v] = true
	}
}
