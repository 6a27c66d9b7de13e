package parser

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gohap/runtime/rules"
)

var proxyKeywords = []keyword{
	{name: "mode", where: secProxy, apply: kwMode},
	{name: "timeout", where: secProxy, apply: kwTimeout},
	{name: "balance", where: secBE, apply: kwBalance},
	{name: "hash-type", where: secBE, apply: kwHashType},
	{name: "hash-balance-factor", where: secBE, apply: kwHashBalanceFactor},
	{name: "retries", where: secBE, apply: kwRetries},
	{name: "default_backend", where: secFE, apply: kwDefaultBackend},
	{name: "monitor-uri", where: secFE, apply: kwMonitorURI},
	{name: "monitor", where: secFrontend, apply: kwMonitor},
	{name: "errorfile", where: secProxy, apply: kwErrorfile},
	{name: "errorfiles", where: secProxy, apply: kwErrorfiles},
	{name: "errorloc", where: secProxy, apply: kwErrorloc},
	{name: "errorloc302", where: secProxy, apply: kwErrorloc},
	{name: "errorloc303", where: secProxy, apply: kwErrorloc},
	{name: "redirect", where: secFrontend | secBackend, apply: kwRedirect},
	{name: "cookie", where: secBE, apply: kwCookie},
	{name: "dynamic-cookie-key", where: secBE, apply: kwDynamicCookieKey},
	{name: "http-send-name-header", where: secBE, apply: kwSendNameHeader},
	{name: "option", where: secProxy, apply: kwOption},
	{name: "no option", where: secProxy, apply: kwOption},
	{name: "default-server", where: secBE, apply: kwDefaultServer},
	{name: "server-template", where: secBackend, apply: kwServerTemplate},
	{name: "ignore-persist", where: secFrontend | secBackend, apply: kwPersistRule},
	{name: "force-persist", where: secFrontend | secBackend, apply: kwPersistRule},
	{name: "stick-table", where: secFrontend | secBackend, apply: kwStickTable},
	{name: "stick", where: secFrontend | secBackend, apply: kwStick},
}

var globalKeywords = []keyword{
	{name: "maxconn", where: secGlobal | secProxy, apply: kwMaxconn},
	{name: "rate-limit", where: secProxy, apply: kwRateLimit},
	{name: "pidfile", where: secGlobal, apply: kwPidfile},
	{name: "nbthread", where: secGlobal, apply: kwNbthread},
	{name: "hard-stop-after", where: secGlobal, apply: kwHardStopAfter},
	{name: "no-memory-trimming", where: secGlobal, apply: kwNoMemoryTrimming},
	{name: "default-path", where: secGlobal, apply: kwDefaultPath},
	{name: "crt-base", where: secGlobal, apply: kwCrtBase},
	{name: "ca-base", where: secGlobal, apply: kwCABase},
	{name: "stats", where: secGlobal | secProxy, apply: kwStats},
}

// wantArgs reports an error unless there are between lo and hi args.
func (c *compiler) wantArgs(g *Generic, name string, args []string, lo, hi int) bool {
	if len(args) < lo {
		c.errorf(g.Pos, "'%s' expects %s", name, plural(lo, "argument"))
		return false
	}
	if len(args) > hi {
		c.errorf(g.Args[hi].Pos, "'%s' expects at most %s, unexpected '%s'", name, plural(hi, "argument"), args[hi])
		return false
	}
	return true
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

func kwMode(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "mode", args, 1, 1) {
		return
	}
	switch args[0] {
	case "http":
		p.set.mode = rules.ModeHTTP
	case "tcp":
		p.set.mode = rules.ModeTCP
	case "health":
		c.errorf(g.Args[0].Pos, "'mode health' was removed from HAProxy; use 'http-request return status 200' or 'monitor-uri'")
	default:
		c.errorf(g.Args[0].Pos, "unknown proxy mode '%s' (expected 'http' or 'tcp')", args[0])
	}
}

func kwTimeout(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "timeout", args, 2, 2) {
		return
	}
	t := &p.set.timeouts
	fields := map[string]*time.Duration{
		"client": &t.Client, "server": &t.Server, "connect": &t.Connect, "queue": &t.Queue,
		"check": &t.Check, "http-request": &t.HTTPRequest, "http-keep-alive": &t.HTTPKeepAlive,
		"tunnel": &t.Tunnel, "client-fin": &t.ClientFin, "server-fin": &t.ServerFin,
	}
	f, ok := fields[args[0]]
	if !ok {
		if args[0] == "tarpit" {
			c.warnf(g.Pos, "'timeout tarpit' has no effect: gohap has no tarpit action")
			return
		}
		c.errorf(g.Args[0].Pos, "unknown timeout '%s' (expected one of client, server, connect, queue, check, http-request, http-keep-alive, tunnel, client-fin, server-fin)", args[0])
		return
	}
	d, err := parseTime(args[1])
	if err != nil {
		c.errorf(g.Args[1].Pos, "timeout %s: %v", args[0], err)
		return
	}
	*f = d
}

func kwBalance(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "balance", args, 1, 8) {
		return
	}
	draws := 2
	if n, ok := strings.CutPrefix(args[0], "random("); ok && strings.HasSuffix(n, ")") {
		v, err := parseInt(strings.TrimSuffix(n, ")"), 1, 1<<16)
		if err != nil {
			c.errorf(g.Args[0].Pos, "balance random: %v", err)
			return
		}
		args[0], draws = "random", v
	}
	h := p.set.hash
	var a rules.Algo
	var err error
	switch name := args[0]; {
	case name == "uri":
		a, err = rules.AlgoURI, balanceURI(&h, args[1:])
	case name == "url_param":
		a, err = rules.AlgoURLParam, balanceParam(&h, args[1:])
	case strings.HasPrefix(name, "hdr("):
		a, err = rules.AlgoHdr, balanceHdr(&h, name, args[1:])
	case name == "hdr":
		err = errorString("hdr requires an http header field name.")
	case strings.HasPrefix(name, "rdp-cookie"), name == "hash":
		c.errorf(g.Args[0].Pos, "'balance %s' is not supported", name)
		return
	default:
		var ok bool
		if a, ok = rules.ParseAlgo(name); !ok {
			c.errorf(g.Args[0].Pos, "unknown balance algorithm '%s'", name)
			return
		}
		if len(args) > 1 {
			c.errorf(g.Args[1].Pos, "'balance %s' takes no argument", name)
			return
		}
	}
	if err != nil {
		c.errorf(g.Args[0].Pos, "'balance %s': %v", args[0], err)
		return
	}
	p.set.balance, p.set.randomDraws, p.set.hash = a, draws, h
}

// balanceURI reads the options of "balance uri", as haproxy: each resets
// nothing but what it sets, "len" and "depth" take a positive number.
func balanceURI(h *rules.Hash, args []string) error {
	h.URIWhole, h.URIPathOnly, h.URILen, h.URIDepth = false, false, 0, 0
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "whole":
			h.URIWhole = true
		case "path-only":
			h.URIPathOnly = true
		case "len", "depth":
			n := 0
			if i+1 < len(args) {
				n, _ = strconv.Atoi(args[i+1])
			}
			if n <= 0 {
				return fmt.Errorf("'%s' expects a positive integer", args[i])
			}
			if args[i] == "len" {
				h.URILen = n
			} else {
				h.URIDepth = n
			}
			i++
		default:
			return fmt.Errorf("only 'len', 'depth', 'path-only' and 'whole' are accepted (got '%s')", args[i])
		}
	}
	return nil
}

// balanceParam reads "balance url_param NAME [check_post]"; check_post
// looks into request bodies, which gohap does not hash.
func balanceParam(h *rules.Hash, args []string) error {
	switch {
	case len(args) == 0:
		return errorString("an URL parameter name is required")
	case len(args) > 1 && args[1] == "check_post":
		return errorString("'check_post' (hashing a parameter of the request body) is not supported")
	case len(args) > 1:
		return fmt.Errorf("only the 'check_post' modifier is accepted (got '%s')", args[1])
	}
	h.Param = []byte(args[0])
	return nil
}

// balanceHdr reads "balance hdr(NAME) [use_domain_only]".
func balanceHdr(h *rules.Hash, name string, args []string) error {
	n, _, ok := strings.Cut(strings.TrimPrefix(name, "hdr("), ")")
	if !ok || n == "" {
		return errorString("an http header field name is required")
	}
	h.Header, h.DomainOnly = []byte(strings.ToLower(n)), false
	switch {
	case len(args) > 1:
		return fmt.Errorf("unexpected '%s'", args[1])
	case len(args) == 1 && args[0] != "use_domain_only":
		return fmt.Errorf("only the 'use_domain_only' modifier is accepted (got '%s')", args[0])
	}
	h.DomainOnly = len(args) == 1
	return nil
}

// kwHashType is "hash-type map-based|consistent [FUNC [avalanche]]". A
// consistent hash without a function is sdbm with avalanche, as in
// haproxy.
func kwHashType(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "hash-type", args, 1, 3) {
		return
	}
	h := &p.set.hash
	switch args[0] {
	case "consistent", "map-based":
	default:
		c.errorf(g.Args[0].Pos, "'hash-type' only supports 'consistent' and 'map-based'")
		return
	}
	consistent, fn, aval := args[0] == "consistent", rules.HashSDBM, args[0] == "consistent"
	if len(args) > 1 {
		f, ok := rules.ParseHashFunc(args[1])
		if !ok {
			c.errorf(g.Args[1].Pos, "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions")
			return
		}
		fn, aval = f, false
	}
	if len(args) > 2 {
		if args[2] != "avalanche" {
			c.errorf(g.Args[2].Pos, "'hash-type' only supports 'avalanche' as a modifier for hash functions")
			return
		}
		aval = true
	}
	h.Consistent, h.Func, h.Avalanche = consistent, fn, aval
}

// kwHashBalanceFactor is "hash-balance-factor N": bounded load for
// consistent hashing, 0 (off) or a percentage of at least 100.
func kwHashBalanceFactor(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "hash-balance-factor", args, 1, 1) {
		return
	}
	n, err := parseInt(args[0], 0, 65535)
	if err == nil && n != 0 && n <= 100 {
		err = errorString("must be 0 or greater than 100")
	}
	if err != nil {
		c.errorf(g.Args[0].Pos, "hash-balance-factor: %v", err)
		return
	}
	p.set.hash.BalanceFactor = n
}

func kwRetries(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "retries", args, 1, 1) {
		return
	}
	n, err := parseInt(args[0], 0, 1<<20)
	if err != nil {
		c.errorf(g.Args[0].Pos, "retries: %v", err)
		return
	}
	p.set.retries = n
}

func kwDefaultBackend(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "default_backend", args, 1, 1) {
		return
	}
	if p.fe == nil { // defaults: resolved for each frontend that inherits it
		p.set.defaultBackend = g.Args[0]
		return
	}
	be, err := c.Backend(args[0])
	if err != nil {
		c.errorf(g.Args[0].Pos, "default_backend: %v", err)
		return
	}
	p.fe.DefaultBackend = be
}

func kwMonitorURI(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "monitor-uri", args, 1, 1) {
		return
	}
	if !strings.HasPrefix(args[0], "/") {
		c.errorf(g.Args[0].Pos, "monitor-uri must start with '/', got '%s'", args[0])
		return
	}
	if p.fe == nil {
		p.set.monitorURI = args[0]
		return
	}
	p.fe.MonitorURI = args[0]
}

func kwMonitor(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) != 1 || args[0] != "fail" {
		c.errorf(g.Pos, "'monitor' expects 'fail' followed by a condition")
		return
	}
	if g.Cond == nil {
		c.errorf(g.Pos, "'monitor fail' expects 'if' or 'unless' followed by a condition")
		return
	}
	if cond, ok := c.cond(p, g.Cond); ok {
		p.fe.MonitorFail = append(p.fe.MonitorFail, cond)
	}
}

// kwRateLimit is "rate-limit sessions RATE": new connections a second the
// frontend accepts; a backend has none to limit, as haproxy warns.
func kwRateLimit(c *compiler, p *proxy, g *Generic, args []string) {
	switch {
	case len(args) == 0 || args[0] != "sessions":
		c.errorf(g.Pos, "'rate-limit' only supports 'sessions' (got '%s')", strings.Join(args[:min(len(args), 1)], ""))
		return
	case len(args) == 1:
		c.errorf(g.Pos, "'rate-limit sessions' expects an integer value (in sessions/second)")
		return
	case len(args) > 2:
		c.errorf(g.Args[2].Pos, "'rate-limit sessions' takes one value")
		return
	}
	n, err := parseInt(args[1], 0, math.MaxInt32)
	if err != nil {
		c.errorf(g.Args[1].Pos, "'rate-limit sessions': %v", err)
		return
	}
	if p.kind == "backend" {
		c.warnf(g.Pos, "rate-limit sessions will be ignored because backend '%s' has no frontend capability", p.name)
		return
	}
	p.set.sessRate = n
}

func kwErrorfile(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "errorfile", args, 2, 2) {
		return
	}
	code, err := parseInt(args[0], 100, 999)
	if err != nil {
		c.errorf(g.Args[0].Pos, "errorfile: %v", err)
		return
	}
	if !rules.ErrorCodes(code) {
		c.warnf(g.Args[0].Pos, "status code '%d' not handled by 'errorfile', error customization will be ignored", code)
		return
	}
	raw, err := c.cfg.ReadFile(c.path(g.Args[1].Pos, args[1]))
	if err != nil {
		c.errorf(g.Args[1].Pos, "errorfile: %v", err)
		return
	}
	r, err := rules.ParseReply(raw)
	if err != nil {
		c.errorf(g.Args[1].Pos, "errorfile '%s': %v", args[1], err)
		return
	}
	if p.set.errors == nil {
		p.set.errors = rules.ErrorSet{}
	}
	p.set.errors[code] = r
}

// options gohap implements, by name: set turns them on or off.
var proxyOptions = map[string]func(o *rules.Options, on bool){
	"http-server-close": func(o *rules.Options, on bool) { o.HTTPServerClose = on },
	"http-keep-alive":   func(o *rules.Options, on bool) { o.HTTPKeepAlive = on },
	"httpclose":         func(o *rules.Options, on bool) { o.HTTPClose = on },
	"redispatch":        func(o *rules.Options, on bool) { o.Redispatch = on }, // with its argument: optRedispatch
	"allbackups":        func(o *rules.Options, on bool) { o.AllBackups = on },
	"persist":           func(o *rules.Options, on bool) { o.Persist = on },
	"clitcpka":          func(o *rules.Options, on bool) { o.ClientTCPKA = on },
	"srvtcpka":          func(o *rules.Options, on bool) { o.ServerTCPKA = on },
	"tcpka":             func(o *rules.Options, on bool) { o.ClientTCPKA, o.ServerTCPKA = on, on },
}

// options that only change logging or socket tuning.
var tuningOptions = map[string]bool{
	"log-health-checks": true, "logasap": true, "splice-auto": true,
	"splice-request": true, "splice-response": true,
	"contstats": true, "socket-stats": true, "http-no-delay": true, "nolinger": true,
	"independent-streams": true, "tcp-smart-accept": true, "tcp-smart-connect": true,
	"http-ignore-probes": true, "http-buffer-request": true, "abortonclose": true,
	"http-pretend-keepalive": true, "disable-h2-upgrade": true, "idle-close-on-response": true,
}

func kwOption(c *compiler, p *proxy, g *Generic, args []string) {
	on := c.value(g.Keyword) != "no"
	if len(args) == 0 {
		c.errorf(g.Pos, "'option' expects an option name")
		return
	}
	name := args[0]
	if repl, ok := removedOptions[name]; ok {
		c.errorf(g.Args[0].Pos, "'option %s' was removed from HAProxy; use '%s' instead", name, repl)
		return
	}
	if name == "forwardfor" {
		c.optForwardFor(p, g, args[1:], on)
		return
	}
	if opt, ok := checkOptions[name]; ok {
		opt(c, p, g, args[1:])
		return
	}
	if name == "redispatch" {
		c.optRedispatch(p, g, args[1:], on)
		return
	}
	if c.logOption(p, g, name, args[1:], on) {
		return
	}
	if set, ok := proxyOptions[name]; ok {
		if len(args) > 1 {
			c.errorf(g.Args[1].Pos, "'option %s' takes no argument", name)
			return
		}
		// Client-side keep-alive needs a frontend, server-side a backend.
		if name == "clitcpka" && p.kind == "backend" {
			c.warnf(g.Pos, "'%s' ignored because backend '%s' has no frontend capability", name, p.name)
			return
		}
		if name == "srvtcpka" && p.kind == "frontend" {
			c.warnf(g.Pos, "'%s' ignored because frontend '%s' has no backend capability", name, p.name)
			return
		}
		set(&p.set.options, on)
		return
	}
	if tuningOptions[name] {
		c.warnf(g.Pos, "'option %s' only tunes logging or sockets; gohap ignores it", name)
		return
	}
	c.errorf(g.Args[0].Pos, "'option %s' is not supported", name)
}

// optRedispatch is "option redispatch [N]".
func (c *compiler) optRedispatch(p *proxy, g *Generic, args []string, on bool) {
	o := &p.set.options
	o.Redispatch, o.RedispatchAfter = on, -1
	if len(args) == 0 || !on {
		return
	}
	if len(args) > 1 {
		c.errorf(g.Args[2].Pos, "'option redispatch' takes at most one argument")
		return
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		c.errorf(g.Args[1].Pos, "'option redispatch' expects an integer, got '%s'", args[0])
		return
	}
	o.RedispatchAfter = n
	o.Redispatch = n != 0
}

// optForwardFor is "option forwardfor [except NET] [header NAME] [if-none]".
func (c *compiler) optForwardFor(p *proxy, g *Generic, args []string, on bool) {
	o := &p.set.options
	o.ForwardFor = on
	if !on {
		return
	}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "if-none":
			o.ForwardForIfNone = true
		case "except", "header":
			if i+1 >= len(args) {
				c.errorf(g.Pos, "'option forwardfor %s' expects a value", args[i])
				return
			}
			if args[i] == "header" {
				o.ForwardForHeader = strings.ToLower(args[i+1])
			} else {
				pf, err := parsePrefix(args[i+1])
				if err != nil {
					c.errorf(g.Args[i+2].Pos, "option forwardfor except: %v", err)
					return
				}
				o.ForwardForExcept = pf
			}
			i++
		default:
			c.errorf(g.Args[i+1].Pos, "unexpected '%s' in 'option forwardfor'", args[i])
			return
		}
	}
}

func kwMaxconn(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "maxconn", args, 1, 1) {
		return
	}
	n, err := parseInt(args[0], 0, 1<<30)
	if err != nil {
		c.errorf(g.Args[0].Pos, "maxconn: %v", err)
		return
	}
	if p == nil {
		c.g.Global.MaxConn = n
		return
	}
	c.warnf(g.Pos, "'maxconn' in a proxy only tunes HAProxy's queueing; gohap ignores it")
}

// maxThreads is haproxy 2.6's default MAX_THREADS on 64-bit builds.
const maxThreads = 64

func kwNbthread(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "nbthread", args, 1, 1) {
		return
	}
	n, err := parseInt(args[0], 1, maxThreads)
	if err != nil {
		c.errorf(g.Args[0].Pos, "nbthread: %v", err)
		return
	}
	c.g.Global.NbThread = n
}

func kwHardStopAfter(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "hard-stop-after", args, 1, 1) {
		return
	}
	d, err := parseTime(args[0])
	if err != nil {
		c.errorf(g.Args[0].Pos, "hard-stop-after: %v", err)
		return
	}
	c.g.Global.HardStopAfter = d
}

func kwNoMemoryTrimming(c *compiler, p *proxy, g *Generic, args []string) {
	if c.wantArgs(g, "no-memory-trimming", args, 0, 0) {
		c.g.Global.NoMemoryTrimming = true
	}
}

func kwPidfile(c *compiler, p *proxy, g *Generic, args []string) {
	if c.wantArgs(g, "pidfile", args, 1, 1) {
		c.g.Global.PIDFile = args[0]
	}
}

// parsePrefix reads "addr" or "addr/bits".
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("'%s' is not a valid network", s)
		}
		return pf.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("'%s' is not a valid address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// kwPersistRule is "force-persist if COND" and "ignore-persist if COND":
// whether cookie persistence applies to a request. haproxy runs them for
// the backend that was chosen, so a frontend's rules do nothing.
func kwPersistRule(c *compiler, p *proxy, g *Generic, args []string) {
	kw := c.value(g.Keyword)
	if g.Cond == nil {
		c.errorf(g.Pos, "'%s' expects 'if' or 'unless' followed by a condition", kw)
		return
	}
	cond, ok := c.cond(p, g.Cond)
	if !ok {
		return
	}
	if p.be == nil {
		c.warnf(g.Pos, "'%s' in a frontend has no effect: haproxy applies the backend's rules", kw)
		return
	}
	p.be.PersistRules = append(p.be.PersistRules, rules.PersistRule{Force: kw == "force-persist", Cond: cond})
}

// kwCookie is "cookie NAME [rewrite|insert|prefix] [indirect] [nocache]
// [postonly] [preserve] [httponly] [secure] [domain D]* [maxidle T]
// [maxlife T] [dynamic] [attr A]*": cookie persistence. Without a mode
// the cookie is passive: the server sets it and gohap only reads it.
func kwCookie(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'cookie' expects <cookie_name> as argument")
		return
	}
	ck := &rules.Cookie{Name: args[0], Prefix: []byte(args[0] + "=")}
	var domains, flags string
	modes := 0
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "rewrite", "insert", "prefix":
			ck.Mode = map[string]rules.CookieMode{"rewrite": rules.CookieRewrite,
				"insert": rules.CookieInsert, "prefix": rules.CookiePrefix}[a]
			modes++
		case "indirect", "nocache", "postonly", "preserve", "dynamic":
			*cookieFlags[a](ck) = true
		case "httponly":
			flags += "; HttpOnly"
		case "secure":
			flags += "; Secure"
		case "domain", "attr", "maxidle", "maxlife":
			if i+1 >= len(args) {
				c.errorf(g.Args[i].Pos, "cookie option '%s' expects a value", a)
				return
			}
			v := args[i+1]
			i++
			switch a {
			case "domain":
				domains += "; domain=" + v
			case "attr":
				if strings.ContainsAny(v, ";\r\n") {
					c.errorf(g.Args[i].Pos, "cookie: 'attr' cannot contain control chars or ';'")
					return
				}
				flags += "; " + v
			default:
				d, err := parseTimeUnit(v, time.Second)
				if err != nil {
					c.errorf(g.Args[i].Pos, "cookie option '%s': %v", a, err)
					return
				}
				if a == "maxidle" {
					ck.MaxIdle = d
				} else {
					ck.MaxLife = d
				}
			}
		default:
			c.errorf(g.Args[i].Pos, "cookie option '%s' is unknown (expected rewrite, insert, prefix, indirect, nocache, postonly, preserve, httponly, secure, domain, maxidle, maxlife, dynamic or attr)", a)
			return
		}
	}
	switch {
	case modes > 1:
		c.errorf(g.Pos, "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible")
		return
	case ck.Preserve && ck.Mode != rules.CookieInsert && !ck.Indirect:
		c.errorf(g.Pos, "cookie 'preserve' requires at least 'insert' or 'indirect'")
		return
	}
	ck.Tail = []byte(domains + flags)
	p.set.cookie = ck
}

// cookieFlags are the cookie options without a value.
var cookieFlags = map[string]func(ck *rules.Cookie) *bool{
	"indirect": func(ck *rules.Cookie) *bool { return &ck.Indirect },
	"nocache":  func(ck *rules.Cookie) *bool { return &ck.NoCache },
	"postonly": func(ck *rules.Cookie) *bool { return &ck.PostOnly },
	"preserve": func(ck *rules.Cookie) *bool { return &ck.Preserve },
	"dynamic":  func(ck *rules.Cookie) *bool { return &ck.Dynamic },
}

// kwDynamicCookieKey is "dynamic-cookie-key KEY": the secret hashed with
// each server's address for "cookie ... dynamic".
func kwDynamicCookieKey(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "dynamic-cookie-key", args, 1, 1) {
		return
	}
	p.set.dynCookieKey = args[0]
}

// kwErrorloc is "errorloc[302|303] CODE URL": the error is answered with a
// redirect to URL (302, or 303 for errorloc303), as haproxy writes it.
func kwErrorloc(c *compiler, p *proxy, g *Generic, args []string) {
	kw := c.value(g.Keyword)
	if !c.wantArgs(g, kw, args, 2, 2) {
		return
	}
	code, err := parseInt(args[0], 100, 999)
	if err != nil {
		c.errorf(g.Args[0].Pos, "%s: %v", kw, err)
		return
	}
	if !rules.ErrorCodes(code) {
		c.warnf(g.Args[0].Pos, "status code '%d' not handled by '%s', error relocation will be ignored", code, kw)
		return
	}
	status := 302
	if kw == "errorloc303" {
		status = 303
	}
	raw := fmt.Sprintf("HTTP/1.1 %d %s\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: %s\r\n\r\n", status, rules.Reason(status), args[1])
	r, err := rules.ParseReply([]byte(raw))
	if err != nil {
		c.errorf(g.Args[1].Pos, "%s: %v", kw, err)
		return
	}
	if p.set.errors == nil {
		p.set.errors = rules.ErrorSet{}
	}
	p.set.errors[code] = r
}

// kwSendNameHeader is "http-send-name-header NAME": the request sent to
// a server carries the server's name in header NAME.
func kwSendNameHeader(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) != 1 {
		c.errorf(g.Pos, "'http-send-name-header' requires a header string")
		return
	}
	p.set.sendName = strings.ToLower(args[0])
}
