package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

var useServerKeywords = []keyword{
	{name: "use-server", where: secBackend, apply: kwUseServer},
}

func init() {
	register(useServerKeywords)
	keywordNotes["use-server"] = "NAME if/unless COND: the first rule whose server is up (or down with option persist or force-persist) takes the request, before cookies and stick rules, and no cookie is inserted; log-format names (use-server %[req.hdr(x-srv)]): a name that is no server ends the rules and balances"
}

// pendingUseServer is a use-server rule with a plain name, resolved
// once all the proxy's servers are declared: a rule may name a server
// further down, as in haproxy.
type pendingUseServer struct {
	pos  lexer.Position
	name string
	rule int // index in Backend.UseServers
}

// kwUseServer is "use-server NAME if|unless COND", where NAME may be a
// log-format string.
func kwUseServer(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'use-server' expects a server name")
		return
	}
	if len(args) > 1 {
		c.errorf(g.Args[1].Pos, "'use-server' expects 'if' or 'unless' after the server name, not '%s'", args[1])
		return
	}
	if g.Cond == nil {
		c.errorf(g.Pos, "'use-server' requires either 'if' or 'unless' followed by a condition")
		return
	}
	name, dyn, ok := c.nameFormat(p, g.Args[0])
	if !ok {
		return
	}
	cond, ok := c.cond(p, g.Cond)
	if !ok {
		return
	}
	if dyn == nil {
		p.useServers = append(p.useServers, pendingUseServer{pos: g.Args[0].Pos, name: name, rule: len(p.be.UseServers)})
	}
	p.be.UseServers = append(p.be.UseServers, rules.UseServer{Pos: posString(g.Pos), Cond: cond, Name: dyn})
}

// nameFormat reads the target of a switching rule (use_backend,
// use-server): a plain name, or a log-format string evaluated per request
// (dyn). A log-format with no sample is a plain name, as haproxy reads it.
// ok is false after reporting an error.
func (c *compiler) nameFormat(p *proxy, w *Word) (name string, dyn *rules.Format, ok bool) {
	name = c.value(w)
	if !strings.Contains(name, "%") {
		return name, nil, true
	}
	f := c.format(p, w.Pos, name)
	if f == nil {
		return "", nil, false
	}
	if f.Static == nil {
		return "", f, true
	}
	return string(f.Static), nil, true
}

// resolveUseServers points the proxy's plain-named use-server rules at
// their servers, now that all are declared.
func (c *compiler) resolveUseServers(p *proxy) {
	for _, u := range p.useServers {
		srv := p.be.ServerNamed([]byte(u.name))
		if srv == nil {
			names := make([]string, len(p.be.Servers))
			for i, s := range p.be.Servers {
				names[i] = s.Name
			}
			c.errorf(u.pos, "use-server: no server '%s' in %s '%s'%s", u.name, p.kind, p.name, suggestion(u.name, names))
			continue
		}
		p.be.UseServers[u.rule].Server = srv
	}
}
