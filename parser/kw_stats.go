package parser

import (
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

// statsConfig is what "stats" lines of a proxy or defaults say, turned into
// a rules.Stats when the proxy is frozen.
type statsConfig struct {
	enabled     bool
	uri, realm  string
	users       []string // "user:password"
	refresh     string
	hideVersion bool
	scope       []string
}

// kwStats: in global, "stats socket" and "stats timeout" set up the
// runtime API; in proxies and defaults they configure the statistics page.
func kwStats(c *compiler, p *proxy, g *Generic, args []string) {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	if p == nil {
		switch sub {
		case "socket":
			c.statsSocket(g, args[1:])
		case "timeout":
			if len(args) != 2 {
				c.errorf(g.Pos, "'stats timeout' expects one argument")
				return
			}
			d, err := parseTime(args[1])
			if err != nil {
				c.errorf(g.Args[1].Pos, "stats timeout: %v", err)
				return
			}
			c.g.Global.StatsTimeout = d
		case "maxconn":
			n, err := strconv.Atoi(args[min(1, len(args)-1)])
			if len(args) != 2 || err != nil || n <= 0 {
				c.errorf(g.Pos, "'stats maxconn' expects a positive value")
				return
			}
			c.g.Global.StatsMaxConn = n
		case "bind-process":
			c.warnf(g.Pos, "'stats %s' only tunes the runtime API; gohap ignores it", sub)
		default:
			c.errorf(g.Pos, "unknown keyword 'stats %s' in 'global' section", sub)
		}
		return
	}
	st := &p.set.stats
	one := func() (string, bool) {
		if len(args) != 2 {
			c.errorf(g.Pos, "'stats %s' expects one argument", sub)
			return "", false
		}
		return args[1], true
	}
	switch sub {
	case "enable":
		st.enabled = true
	case "uri":
		if v, ok := one(); ok {
			st.uri, st.enabled = v, true
		}
	case "realm":
		if v, ok := one(); ok {
			st.realm, st.enabled = v, true
		}
	case "auth":
		if v, ok := one(); ok {
			if !strings.Contains(v, ":") {
				c.errorf(g.Args[1].Pos, "'stats auth' expects 'user:password'")
				return
			}
			st.users, st.enabled = append(st.users, v), true
		}
	case "refresh":
		if v, ok := one(); ok {
			if _, err := parseTime(v); err != nil {
				c.errorf(g.Args[1].Pos, "stats refresh: %v", err)
				return
			}
			st.refresh, st.enabled = v, true
		}
	case "hide-version":
		st.hideVersion, st.enabled = true, true
	case "scope":
		if v, ok := one(); ok {
			st.scope, st.enabled = append(st.scope, v), true
		}
	case "show-legends", "show-node", "show-desc", "show-modules":
		st.enabled = true // details of haproxy's own page layout
	case "admin":
		c.warnf(g.Pos, "'stats admin' is ignored: gohap's statistics page has no admin actions")
	case "bind-process", "maxconn", "timeout", "socket":
		c.warnf(g.Pos, "'stats %s' only tunes; gohap ignores it", sub)
	default:
		c.errorf(g.Pos, "'stats %s' is not supported", sub)
	}
}

// freezeStats builds the proxy's rules.Stats, or nil when stats are off.
func (c *compiler) freezeStats(p *proxy) *rules.Stats {
	st := p.set.stats
	if !st.enabled {
		return nil
	}
	out := &rules.Stats{URI: st.uri, Realm: st.realm, HideVersion: st.hideVersion, Scope: st.scope}
	if out.URI == "" {
		out.URI = "/haproxy?stats"
	}
	if out.Realm == "" {
		out.Realm = "HAProxy Statistics"
	}
	if st.refresh != "" {
		out.Refresh, _ = parseTime(st.refresh)
	}
	if len(st.users) > 0 {
		out.Users = &rules.Userlist{Name: "stats", Users: map[string]*rules.User{}}
		for _, up := range st.users {
			u, pw, _ := strings.Cut(up, ":")
			out.Users.Users[u] = &rules.User{Name: u, Plain: pw}
		}
		r := rules.AuthReply(rules.Lookup(401, p.set.errors), out.Realm)
		r.Close = true
		out.Reply401 = r
	}
	return out
}
