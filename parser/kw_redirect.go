package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// redirectAction compiles "location|prefix|scheme VALUE [code N]
// [drop-query] [append-slash] [set-cookie NAME[=VALUE]]", the words after
// "redirect" or "http-request redirect".
func (c *compiler) redirectAction(pos lexer.Position, words []*Word, args []string) rules.Action {
	if len(args) < 2 {
		c.errorf(pos, "'redirect' expects 'location', 'prefix' or 'scheme' followed by a value")
		return nil
	}
	kinds := map[string]rules.RedirectKind{"location": rules.RedirectLocation, "prefix": rules.RedirectPrefix, "scheme": rules.RedirectScheme}
	kind, ok := kinds[args[0]]
	if !ok {
		c.errorf(words[0].Pos, "'redirect' expects 'location', 'prefix' or 'scheme', got '%s'", args[0])
		return nil
	}
	value := args[1]
	if strings.Contains(value, "%") {
		c.errorf(words[1].Pos, "log-format values ('%s') in redirects are not supported", value)
		return nil
	}
	code, dropQuery, appendSlash, cookie := 302, false, false, ""
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "drop-query":
			dropQuery = true
		case "append-slash":
			appendSlash = true
		case "code", "set-cookie":
			if i+1 >= len(args) {
				c.errorf(words[i].Pos, "'%s' expects a value", args[i])
				return nil
			}
			if args[i] == "set-cookie" {
				cookie = args[i+1]
			} else {
				n, err := parseInt(args[i+1], 301, 308)
				if err != nil || n == 304 || n == 305 || n == 306 {
					c.errorf(words[i+1].Pos, "redirect code must be 301, 302, 303, 307 or 308, got '%s'", args[i+1])
					return nil
				}
				code = n
			}
			i++
		default:
			c.errorf(words[i].Pos, "redirect option '%s' is not supported", args[i])
			return nil
		}
	}
	return rules.NewRedirect(kind, value, code, dropQuery, appendSlash, cookie)
}

// kwRedirect is the legacy "redirect" keyword: run after every
// http-request rule of the proxy, as haproxy does.
func kwRedirect(c *compiler, p *proxy, g *Generic, args []string) {
	act := c.redirectAction(g.Pos, g.Args, args)
	if act == nil {
		return
	}
	cond, ok := c.cond(p, g.Cond)
	if !ok {
		return
	}
	r := rules.Rule{Pos: posString(g.Pos), Cond: cond, Action: act}
	if p.fe != nil {
		p.fe.Redirects = append(p.fe.Redirects, r)
	} else {
		p.be.Redirects = append(p.be.Redirects, r)
	}
}
