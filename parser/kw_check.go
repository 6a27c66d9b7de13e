package parser

import (
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

var checkKeywords = []keyword{
	{name: "http-check", where: secBE, apply: kwHTTPCheck},
	{name: "tcp-check", where: secBE, apply: kwTCPCheck},
}

// checkOptions are the "option" names that choose a health check kind;
// they take arguments, so they are not in proxyOptions.
var checkOptions = map[string]func(c *compiler, p *proxy, g *Generic, args []string){
	"httpchk":   optHTTPChk,
	"tcp-check": optTCPCheck,
}

func init() {
	register(checkKeywords)
	keywordNotes["http-check"] = "connect [port, addr, ssl, sni, alpn, send-proxy, default, linger] (one, first); send [meth, uri, ver, hdr, body, comment]; expect [!] status, rstatus, string, rstring [comment]; disable-on-404; comment"
	keywordNotes["tcp-check"] = "connect [port, addr, ssl, sni, alpn, send-proxy, default, linger, comment]; send, send-binary; expect [!] string, rstring, binary [comment]; comment"
}

// checkSettings are a proxy's health check settings: "option httpchk",
// "option tcp-check", and the "http-check" and "tcp-check" rules. A
// proxy inherits them from its defaults section; its own rules of a kind
// replace the inherited ones (httpOwner and tcpOwner say whose rules the
// lists hold).
type checkSettings struct {
	kind rules.CheckKind
	// The HTTP request: "option httpchk" then "http-check send".
	meth, uri, ver string
	hdrs           [][2]string
	body           string
	sent           bool // an "http-check send" was seen
	disable404     bool // "http-check disable-on-404"
	expect         []*rules.CheckExpect
	connect        *rules.CheckStep // "http-check connect"
	httpOwner      *proxy
	steps          []rules.CheckStep
	tcpOwner       *proxy
}

// optHTTPChk is "option httpchk [[METH] URI [VER]]"; VER may carry
// "\r\n"-separated headers and a body, HAProxy's old form.
func optHTTPChk(c *compiler, p *proxy, g *Generic, args []string) {
	if c.value(g.Keyword) == "no" {
		c.errorf(g.Pos, "negation/default is not supported for option 'httpchk'")
		return
	}
	if p.be == nil && p.kind != "defaults" {
		c.warnf(g.Pos, "'option httpchk' ignored because %s '%s' has no backend capability", p.kind, p.name)
		return
	}
	cs := &p.set.check
	cs.kind = rules.CheckHTTP
	cs.meth, cs.uri, cs.ver, cs.hdrs, cs.body = "OPTIONS", "/", "HTTP/1.0", nil, ""
	switch len(args) {
	case 0:
	case 1:
		cs.uri = args[0]
	case 2:
		cs.meth, cs.uri = args[0], args[1]
	case 3:
		cs.meth, cs.uri, cs.ver = args[0], args[1], args[2]
	default:
		c.errorf(g.Args[4].Pos, "'option httpchk' expects at most 3 arguments ([METH] URI [VER]), unexpected '%s'", args[3])
		return
	}
	if i := strings.Index(cs.ver, "\r\n"); i >= 0 {
		c.warnf(g.Pos, "'option httpchk' : hiding headers or body at the end of the version string is deprecated. Please, consider to use 'http-check send' directive instead.")
		rest := cs.ver[i+2:]
		cs.ver = cs.ver[:i]
		hdrs, body, _ := strings.Cut(rest, "\r\n\r\n")
		if strings.HasPrefix(rest, "\r\n") { // "VER\r\n\r\nBODY": no header
			hdrs, body = "", rest[2:]
		}
		cs.body = body
		for _, line := range strings.Split(hdrs, "\r\n") {
			if line == "" {
				continue
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" {
				c.errorf(g.Args[len(args)].Pos, "'option httpchk': invalid header '%s' in the version string", line)
				return
			}
			cs.hdrs = append(cs.hdrs, [2]string{name, strings.TrimLeft(value, " \t")})
		}
	}
}

// optTCPCheck is "option tcp-check".
func optTCPCheck(c *compiler, p *proxy, g *Generic, args []string) {
	if c.value(g.Keyword) != "no" && len(args) > 0 {
		c.errorf(g.Args[1].Pos, "'option tcp-check' takes no argument")
		return
	}
	if checkOptionApplies(c, p, g, "tcp-check") {
		p.set.check.kind = rules.CheckTCPRules
	}
}

// checkOptionApplies reports whether a check option may act here: it has
// no "no" form, and it is ignored (with haproxy's warning) in a proxy
// without a backend.
func checkOptionApplies(c *compiler, p *proxy, g *Generic, name string) bool {
	if c.value(g.Keyword) == "no" {
		c.errorf(g.Pos, "negation/default is not supported for option '%s'", name)
		return false
	}
	if p.be == nil && p.kind != "defaults" {
		c.warnf(g.Pos, "'option %s' ignored because %s '%s' has no backend capability", name, p.kind, p.name)
		return false
	}
	return true
}

// kwHTTPCheck is "http-check send|expect|comment ...".
func kwHTTPCheck(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'http-check' expects 'send', 'expect' or 'comment'")
		return
	}
	cs := &p.set.check
	if cs.httpOwner != p { // the first rule of this proxy replaces inherited ones
		cs.httpOwner, cs.expect, cs.sent, cs.connect = p, nil, false, nil
	}
	switch args[0] {
	case "comment":
		if len(args) != 2 {
			c.errorf(g.Pos, "'http-check comment' expects a string as argument")
		}
	case "connect":
		if cs.sent || len(cs.expect) > 0 || cs.connect != nil {
			c.errorf(g.Pos, "'http-check connect' : gohap supports one connect rule, before any send or expect rule")
			return
		}
		st := &rules.CheckStep{}
		if c.checkConnect(st, g, args, "http-check") {
			cs.connect = st
		}
	case "send":
		if len(cs.expect) > 0 {
			c.errorf(g.Pos, "'http-check send' : unable to add http-check send rule after an expect rule (a second connect/send/expect sequence is not supported)")
			return
		}
		if cs.sent {
			c.errorf(g.Pos, "'http-check send' : only one send rule is supported")
			return
		}
		cs.sent = true
		c.httpCheckSend(p, g, args)
	case "expect":
		if e := c.checkExpect(g, args, true); e != nil {
			cs.expect = append(cs.expect, e)
		}
	case "disable-on-404":
		if len(args) != 1 {
			c.errorf(g.Args[1].Pos, "'http-check disable-on-404' takes no argument")
			return
		}
		cs.disable404 = true
	case "send-state", "set-var", "unset-var":
		c.errorf(g.Args[0].Pos, "'http-check %s' is not supported", args[0])
	default:
		c.errorf(g.Args[0].Pos, "'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var' or 'unset-var', got '%s'", args[0])
	}
}

// httpCheckSend is "http-check send [meth M] [uri U] [ver V] [hdr N V]*
// [body B] [comment C]".
func (c *compiler) httpCheckSend(p *proxy, g *Generic, args []string) {
	cs := &p.set.check
	for i := 1; i < len(args); i++ {
		opt := args[i]
		need := 1
		if opt == "hdr" {
			need = 2
		}
		if i+need >= len(args) {
			c.errorf(g.Args[i].Pos, "'http-check send %s' expects %s", opt, map[int]string{1: "a string as argument", 2: "<name> and <value> as arguments"}[need])
			return
		}
		v := args[i+1]
		switch opt {
		case "meth":
			cs.meth = v
		case "uri":
			cs.uri = v
		case "ver":
			cs.ver = v
		case "body":
			cs.body = v
		case "comment":
		case "hdr":
			switch strings.ToLower(v) {
			case "content-length", "transfer-encoding": // HAProxy computes them
			default:
				cs.hdrs = append(cs.hdrs, [2]string{v, args[i+2]})
			}
		case "uri-lf", "body-lf":
			c.errorf(g.Args[i].Pos, "'http-check send %s' is not supported", opt)
			return
		default:
			c.errorf(g.Args[i].Pos, "'http-check send' expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument", opt)
			return
		}
		i += need
	}
}

// checkExpect reads "[!] MATCH PATTERN" with its options, for
// "http-check expect" (http) or "tcp-check expect".
func (c *compiler) checkExpect(g *Generic, args []string, http bool) *rules.CheckExpect {
	kw := "tcp-check expect"
	if http {
		kw = "http-check expect"
	}
	e := &rules.CheckExpect{}
	match := ""
	i := 1
	for ; i < len(args) && match == ""; i++ {
		switch a := args[i]; a {
		case "!":
			e.Inverse = true
		case "comment":
			if i+1 >= len(args) {
				c.errorf(g.Args[i].Pos, "'%s comment' expects a string as argument", kw)
				return nil
			}
			e.Comment = args[i+1]
			i++
		case "min-recv", "ok-status", "error-status", "tout-status", "on-success", "on-error", "status-code":
			c.errorf(g.Args[i].Pos, "'%s %s' is not supported", kw, a)
			return nil
		default:
			match = a
		}
	}
	if match == "" {
		c.errorf(g.Pos, "'%s' expects a match and a pattern", kw)
		return nil
	}
	switch match {
	case "hdr", "fhdr", "string-lf", "binary-lf", "rbinary", "custom":
		c.errorf(g.Args[i-1].Pos, "'%s %s' is not supported", kw, match)
		return nil
	}
	if i >= len(args) {
		c.errorf(g.Args[i-1].Pos, "'%s %s' expects a pattern", kw, match)
		return nil
	}
	at := g.Args[i].Pos
	e.Pattern = args[i]
	for j := i + 1; j < len(args); j++ {
		if args[j] == "comment" && j+1 < len(args) {
			e.Comment = args[j+1]
			j++
			continue
		}
		c.errorf(g.Args[j].Pos, "unexpected '%s' after the pattern of '%s'", args[j], kw)
		return nil
	}
	var err error
	switch {
	case http && match == "status":
		e.Kind = rules.ExpectStatus
		e.Status, err = parseStatusRanges(e.Pattern)
	case http && match == "rstatus", match == "rstring":
		e.Kind = rules.ExpectRString
		if match == "rstatus" {
			e.Kind = rules.ExpectRStatus
		}
		e.Regex, err = regexp.Compile(e.Pattern)
	case match == "string":
		e.Kind, e.Data = rules.ExpectString, []byte(e.Pattern)
	case !http && match == "binary":
		e.Kind = rules.ExpectBinary
		e.Data, err = hex.DecodeString(e.Pattern)
	default:
		c.errorf(g.Args[i-1].Pos, "'%s' : unknown match '%s'", kw, match)
		return nil
	}
	if err != nil {
		c.errorf(at, "'%s %s': invalid pattern '%s': %v", kw, match, e.Pattern, err)
		return nil
	}
	return e
}

// parseStatusRanges reads "200", "200-399" or "200,301,400-499".
func parseStatusRanges(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, errorString("'" + part + "' is not a status code or range")
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, errorString("'" + part + "' is not a status code or range")
			}
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// kwTCPCheck is "tcp-check connect|send|send-binary|expect|comment ...".
func kwTCPCheck(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'tcp-check' expects 'comment', 'connect', 'send', 'send-binary' or 'expect'")
		return
	}
	cs := &p.set.check
	if cs.tcpOwner != p {
		cs.tcpOwner, cs.steps = p, nil
	}
	st := rules.CheckStep{}
	switch args[0] {
	case "comment":
		if len(args) != 2 {
			c.errorf(g.Pos, "'tcp-check comment' expects a string as argument")
			return
		}
		st.Action = rules.StepComment
	case "connect":
		for _, prev := range cs.steps {
			if prev.Action != rules.StepComment && prev.Action != rules.StepConnect {
				c.errorf(g.Pos, "'tcp-check connect' : first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset")
				return
			}
			break
		}
		st.Action = rules.StepConnect
		if !c.checkConnect(&st, g, args, "tcp-check") {
			return
		}
	case "send", "send-binary":
		if len(args) < 2 {
			c.errorf(g.Pos, "'tcp-check %s' expects a string as argument", args[0])
			return
		}
		if len(args) > 2 && (args[2] != "comment" || len(args) != 4) {
			c.errorf(g.Args[2].Pos, "'tcp-check %s' expects 'comment' but got '%s' as argument", args[0], args[2])
			return
		}
		st.Action, st.Data = rules.StepSend, []byte(args[1])
		if args[0] == "send-binary" {
			b, err := hex.DecodeString(args[1])
			if err != nil {
				c.errorf(g.Args[1].Pos, "'tcp-check send-binary': '%s' invalid binary string", args[1])
				return
			}
			st.Data = b
		}
	case "expect":
		e := c.checkExpect(g, args, false)
		if e == nil {
			return
		}
		st.Action, st.Expect = rules.StepExpect, e
	case "send-lf", "send-binary-lf", "set-var", "unset-var":
		c.errorf(g.Args[0].Pos, "'tcp-check %s' is not supported", args[0])
		return
	default:
		c.errorf(g.Args[0].Pos, "'tcp-check' expects 'comment', 'connect', 'send', 'send-binary', 'expect', 'set-var' or 'unset-var' but got '%s'", args[0])
		return
	}
	cs.steps = append(cs.steps, st)
}

// checkConnect reads the options of "tcp-check connect" and "http-check
// connect" (args[0] is "connect") into st; it reports false on error.
func (c *compiler) checkConnect(st *rules.CheckStep, g *Generic, args []string, kw string) bool {
	st.Action = rules.StepConnect
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "default":
			st.Default = true
		case "linger":
		case "ssl":
			st.SSL = true
		case "send-proxy":
			st.SendProxy = true
		case "port", "addr", "comment", "sni", "alpn":
			if i+1 >= len(args) {
				c.errorf(g.Args[i].Pos, "'%s connect %s' expects a value", kw, a)
				return false
			}
			v := args[i+1]
			i++
			switch a {
			case "port":
				n, err := parseInt(v, 1, 65535)
				if err != nil {
					c.errorf(g.Args[i].Pos, "'%s connect port': %v", kw, err)
					return false
				}
				st.Port = n
			case "addr":
				st.Addr = v
			case "sni":
				st.SNI = v
			case "alpn":
				st.ALPN = strings.Split(v, ",")
			}
		case "via-socks4", "proto":
			c.errorf(g.Args[i].Pos, "'%s connect %s' is not supported", kw, a)
			return false
		default:
			c.errorf(g.Args[i].Pos, "'%s connect' expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got '%s' as argument", kw, a)
			return false
		}
	}
	return true
}

// freezeCheck builds the backend's HealthCheck from its settings and
// warns about rules of the other kind, which HAProxy ignores.
func (c *compiler) freezeCheck(p *proxy) *rules.HealthCheck {
	cs := &p.set.check
	if cs.kind != rules.CheckHTTP && (len(cs.expect) > 0 || cs.sent || cs.connect != nil) {
		c.warnf(p.pos, "%s '%s' uses http-check rules without 'option httpchk', so the rules are ignored.", p.kind, p.name)
	}
	if cs.kind != rules.CheckTCPRules && len(cs.steps) > 0 {
		c.warnf(p.pos, "%s '%s' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", p.kind, p.name)
	}
	switch cs.kind {
	case rules.CheckHTTP:
		hc := &rules.HealthCheck{Kind: rules.CheckHTTP, Expect: cs.expect, Request: httpCheckRequest(cs),
			DisableOn404: cs.disable404, Connect: cs.connect}
		for _, e := range cs.expect {
			if e.Kind == rules.ExpectString || e.Kind == rules.ExpectRString {
				hc.NeedBody = true
			}
		}
		return hc
	case rules.CheckTCPRules:
		return &rules.HealthCheck{Kind: rules.CheckTCPRules, Steps: cs.steps}
	}
	return nil
}

// httpCheckRequest serialises the check request as HAProxy 2.6's HTTP/1
// layer sends it: a version above 1.0 is sent as HTTP/1.1, header names
// in lower case, content-length when there is a body, and for HTTP/1.1
// "connection: close" unless the request has a Connection header (whose
// keep-alive token, implicit in 1.1, is dropped, as is close in 1.0).
func httpCheckRequest(cs *checkSettings) []byte {
	ver, is11 := cs.ver, false
	if up := strings.ToUpper(ver); strings.HasPrefix(up, "HTTP/") {
		v := up[5:]
		switch {
		case len(v) == 3 && v[1] == '.' && isDigit(v[0]) && isDigit(v[2]):
			if v > "1.0" {
				ver, is11 = "HTTP/1.1", true
			}
		default:
			ver = "HTTP/1.1"
		}
	}
	var b strings.Builder
	b.WriteString(cs.meth + " " + cs.uri + " " + ver + "\r\n")
	hasConn := false
	for _, h := range cs.hdrs {
		name := strings.ToLower(h[0])
		value := h[1]
		if name == "connection" {
			hasConn = true
			var keep []string
			for _, tok := range strings.Split(value, ",") {
				tok = strings.TrimSpace(tok)
				lt := strings.ToLower(tok)
				if tok == "" || (is11 && lt == "keep-alive") || (!is11 && lt == "close") {
					continue
				}
				keep = append(keep, tok)
			}
			if len(keep) == 0 {
				continue
			}
			value = strings.Join(keep, ", ")
		}
		b.WriteString(name + ": " + value + "\r\n")
	}
	if cs.body != "" {
		b.WriteString("content-length: " + strconv.Itoa(len(cs.body)) + "\r\n")
	}
	if is11 && !hasConn {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n" + cs.body)
	return []byte(b.String())
}
