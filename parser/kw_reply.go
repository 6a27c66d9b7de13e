package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

func init() {
	register([]keyword{{name: "http-error", where: secProxy, apply: kwHTTPError}})
	keywordNotes["http-error"] = "status CODE [content-type T] [default-errorfiles | errorfile F | errorfiles NAME | file F | lf-file F | string S | lf-string FMT] [hdr NAME FMT]...: replaces the error page for CODE; the last errorfile, errorfiles or http-error line for CODE wins. As in haproxy 2.6, a malformed request or a request timeout still gets the stored page"
}

// replyPayload is where a reply's body comes from.
type replyPayload uint8

const (
	payloadNone     replyPayload = iota
	payloadDefault               // default-errorfiles: the proxy's error page
	payloadErrfile               // errorfile F: a whole response
	payloadErrfiles              // errorfiles NAME: an http-errors section's page
	payloadRaw                   // file F, string S
	payloadLF                    // lf-file F, lf-string FMT
)

// replyOptionArgs are the options of a reply, with what they take.
var replyOptionArgs = map[string]string{
	"status": "<status_code>", "content-type": "<type>", "default-errorfiles": "",
	"errorfile": "<file>", "errorfiles": "<name>", "file": "<file>", "lf-file": "<file>",
	"string": "<str>", "lf-string": "<fmt>", "hdr": "<name> and <value>",
}

// replyArgs is a reply as its options describe it: haproxy's
// http_parse_http_reply, shared by "http-request return", "deny" and
// "http-error".
type replyArgs struct {
	spec     rules.ReplySpec
	payload  replyPayload
	kind     string // the payload's option, for "already defined"
	raw      string // the body of file, string, lf-file or lf-string
	rawPos   lexer.Position
	errfile  *rules.Reply // errorfile F
	errfiles string       // errorfiles NAME
	ctypePos lexer.Position
	hdrPos   lexer.Position // the first hdr option, zero if none
}

// replyOptions reads the options of a reply; who names the statement in
// messages, words are the options' words. It reports false after an
// error. The status option is accepted and checked as haproxy does.
func (c *compiler) replyOptions(p *proxy, who string, words []*Word, args []string, ra *replyArgs) bool {
	for i := 0; i < len(args); i++ {
		opt, pos := args[i], words[i].Pos
		what, known := replyOptionArgs[opt]
		if !known {
			c.errorf(pos, "'%s': unknown keyword '%s'", who, opt)
			return false
		}
		want := map[string]int{"": 0, "<name> and <value>": 2}[what]
		if what != "" && want == 0 {
			want = 1
		}
		if i+want >= len(args) || (want > 0 && args[i+1] == "") || (want == 2 && args[i+2] == "") {
			c.errorf(pos, "'%s': '%s' expects %s as argument%s", who, opt, what, map[bool]string{true: "s"}[want == 2])
			return false
		}
		if !c.replyOption(p, who, words[i:i+want+1], args[i:i+want+1], ra) {
			return false
		}
		i += want
	}
	return true
}

// replyOption applies one option and its values to ra.
func (c *compiler) replyOption(p *proxy, who string, words []*Word, args []string, ra *replyArgs) bool {
	opt, pos := args[0], words[0].Pos
	switch opt {
	case "status":
		n, err := parseInt(args[1], 200, 599)
		if err != nil {
			c.errorf(words[1].Pos, "'%s': unexpected status code '%s'", who, args[1])
			return false
		}
		ra.spec.Status = n
		return true
	case "content-type":
		ra.spec.ContentType, ra.ctypePos = args[1], pos
		return true
	case "hdr":
		if ra.hdrPos.Line == 0 {
			ra.hdrPos = pos
		}
		f := c.format(p, words[2].Pos, args[2])
		ra.spec.Headers = append(ra.spec.Headers, rules.ReplyHeader{Name: strings.ToLower(args[1]), Value: f})
		return f != nil
	}
	if ra.payload != payloadNone {
		c.errorf(pos, "'%s': unexpected '%s' argument, '%s' already defined", who, opt, ra.kind)
		return false
	}
	ra.kind = opt
	return c.replyPayload(who, words, args, ra)
}

// replyPayload reads the payload option of a reply.
func (c *compiler) replyPayload(who string, words []*Word, args []string, ra *replyArgs) bool {
	switch args[0] {
	case "default-errorfiles":
		ra.payload = payloadDefault
		return true
	case "errorfiles":
		ra.payload, ra.errfiles = payloadErrfiles, args[1]
		if _, ok := c.errorSets[args[1]]; !ok {
			c.errorf(words[1].Pos, "'%s': unknown http-errors section '%s' (it must be declared before use)", who, args[1])
			return false
		}
		return true
	case "string", "lf-string":
		ra.payload, ra.raw, ra.rawPos = payloadRaw, args[1], words[1].Pos
	default: // errorfile, file, lf-file
		b, err := c.cfg.ReadFile(c.path(words[1].Pos, args[1]))
		if err != nil {
			c.errorf(words[1].Pos, "'%s': %v", who, err)
			return false
		}
		ra.payload, ra.raw, ra.rawPos = payloadRaw, string(b), words[1].Pos
	}
	switch args[0] {
	case "errorfile":
		r, err := rules.ParseReply([]byte(ra.raw))
		if err != nil {
			c.errorf(words[1].Pos, "'%s': errorfile '%s': %v", who, args[1], err)
			return false
		}
		ra.payload, ra.errfile = payloadErrfile, r
	case "lf-file", "lf-string":
		ra.payload = payloadLF
	}
	return true
}

// replyCheck checks what the options leave to check together, as haproxy
// does after parsing them, and compiles the log-format body.
func (c *compiler) replyCheck(p *proxy, who string, pos lexer.Position, ra *replyArgs) bool {
	switch {
	case ra.payload == payloadErrfile || ra.payload == payloadErrfiles:
		if ra.hdrPos.Line != 0 {
			c.warnf(ra.hdrPos, "'%s': hdr parameters are ignored with an errorfile", who)
		}
		return true
	case ra.payload == payloadNone || ra.payload == payloadDefault || ra.raw == "":
		if ra.spec.ContentType != "" {
			c.warnf(ra.ctypePos, "'%s': content-type '%s' is ignored because neither errorfile nor payload is defined", who, ra.spec.ContentType)
			ra.spec.ContentType = ""
		}
		if ra.payload != payloadDefault {
			ra.payload = payloadNone
		}
		return true
	case ra.payload == payloadLF && ra.spec.ContentType == "":
		c.errorf(pos, "'%s': a content type must be defined with a log-format payload", who)
		return false
	case ra.payload == payloadRaw && ra.spec.ContentType == "":
		c.errorf(pos, "'%s': a content type must be defined when non-empty payload is configured", who)
		return false
	case ra.payload == payloadLF:
		ra.spec.Body = c.format(p, ra.rawPos, ra.raw)
		return ra.spec.Body != nil
	}
	ra.spec.Body = &rules.Format{Static: []byte(ra.raw)}
	return true
}

// build returns the reply ra describes; sets are the error pages the
// proxy has so far, which default-errorfiles and errorfiles fall back to.
func (c *compiler) buildReply(ra *replyArgs, set rules.ErrorSet) *rules.Reply {
	switch ra.payload {
	case payloadErrfile:
		return ra.errfile
	case payloadErrfiles:
		return rules.Lookup(ra.spec.Status, c.errorSets[ra.errfiles], set)
	case payloadDefault:
		return rules.Lookup(ra.spec.Status, set)
	}
	return rules.NewReply(ra.spec)
}

// kwHTTPError is "http-error status CODE [options]": the page the proxy
// sends when it answers CODE itself. It sits in the same table as
// errorfile and errorfiles, so the last line for a code wins.
func kwHTTPError(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) < 2 || args[0] != "status" {
		c.errorf(g.Pos, "'http-error' expects at least a <status> as arguments")
		return
	}
	ra := replyArgs{}
	if !c.replyOptions(p, "http-error", g.Args, args, &ra) {
		return
	}
	if !rules.ErrorCodes(ra.spec.Status) {
		c.errorf(g.Args[1].Pos, "'http-error': status code '%d' not handled", ra.spec.Status)
		return
	}
	if !c.replyCheck(p, "http-error", g.Pos, &ra) {
		return
	}
	if p.set.errors == nil {
		p.set.errors = rules.ErrorSet{}
	}
	code := ra.spec.Status
	switch ra.payload {
	case payloadDefault:
		delete(p.set.errors, code)
	case payloadErrfiles:
		// A section without the code leaves the proxy's page.
		if r := c.errorSets[ra.errfiles][code]; r != nil {
			p.set.errors[code] = r
		}
	default:
		p.set.errors[code] = c.buildReply(&ra, nil)
	}
}
