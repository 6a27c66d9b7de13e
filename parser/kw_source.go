package parser

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

var sourceKeywords = []keyword{
	{name: "source", where: secProxy, apply: kwSource},
}

func init() {
	register(sourceKeywords)
	keywordNotes["source"] = "ADDR[:PORT] [usesrc ADDR[:PORT]|client|clientip|hdr_ip(NAME[,OCC])] [interface NAME]: the local address of connections to servers (health checks too, without usesrc); usesrc binds transparently (IP_TRANSPARENT, needs privileges); also a server option, with port ranges; in a frontend: ignored with a warning, as haproxy does"
}

// kwSource is the proxy's "source": the default of its servers.
func kwSource(c *compiler, p *proxy, g *Generic, args []string) {
	if p.be == nil && p.fe != nil {
		c.warnf(g.Pos, "'source' ignored because frontend '%s' has no backend capability", p.name)
		return
	}
	src, err := parseSource(args, false)
	if err != nil {
		c.errorf(g.Pos, "%v", err)
		return
	}
	p.set.source = src
}

// parseSource reads "ADDR[:PORT] [usesrc ...] [interface NAME]"; a port
// range LOW-HIGH is allowed on servers only.
func parseSource(args []string, server bool) (*rules.Source, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("'source' expects <addr>[:<port>] as argument")
	}
	src := &rules.Source{}
	addr, ports, err := splitSourceAddr(args[0])
	if err != nil {
		return nil, fmt.Errorf("'source %s' : %v", args[0], err)
	}
	src.Addr = addr
	if ports != "" {
		lo, hi, isRange := strings.Cut(ports, "-")
		if isRange && !server {
			return nil, fmt.Errorf("'source %s' : port range not permitted here in '%s'", args[0], args[0])
		}
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil || h < l || (isRange && l == 0) {
			return nil, fmt.Errorf("'source %s' : invalid port '%s'", args[0], ports)
		}
		src.PortLo, src.PortHi = uint16(l), uint16(h)
	}
	for i := 1; i < len(args); i += 2 {
		if args[i] != "usesrc" && args[i] != "interface" {
			return nil, fmt.Errorf("'source' only supports optional keywords 'interface' and 'usesrc'")
		}
		if i+1 >= len(args) {
			if args[i] == "usesrc" {
				return nil, fmt.Errorf("'usesrc' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument")
			}
			return nil, fmt.Errorf("'%s' expects an argument", args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "interface":
			src.Interface = v
		case "usesrc":
			if err := parseUseSrc(src, v); err != nil {
				return nil, err
			}
		}
	}
	return src, nil
}

// parseUseSrc reads the argument of "usesrc".
func parseUseSrc(src *rules.Source, v string) error {
	switch {
	case v == "client":
		src.UseSrc = rules.UseSrcClient
	case v == "clientip":
		src.UseSrc = rules.UseSrcClientIP
	case strings.HasPrefix(v, "hdr_ip("):
		inner, ok := strings.CutSuffix(strings.TrimPrefix(v, "hdr_ip("), ")")
		name, occ, hasOcc := strings.Cut(inner, ",")
		if !ok || name == "" {
			return fmt.Errorf("'usesrc hdr_ip(name,#)' expects a header name, got '%s'", v)
		}
		src.UseSrc, src.HdrName, src.HdrOcc = rules.UseSrcHdr, []byte(strings.ToLower(name)), -1
		if hasOcc {
			n, err := strconv.Atoi(occ)
			if err != nil {
				return fmt.Errorf("'usesrc %s' : invalid occurrence '%s'", v, occ)
			}
			src.HdrOcc = n
		}
	default:
		addr, port, err := splitSourceAddr(v)
		if err != nil || !addr.IsValid() {
			return fmt.Errorf("'usesrc' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument, got '%s'", v)
		}
		p := uint64(0)
		if port != "" {
			if p, err = strconv.ParseUint(port, 10, 16); err != nil {
				return fmt.Errorf("'usesrc %s' : invalid port", v)
			}
		}
		src.UseSrc, src.UseAddr = rules.UseSrcAddr, netip.AddrPortFrom(addr, uint16(p))
	}
	return nil
}

// splitSourceAddr splits "[ipv4@|ipv6@]ADDR[:PORTS]", ADDR an IP address
// (IPv6 in brackets when a port follows); 0.0.0.0 and :: mean any.
func splitSourceAddr(s string) (netip.Addr, string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "ipv4@"), "ipv6@")
	host, ports := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, "", fmt.Errorf("invalid address: '%s'", s)
		}
		host, ports = s[1:end], strings.TrimPrefix(s[end+1:], ":")
	} else if strings.Count(s, ":") == 1 {
		host, ports, _ = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("invalid address: '%s' in '%s'", host, s)
	}
	if a.IsUnspecified() {
		a = netip.Addr{}
	}
	return a, ports, nil
}
