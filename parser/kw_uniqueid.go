package parser

import "strings"

var uniqueIDKeywords = []keyword{
	{name: "unique-id-format", where: secProxy, apply: kwUniqueIDFormat},
	{name: "unique-id-header", where: secProxy, apply: kwUniqueIDHeader},
}

func init() {
	register(uniqueIDKeywords)
	keywordNotes["unique-id-format"] = "log-format: each request's unique ID, for the unique-id fetch and %ID; variables %ci %cp %fi %fp %Ts %rt %pid %H %ID, %[sample], flags +X and +Q (%{+X}o for all); cut at 127 bytes; backend: warning, as haproxy ignores it"
	keywordNotes["unique-id-header"] = "NAME: the unique ID in a request header to the server, added after the request's own headers; backend: warning"
}

// kwUniqueIDFormat is "unique-id-format LOG-FORMAT"; an empty format
// removes an inherited one.
func kwUniqueIDFormat(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.frontendOnly(p, g) {
		return
	}
	if len(args) != 1 {
		c.errorf(g.Pos, "'unique-id-format' expects only one argument, don't forget to escape spaces")
		return
	}
	p.set.uniqueID = nil
	if args[0] != "" {
		p.set.uniqueID = c.logFormat(p, g.Args[0].Pos, args[0])
	}
}

// kwUniqueIDHeader is "unique-id-header NAME".
func kwUniqueIDHeader(c *compiler, p *proxy, g *Generic, args []string) {
	if !c.frontendOnly(p, g) {
		return
	}
	if len(args) != 1 {
		c.errorf(g.Pos, "'unique-id-header' expects 1 argument")
		return
	}
	p.set.uniqueIDHeader = strings.ToLower(args[0])
}

// frontendOnly reports whether the keyword of g applies to p: haproxy
// reads the unique ID settings of the frontend, and one in a backend is
// ignored (with a warning from gohap, where haproxy says nothing).
func (c *compiler) frontendOnly(p *proxy, g *Generic) bool {
	if p.kind == "backend" {
		c.warnf(g.Pos, "'%s' is ignored in a backend: haproxy uses the frontend's", c.value(g.Keyword))
		return false
	}
	return true
}

// freezeUniqueID copies the unique ID settings into the frontend.
func (c *compiler) freezeUniqueID(p *proxy) {
	p.fe.UniqueIDFormat = p.set.uniqueID
	if h := p.set.uniqueIDHeader; h != "" {
		if p.fe.UniqueIDFormat == nil {
			c.warnf(p.pos, "%s '%s': 'unique-id-header' has no effect without 'unique-id-format'", p.kind, p.name)
			return
		}
		p.fe.UniqueIDHeader = []byte(h)
	}
}
