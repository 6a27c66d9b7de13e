package parser

import (
	"sort"
	"strings"
)

// section is a set of section kinds a keyword is allowed in.
type section uint8

const (
	secGlobal section = 1 << iota
	secDefaults
	secFrontend
	secBackend

	secProxy = secDefaults | secFrontend | secBackend
	secFE    = secDefaults | secFrontend
	secBE    = secDefaults | secBackend
)

func (s section) String() string {
	switch {
	case s&secGlobal != 0:
		return "global"
	case s == secDefaults:
		return "defaults"
	case s == secFrontend:
		return "frontend"
	case s == secBackend:
		return "backend"
	}
	return "listen"
}

// class says what gohap does with a keyword.
type class uint8

const (
	// implemented: gohap does what HAProxy does.
	implemented class = iota
	// tuning: accepted with a warning; it only tunes HAProxy's internals,
	// logging or how operators reach the process, so gohap runs the same
	// without it.
	tuning
	// unsupported: an error, because running without it would change what
	// clients get.
	unsupported
)

// keyword is one entry of the keyword table.
type keyword struct {
	name  string
	where section
	class class
	// apply compiles a statement of an implemented keyword; p is nil in
	// global. args are the words after the keyword, unquoted.
	apply func(c *compiler, p *proxy, g *Generic, args []string)
}

// removed lists keywords HAProxy dropped, with what replaces them.
var removed = map[string]string{
	"reqadd": "http-request add-header", "reqdel": "http-request del-header",
	"reqidel": "http-request del-header", "reqrep": "http-request replace-header",
	"reqirep": "http-request replace-header", "reqallow": "http-request allow",
	"reqiallow": "http-request allow", "reqdeny": "http-request deny", "reqideny": "http-request deny",
	"reqtarpit": "http-request tarpit", "reqitarpit": "http-request tarpit",
	"reqpass": "(nothing: it had no effect)", "reqipass": "(nothing: it had no effect)",
	"rspadd": "http-response add-header", "rspdel": "http-response del-header",
	"rspidel": "http-response del-header", "rsprep": "http-response replace-header",
	"rspirep": "http-response replace-header", "rspdeny": "http-response deny",
	"rspideny": "http-response deny", "block": "http-request deny",
	"contimeout": "timeout connect", "clitimeout": "timeout client", "srvtimeout": "timeout server",
	"redisp": "option redispatch", "redispatch": "option redispatch",
	"nbproc": "nbthread", "reqsetbe": "use_backend", "reqisetbe": "use_backend",
	"monitor-net": "http-request return status 200 if { src ... }",
}

// removedOptions lists "option" names HAProxy dropped.
var removedOptions = map[string]string{
	"forceclose": "option httpclose", "http-tunnel": "option http-server-close or option httpclose",
	"http_proxy": "option http-use-proxy-header", "independant-streams": "option independent-streams",
}

var keywords = map[string]*keyword{}

func register(list []keyword) {
	for i := range list {
		k := &list[i]
		if _, dup := keywords[k.name]; dup {
			panic("parser: duplicate keyword " + k.name)
		}
		keywords[k.name] = k
	}
}

// keywordNames lists every keyword for "did you mean".
func keywordNames() []string {
	out := make([]string, 0, len(keywords))
	for n := range keywords {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// keyword compiles a generic statement through the keyword table.
func (c *compiler) keyword(where section, p *proxy, g *Generic) {
	name := c.value(g.Keyword)
	args := c.values(g.Args)
	if name == "no" && len(args) > 0 && args[0] == "option" {
		name, args = "no option", args[1:]
	} else if name == "no" && len(args) > 0 && args[0] == "log" {
		c.noLog(p, g, args[1:])
		return
	}
	if repl, ok := removed[name]; ok {
		c.errorf(g.Pos, "'%s' was removed from HAProxy; use '%s' instead", name, repl)
		return
	}
	k, ok := keywords[name]
	if !ok {
		c.errorf(g.Pos, "unknown keyword '%s' in '%s' section%s", name, where.String(), suggestion(name, keywordNames()))
		return
	}
	if k.where&where == 0 {
		c.errorf(g.Pos, "'%s' is not allowed in '%s' section", name, where)
		return
	}
	if g.Cond != nil && !takesCond[name] {
		c.errorf(g.Cond.Pos, "'%s' does not take a condition", name)
		return
	}
	switch k.class {
	case tuning:
		c.warnf(g.Pos, "'%s' only tunes HAProxy's internals, logging or management; gohap ignores it", strings.TrimSpace(name+" "+firstArg(args)))
	case unsupported:
		c.errorf(g.Pos, "'%s' is not supported", name)
	default:
		k.apply(c, p, g, args)
	}
}

// takesCond lists the generic keywords that accept "if"/"unless".
var takesCond = map[string]bool{"monitor": true, "stats": true, "redirect": true, "use-server": true,
	"force-persist": true, "ignore-persist": true, "stick": true, "stick match": true,
	"stick on": true, "stick store-request": true, "block": true}

func firstArg(args []string) string {
	if len(args) > 0 && (args[0] == "socket" || args[0] == "timeout" || args[0] == "maxconn") {
		return args[0]
	}
	return ""
}

// Names of keywords HAProxy 2.6 knows and gohap does not run yet. Running
// without them would change what clients get, so they are errors.
var unsupportedNames = []string{
	// proxies
	"dispatch", "filter", "persist",
	"email-alert", "external-check", "load-server-state-from-file", "server-state-file-name",
	"declare",
	// global
	"h1-case-adjust", "h1-case-adjust-file", "51degrees-data-file", "wurfl-data-file",
	"deviceatlas-json-file", "strict-limits", "ssl-load-extra-files",
	"ssl-engine", "ssl-mode-async", "issuers-chain-path", "httpclient.ssl.verify",
}

// Names that only tune HAProxy's internals, logging or management.
var tuningNames = []string{
	"capture", "fullconn", "max-keep-alive-queue", "log-format-sd", "error-log-format",
	"description", "backlog", "http-reuse",
	"id", "bind-process", "grace", "http-restrict-req-hdr-names",
	// global
	"daemon", "cpu-map", "chroot", "user", "group", "uid", "gid", "ulimit-n",
	"master-worker", "node", "maxconnrate",
	"maxsessrate", "maxsslconn", "maxsslrate", "maxpipes", "maxcomprate", "maxcompcpuusage",
	"maxzlibmem", "noepoll", "nopoll", "nosplice", "nogetaddrinfo", "noreuseport", "spread-checks",
	"server-state-file", "server-state-base", "localpeer", "quiet", "zero-warning",
	"expose-experimental-directives", "insecure-fork-wanted", "insecure-setuid-wanted",
	"numa-cpu-mapping", "busy-polling", "max-spread-checks", "thread-groups", "thread-group",
	"ssl-server-verify", "ssl-dh-param-file", "ssl-default-bind-ciphers",
	"ssl-default-bind-ciphersuites", "ssl-default-bind-options", "ssl-default-bind-curves",
	"ssl-default-server-ciphers", "ssl-default-server-ciphersuites", "ssl-default-server-options",
	"ssl-default-bind-sigalgs", "ssl-default-bind-client-sigalgs", "ssl-default-server-curves",
	"ssl-skip-self-issued-ca", "ssl-propquery", "ssl-provider", "ssl-provider-path",
	"tune.bufsize", "tune.maxrewrite", "tune.ssl.default-dh-param", "tune.ssl.cachesize",
	"tune.ssl.lifetime", "tune.ssl.maxrecord", "tune.http.maxhdr", "tune.maxaccept",
	"tune.maxpollevents", "tune.recv_enough", "tune.rcvbuf.client", "tune.rcvbuf.server",
	"tune.sndbuf.client", "tune.sndbuf.server", "tune.comp.maxlevel", "tune.idletimer",
	"tune.h2.initial-window-size", "tune.h2.max-concurrent-streams", "tune.pipesize",
	"tune.zlib.memlevel", "tune.zlib.windowsize", "tune.lua.maxmem", "tune.http.cookielen",
	"tune.http.logurilen", "tune.pattern.cache-size", "tune.vars.global-max-size",
	"tune.vars.proc-max-size", "tune.vars.reqres-max-size", "tune.vars.sess-max-size",
	"tune.vars.txn-max-size", "tune.ssl.capture-buffer-size", "tune.ssl.force-private-cache",
	"tune.ssl.keylog", "tune.buffers.limit", "tune.buffers.reserve", "tune.chksize",
	"tune.fd.edge-triggered", "tune.h2.header-table-size", "tune.h2.max-frame-size",
	"tune.idle-pool.shared", "tune.listener.multi-queue", "tune.runqueue-depth",
	"tune.sched.low-latency", "tune.ssl.ssl-ctx-cache-size", "tune.lua.session-timeout",
	"tune.lua.task-timeout", "mworker-max-reloads", "h2-workaround-bogus-websocket-clients", "set-dumpable",
	"tune.lua.service-timeout", "tune.lua.forced-yield",
	"tune.lua.log.loggers", "tune.lua.log.stderr", "tune.ssl.ocsp-update.maxdelay",
	"tune.ssl.ocsp-update.mindelay", "tune.quic.frontend.conn-tx-buffers.limit",
}

func init() {
	var list []keyword
	have := map[string]bool{}
	for _, k := range proxyKeywords {
		have[k.name] = true
	}
	for _, k := range globalKeywords {
		have[k.name] = true
	}
	for _, k := range luaKeywords {
		have[k.name] = true
	}
	seen := map[string]bool{}
	for _, n := range unsupportedNames {
		if !have[n] && !seen[n] {
			seen[n] = true
			list = append(list, keyword{name: n, where: secGlobal | secProxy, class: unsupported})
		}
	}
	for _, n := range tuningNames {
		if !have[n] && !seen[n] {
			seen[n] = true
			list = append(list, keyword{name: n, where: secGlobal | secProxy, class: tuning})
		}
	}
	register(proxyKeywords)
	register(globalKeywords)
	register(luaKeywords)
	register(list)
}
