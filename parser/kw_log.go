package parser

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

var logKeywords = []keyword{
	{name: "log", where: secGlobal | secProxy, apply: kwLog},
	{name: "log-format", where: secProxy, apply: kwLogFormat},
	{name: "log-send-hostname", where: secGlobal, apply: kwLogSendHostname},
	{name: "log-tag", where: secGlobal | secProxy, apply: kwLogTag},
}

func init() {
	register(logKeywords)
	keywordNotes["log"] = "global|ADDR [len N] [format rfc3164|rfc5424|short|raw|iso|timed|priority|local] FACILITY [LEVEL [MINLEVEL]]: ADDR stdout, stderr, a unix datagram socket path (/dev/log), udp@HOST:PORT or HOST[:PORT] (UDP syslog, port 514); 'no log' drops inherited targets; frontends log one line per request (HTTP) or connection (TCP); sample and ring@ targets are not supported"
	keywordNotes["log-format"] = "FORMAT: the traffic log line; variables %" + strings.Join(rules.TrafficLogVarNames(), " %") + ", %[sample], flags +Q +X; the captures %hr %hs %hrl %hsl are always empty and %CC %CS '-'"
	keywordNotes["log-send-hostname"] = "[NAME]: the host name in rfc3164 and rfc5424 headers (default: the system's)"
	keywordNotes["log-tag"] = "TAG: the program name in syslog headers (default haproxy); global only"
}

// logSettings are a proxy's logging settings, inherited from defaults.
type logSettings struct {
	targets []rules.LogTarget
	// format is the log-format string, with where it was set; empty:
	// the default (see freezeLog).
	format    string
	formatPos lexer.Position
	// option is the option that set format ("httplog"), or "".
	option                                     string
	dontLogNull, dontLogNormal, separateErrors bool
}

// The formats of haproxy's logging options, as its documentation gives
// them (section 8.2).
const (
	tcpLogFormat   = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
	httpLogFormat  = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
	clfLogFormat   = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
	httpsLogFormat = httpLogFormat + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc"
)

// kwLog is "log global", "log ADDR ... FACILITY [LEVEL [MINLEVEL]]".
func kwLog(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 1 && args[0] == "global" {
		if p == nil {
			c.errorf(g.Pos, "'log global' is only allowed in 'defaults', 'frontend', 'backend' and 'listen' sections")
			return
		}
		p.set.log.targets = append(cloneTargets(p.set.log.targets), c.g.Global.Logs...)
		return
	}
	t, ok := c.logTarget(g, args)
	if !ok {
		return
	}
	if p == nil {
		c.g.Global.Logs = append(c.g.Global.Logs, t)
		return
	}
	p.set.log.targets = append(cloneTargets(p.set.log.targets), t)
}

// cloneTargets copies a list a defaults section may share.
func cloneTargets(l []rules.LogTarget) []rules.LogTarget {
	return append([]rules.LogTarget(nil), l...)
}

// logTarget reads "ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]".
func (c *compiler) logTarget(g *Generic, args []string) (rules.LogTarget, bool) {
	t := rules.LogTarget{Pos: posString(g.Pos), MaxLen: 1024, Level: 7, MinLevel: 0}
	if len(args) == 0 {
		c.errorf(g.Pos, "'log' expects either <address[:port]> and <facility> or 'global' as arguments")
		return t, false
	}
	if err := logAddr(&t, args[0]); err != nil {
		c.errorf(g.Args[0].Pos, "log: %v", err)
		return t, false
	}
	i := 1
	for ; i+1 < len(args); i += 2 {
		switch args[i] {
		case "len":
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n < 80 || n > 65535 {
				c.errorf(g.Args[i+1].Pos, "log: invalid 'len' value '%s' (80 to 65535)", args[i+1])
				return t, false
			}
			t.MaxLen = n
			continue
		case "format":
			f, ok := rules.ParseLogFraming(args[i+1])
			if !ok {
				c.errorf(g.Args[i+1].Pos, "log: unknown log format '%s' (rfc3164, rfc5424, short, raw, iso, timed, priority, local)", args[i+1])
				return t, false
			}
			t.Framing, t.NamedRFC3164 = f, f == rules.FramingRFC3164
			continue
		case "sample":
			c.errorf(g.Args[i].Pos, "log: 'sample' is not supported")
			return t, false
		}
		break
	}
	return t, c.logLevels(g, &t, args, i)
}

// logLevels reads "FACILITY [LEVEL [MINLEVEL]]" from args[i:].
func (c *compiler) logLevels(g *Generic, t *rules.LogTarget, args []string, i int) bool {
	rest := args[i:]
	if len(rest) == 0 || len(rest) > 3 {
		c.errorf(g.Pos, "log: expects '<address> [len N] [format F] <facility> [<level> [<minlevel>]]'")
		return false
	}
	fac := indexOf(syslogFacilities, rest[0])
	if fac < 0 {
		c.errorf(g.Args[i].Pos, "log: unknown facility '%s'%s", rest[0], suggestion(rest[0], syslogFacilities))
		return false
	}
	t.Facility = fac
	for j, dst := range []*int{&t.Level, &t.MinLevel}[:len(rest)-1] {
		lvl := indexOf(syslogLevels, rest[j+1])
		if lvl < 0 {
			c.errorf(g.Args[i+j+1].Pos, "log: unknown optional log level '%s'%s", rest[j+1], suggestion(rest[j+1], syslogLevels))
			return false
		}
		*dst = lvl
	}
	return true
}

var syslogFacilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var syslogLevels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// logAddr reads a log target's address into t.
func logAddr(t *rules.LogTarget, a string) error {
	switch {
	case a == "stdout" || a == "stderr":
		t.Network, t.Addr, t.Framing = "fd", a, rules.FramingRFC3164
		return nil
	case a == "fd@1" || a == "fd@2":
		t.Network, t.Addr = "fd", map[string]string{"fd@1": "stdout", "fd@2": "stderr"}[a]
		return nil
	case strings.HasPrefix(a, "/") || strings.HasPrefix(a, "unix@"):
		t.Network, t.Addr = "unixgram", strings.TrimPrefix(a, "unix@")
		return nil
	case strings.HasPrefix(a, "ring@") || strings.HasPrefix(a, "tcp@") || strings.HasPrefix(a, "abns@") || strings.HasPrefix(a, "fd@"):
		return fmt.Errorf("log target '%s' is not supported", a)
	}
	host := a
	for _, pre := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
		host = strings.TrimPrefix(host, pre)
	}
	if strings.Contains(host, "@") {
		return fmt.Errorf("log target '%s' is not supported", a)
	}
	if i := strings.LastIndexByte(host, ':'); i < 0 || strings.HasSuffix(host, "]") || strings.Count(host, ":") > 1 && !strings.HasPrefix(host, "[") {
		host = joinHostPort(host, "514")
	} else if _, err := strconv.ParseUint(host[i+1:], 10, 16); err != nil {
		return fmt.Errorf("invalid port in '%s'", a)
	}
	t.Network, t.Addr = "udp", host
	return nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// kwLogFormat is "log-format FORMAT", checked when the proxy ends.
func kwLogFormat(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) != 1 {
		c.errorf(g.Pos, "'log-format' expects only one argument, don't forget to escape spaces")
		return
	}
	p.set.log.format, p.set.log.formatPos, p.set.log.option = args[0], g.Args[0].Pos, ""
}

// logOption applies the logging options; it reports false for another
// option.
func (c *compiler) logOption(p *proxy, g *Generic, name string, args []string, on bool) bool {
	l := &p.set.log
	switch name {
	case "httplog", "tcplog", "httpslog":
		if !on {
			l.format, l.option = "", ""
			return true
		}
		if len(args) > 0 && !(name == "httplog" && len(args) == 1 && args[0] == "clf") {
			c.errorf(g.Args[1].Pos, "'option %s' does not take '%s'", name, args[0])
			return true
		}
		l.format, l.formatPos, l.option = "", g.Pos, name
		if len(args) > 0 {
			l.option = "httplog clf"
		}
	case "dontlognull":
		l.dontLogNull = on
	case "dontlog-normal":
		l.dontLogNormal = on
	case "log-separate-errors":
		l.separateErrors = on
	default:
		return false
	}
	if name != "httplog" && len(args) > 0 {
		c.errorf(g.Args[1].Pos, "'option %s' takes no argument", name)
	}
	return true
}

// freezeLog builds a frontend's rules.Log: nil when it has no target.
// A log-format is checked even then.
func (c *compiler) freezeLog(p *proxy) {
	l := &p.set.log
	if len(l.targets) == 0 && l.format == "" {
		return
	}
	format, pos := l.format, l.formatPos
	switch opt := l.option; {
	case opt != "" && p.fe.Mode != rules.ModeHTTP && opt != "tcplog":
		c.warnf(pos, "parsing [%s:%d] : 'option %s' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.", pos.Filename, pos.Line, opt, p.kind, p.name)
		format = tcpLogFormat
	case opt != "":
		format = map[string]string{"tcplog": tcpLogFormat, "httplog": httpLogFormat, "httplog clf": clfLogFormat, "httpslog": httpsLogFormat}[opt]
	case format == "":
		format, pos = tcpLogFormat, p.pos
	}
	if p.fe.Mode != rules.ModeHTTP && l.option == "" {
		if v := httpVarIn(format); v != "" {
			c.warnf(pos, "log-format: format variable '%s' is reserved for HTTP mode", v)
		}
	}
	f := c.trafficFormat(p, pos, format)
	if f == nil || len(l.targets) == 0 {
		return
	}
	p.fe.Log = &rules.Log{Targets: l.targets, Format: f, DontLogNull: l.dontLogNull,
		DontLogNormal: l.dontLogNormal, SeparateErrors: l.separateErrors}
}

// httpVarIn returns the first variable of format that needs HTTP, or "".
func httpVarIn(format string) string {
	for _, part := range strings.Split(format, "%")[1:] {
		if i := strings.IndexByte(part, '}'); strings.HasPrefix(part, "{") && i > 0 {
			part = part[i+1:]
		}
		n := 0
		for n < len(part) && (isAlpha(part[n]) || isDigit(part[n])) {
			n++
		}
		if rules.HTTPLogVars[part[:n]] {
			return part[:n]
		}
	}
	return ""
}

// kwLogSendHostname is "log-send-hostname [NAME]".
func kwLogSendHostname(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) > 1 {
		c.errorf(g.Pos, "'log-send-hostname' expects at most one argument")
		return
	}
	if len(args) == 1 {
		c.g.Global.LogHostname = args[0]
		return
	}
	c.g.Global.LogHostname, _ = os.Hostname()
}

// kwLogTag is "log-tag TAG" in global.
func kwLogTag(c *compiler, p *proxy, g *Generic, args []string) {
	if p != nil {
		c.warnf(g.Pos, "'log-tag' in a proxy only tunes logging; gohap uses the global one")
		return
	}
	if len(args) != 1 {
		c.errorf(g.Pos, "'log-tag' expects a tag")
		return
	}
	c.g.Global.LogTag = args[0]
}

// noLog is "no log": the proxy drops the targets it inherited.
func (c *compiler) noLog(p *proxy, g *Generic, args []string) {
	if p == nil {
		c.errorf(g.Pos, "'no log' is only allowed in 'defaults', 'frontend', 'backend' and 'listen' sections")
		return
	}
	if len(args) > 0 {
		c.errorf(g.Args[1].Pos, "'no log' takes no argument")
		return
	}
	p.set.log.targets = nil
}
