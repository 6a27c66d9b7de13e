package parser

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// proxySettings are the settings a "defaults" section passes on to the
// proxies that follow it, and each proxy's own copy of them.
type proxySettings struct {
	name     string
	mode     rules.Mode
	timeouts rules.Timeouts
	balance  rules.Algo
	// randomDraws is the N of "balance random(N)".
	randomDraws int
	hash        rules.Hash // hash-type, hash-balance-factor, balance's key options
	retries     int
	options     rules.Options
	errors      rules.ErrorSet
	server      serverDefaults
	check       checkSettings // health checks, see kw_check.go
	// defaultBackend and monitorURI may come from a defaults section; the
	// backend is resolved for each frontend that inherits it.
	defaultBackend *Word
	monitorURI     string
	stats          statsConfig
	cookie         *rules.Cookie
	dynCookieKey   string
	sendName       string
	comp           compSettings
	source         *rules.Source // "source": the servers' default
	retryOn        rules.RetryOn
	// uniqueID and uniqueIDHeader are unique-id-format and
	// unique-id-header.
	uniqueID       *rules.Format
	uniqueIDHeader string
	sessRate       int // rate-limit sessions
	log            logSettings
}

// serverDefaults are "default-server" settings, with HAProxy's defaults.
type serverDefaults struct {
	check     bool
	inter     time.Duration
	fastinter time.Duration
	downinter time.Duration
	rise      int
	fall      int
	weight    int
	maxconn   int
	backup    bool
	disabled  bool
	nonStick  bool
	id        int // "id": the server's own number, 0 to assign one
	port      int
	addr      string
	// TLS towards the server.
	ssl        bool
	verify     string // "none" or "required" (haproxy's default)
	caFile     string
	sni        string // a fixed name: sni str(NAME)
	sniExpr    string // any other sample expression
	alpn       []string
	crt        string
	checkSSL   bool
	proxyProto int
	// shutdownOnDown is "on-marked-down shutdown-sessions".
	shutdownOnDown bool
	cookie         string
	source         *rules.Source
	// DNS: "resolvers", "resolve-prefer" and "init-addr".
	resolvers     string
	resolvePrefer string
	initAddr      []rules.InitAddr
}

// newSettings returns HAProxy's built-in defaults: mode tcp, 3 retries,
// checks every 2s with rise 2 and fall 3.
func newSettings() *proxySettings {
	return &proxySettings{
		mode:        rules.ModeTCP,
		retries:     3,
		retryOn:     rules.RetryConnFailure,
		randomDraws: 2,
		options:     rules.Options{ForwardForHeader: "x-forwarded-for", RedispatchAfter: -1},
		server:      serverDefaults{inter: 2 * time.Second, rise: 2, fall: 3, weight: 1},
	}
}

// clone copies s so a proxy can change its settings without touching the
// defaults section it came from.
func (s *proxySettings) clone() *proxySettings {
	n := *s
	n.errors = maps.Clone(s.errors)
	n.stats.users = slices.Clone(s.stats.users)
	n.stats.scope = slices.Clone(s.stats.scope)
	n.comp = s.comp.clone()
	return &n
}

// proxy is a frontend, backend, listen or defaults section being compiled.
type proxy struct {
	kind string // "frontend", "backend", "listen", "defaults"
	name string
	pos  lexer.Position
	set  *proxySettings
	fe   *rules.Frontend
	be   *rules.Backend
	acls map[string]*rules.ACL
	// monitorURIPos and friends remember where a setting came from.
	defaultBackendPos lexer.Position
	// useServers are the use-server rules to resolve at the end.
	useServers []pendingUseServer
}

// CurrentBackend implements rules.Resolver for nbsrv without argument.
func (p *proxy) CurrentBackend() *rules.Backend { return p.be }

// section compiles one section.
func (c *compiler) section(s *Section) {
	switch s.Kind {
	case "global":
		if len(s.Args) > 0 {
			c.errorf(s.Args[0].Pos, "'global' takes no argument")
		}
		c.global(s)
	case "defaults":
		c.defaultsSection(s)
	case "frontend", "backend", "listen":
		c.proxySection(s)
	default:
		if !c.otherSection(s) {
			c.errorf(s.Pos, "section '%s' is not supported", s.Kind)
		}
	}
}

func (c *compiler) global(s *Section) {
	for _, st := range s.Stmts {
		g := st.Generic
		if g == nil {
			c.errorf(st.Pos, "'%s' is not allowed in 'global' section", stmtKeyword(st))
			continue
		}
		c.keyword(secGlobal, nil, g)
	}
}

// stmtKeyword names the keyword of a statement, for messages.
func stmtKeyword(st *Statement) string {
	switch {
	case st.ACL != nil:
		return "acl"
	case st.UseBackend != nil:
		return "use_backend"
	case st.Rule != nil:
		return st.Rule.Kind
	case st.Server != nil:
		return "server"
	case st.Bind != nil:
		return "bind"
	}
	return st.Generic.Keyword.Raw
}

func (c *compiler) defaultsSection(s *Section) {
	p := &proxy{kind: "defaults", pos: s.Pos, set: c.cur.clone()}
	// A new defaults section starts from HAProxy's built-in defaults
	// unless it says "from".
	p.set = newSettings()
	args := c.values(s.Args)
	if len(args) > 0 {
		p.name = args[0]
		p.set.name = args[0]
	}
	if len(args) >= 3 && args[1] == "from" {
		if d, ok := c.defaults[args[2]]; ok {
			p.set = d.clone()
			p.set.name = p.name
		} else {
			c.errorf(s.Args[2].Pos, "defaults section '%s' not found", args[2])
		}
	} else if len(args) > 1 {
		c.errorf(s.Args[1].Pos, "unexpected '%s' after defaults section name", args[1])
	}
	for _, st := range s.Stmts {
		c.statement(secDefaults, p, st)
	}
	if p.name != "" {
		c.defaults[p.name] = p.set
	}
	c.cur = p.set
}

func (c *compiler) proxySection(s *Section) {
	args := c.values(s.Args)
	if len(args) == 0 {
		c.errorf(s.Pos, "'%s' expects a name", s.Kind)
		return
	}
	p := &proxy{kind: s.Kind, name: args[0], pos: s.Pos, set: c.cur.clone(), acls: map[string]*rules.ACL{}}
	rest := args[1:]
	if len(rest) >= 2 && rest[0] == "from" {
		if d, ok := c.defaults[rest[1]]; ok {
			p.set = d.clone()
		} else {
			c.errorf(s.Args[2].Pos, "defaults section '%s' not found", rest[1])
		}
		rest = rest[2:]
	}
	var mask section
	switch s.Kind {
	case "frontend":
		mask = secFrontend
	case "backend":
		mask = secBackend
	case "listen":
		mask = secFrontend | secBackend
	}
	if mask&secFrontend != 0 {
		if prev, dup := c.frontends[p.name]; dup {
			c.errorf(s.Pos, "%s '%s' has the same name as another frontend declared at %s", s.Kind, p.name, prev.Pos)
		}
		p.fe = &rules.Frontend{Name: p.name, Pos: posString(s.Pos)}
		c.frontends[p.name] = p.fe
		c.g.Frontends = append(c.g.Frontends, p.fe)
	}
	if mask&secBackend != 0 {
		p.be = c.backends[p.name]
		if p.be == nil { // duplicate name, reported by declare
			p.be = &rules.Backend{Name: p.name, Pos: posString(s.Pos)}
		}
	}
	if len(rest) > 0 {
		if s.Kind == "listen" && strings.Contains(rest[0], ":") {
			// The old "listen NAME ADDR" form: haproxy 2.6 refuses it.
			c.errorf(s.Args[len(s.Args)-len(rest)].Pos, "please use the 'bind' keyword for listening addresses")
		} else {
			c.errorf(s.Args[len(s.Args)-len(rest)].Pos, "unexpected '%s' after %s name", rest[0], s.Kind)
		}
	}
	c.proxies = append(c.proxies, p)
	for _, st := range s.Stmts {
		c.statement(mask, p, st)
	}
	c.freezeProxy(p)
}

// freezeProxy copies the proxy's settings into its graph nodes.
func (c *compiler) freezeProxy(p *proxy) {
	if p.fe != nil {
		p.fe.Mode = p.set.mode
		p.fe.Timeouts = p.set.timeouts
		p.fe.Errors = p.set.errors
		p.fe.RateLimitSessions = p.set.sessRate
		p.fe.Options = p.set.options
		p.fe.Stats = c.freezeStats(p)
		p.fe.Compression = freezeCompression(&p.set.comp)
		c.freezeUniqueID(p)
		c.freezeLog(p)
		if p.fe.Mode == rules.ModeHTTP && p.fe.Timeouts.Client == 0 {
			c.warnf(p.pos, "missing timeouts for %s '%s': 'timeout client' is not set", p.kind, p.name)
		}
		if p.fe.MonitorURI == "" {
			p.fe.MonitorURI = p.set.monitorURI
		}
		if w := p.set.defaultBackend; w != nil && p.fe.DefaultBackend == nil {
			be, err := c.Backend(c.value(w))
			if err != nil {
				c.errorf(w.Pos, "default_backend: %v", err)
			}
			p.fe.DefaultBackend = be
		}
		if p.kind == "listen" && p.fe.DefaultBackend == nil {
			p.fe.DefaultBackend = p.be
		}
	}
	if p.be != nil {
		p.be.Mode = p.set.mode
		p.be.Timeouts = p.set.timeouts
		p.be.Errors = p.set.errors
		p.be.Options = p.set.options
		p.be.Balance = p.set.balance
		p.be.RandomDraws = p.set.randomDraws
		p.be.Hash = p.set.hash
		p.be.Retries = p.set.retries
		p.be.RetryOn = p.set.retryOn
		if p.be.Mode != rules.ModeHTTP {
			p.be.RetryOn = rules.RetryConnFailure // ignored outside HTTP, as haproxy does
		}
		if len(p.be.StickResponse) > 0 && p.be.Mode != rules.ModeHTTP {
			c.errorf(p.pos, "%s '%s': 'stick store-response' is not supported in mode tcp", p.kind, p.name)
		}
		p.be.Cookie = p.set.cookie
		p.be.DynamicCookieKey = p.set.dynCookieKey
		c.checkDynamicCookies(p)
		p.be.Compression = freezeCompression(&p.set.comp)
		p.be.Source = p.set.source
		if src := p.be.Source; src != nil && src.UseSrc == rules.UseSrcHdr && p.be.Mode != rules.ModeHTTP {
			c.warnf(p.pos, "%s '%s' : ignoring use of header %s as source IP in non-HTTP mode", p.kind, p.name, src.HdrName)
			p.be.Source = nil
		}
		if p.set.sendName != "" {
			p.be.SendNameHeader = []byte(p.set.sendName)
		}
		p.be.Check = c.freezeCheck(p)
		assignServerIDs(p.be.Servers)
		c.resolveUseServers(p)
		if a := p.be.Balance; a.Hashed() && a != rules.AlgoSource && p.be.Mode != rules.ModeHTTP {
			c.warnf(p.pos, "Layer 7 hash not possible for %s '%s' (needs 'mode http'). Falling back to round robin.", p.kind, p.name)
			p.be.Balance = rules.AlgoRoundRobin
		}
		if p.fe == nil {
			p.be.Stats = c.freezeStats(p)
		}
		if p.be.Mode == rules.ModeHTTP && (p.be.Timeouts.Connect == 0 || p.be.Timeouts.Server == 0) && len(p.be.Servers) > 0 {
			c.warnf(p.pos, "missing timeouts for %s '%s': 'timeout connect' and 'timeout server' should be set", p.kind, p.name)
		}
	}
}

// statement dispatches one statement of a defaults or proxy section.
func (c *compiler) statement(where section, p *proxy, st *Statement) {
	switch {
	case st.ACL != nil:
		if where == secDefaults {
			c.errorf(st.Pos, "'acl' is not allowed in 'defaults' section")
			return
		}
		c.aclStmt(p, st.ACL)
	case st.UseBackend != nil:
		if where&secFrontend == 0 {
			c.errorf(st.Pos, "'use_backend' is only allowed in 'frontend' and 'listen' sections")
			return
		}
		c.useBackend(p, st.UseBackend)
	case st.Rule != nil:
		c.ruleStmt(where, p, st.Rule)
	case st.Server != nil:
		if where&secBackend == 0 {
			c.errorf(st.Pos, "'server' is only allowed in 'backend' and 'listen' sections")
			return
		}
		c.server(p, st.Server)
	case st.Bind != nil:
		if where&secFrontend == 0 {
			c.errorf(st.Pos, "'bind' is only allowed in 'frontend' and 'listen' sections")
			return
		}
		c.bind(p, st.Bind)
	default:
		c.keyword(where, p, st.Generic)
	}
}

// assignServerIDs gives each server without an "id" the smallest number
// from 1 that no server uses, in declaration order, as haproxy does.
func assignServerIDs(servers []*rules.Server) {
	used := map[int]bool{}
	for _, s := range servers {
		used[s.ID] = s.ID != 0
	}
	next := 1
	for _, s := range servers {
		if s.ID != 0 {
			continue
		}
		for used[next] {
			next++
		}
		s.ID, used[next] = next, true
	}
}
