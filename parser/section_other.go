package parser

import (
	"strings"

	"gohap/runtime/rules"
)

// sideSections are sections gohap reads and checks for structure but does
// not run; each gets one warning saying what gohap does instead.
var sideSections = map[string]string{
	"peers":       "gohap has no stick tables to replicate; the 'peers' section is ignored",
	"mailers":     "gohap sends no email alerts; the 'mailers' section is ignored",
	"program":     "gohap does not start external programs; the 'program' section is ignored",
	"ring":        "gohap has no ring buffers for logs; the 'ring' section is ignored",
	"log-forward": "gohap does not forward logs; the 'log-forward' section is ignored",
	"cache":       "the 'cache' section is ignored; 'http-request cache-use' is not supported",
}

// otherSection handles the sections that are not proxies.
func (c *compiler) otherSection(s *Section) bool {
	switch s.Kind {
	case "userlist":
		c.userlist(s)
		return true
	case "http-errors":
		c.httpErrors(s)
		return true
	case "resolvers":
		c.resolversSection(s)
		return true
	}
	msg, ok := sideSections[s.Kind]
	if !ok {
		return false
	}
	if len(s.Args) == 0 && s.Kind != "program" && s.Kind != "ring" && s.Kind != "log-forward" {
		// Every named side section needs its name, as in haproxy.
		c.errorf(s.Pos, "'%s' expects a name", s.Kind)
		return true
	}
	c.warnf(s.Pos, "%s", msg)
	return true
}

// httpErrors compiles "http-errors NAME" with its errorfile lines, for
// "errorfiles NAME" in proxies.
func (c *compiler) httpErrors(s *Section) {
	args := c.values(s.Args)
	if len(args) != 1 {
		c.errorf(s.Pos, "'http-errors' expects exactly one name")
		return
	}
	p := &proxy{kind: "http-errors", name: args[0], pos: s.Pos, set: &proxySettings{}}
	for _, st := range s.Stmts {
		g := st.Generic
		if g == nil || c.value(g.Keyword) != "errorfile" {
			c.errorf(st.Pos, "'%s' is not allowed in 'http-errors' section (only 'errorfile')", stmtKeyword(st))
			continue
		}
		kwErrorfile(c, p, g, c.values(g.Args))
	}
	if _, dup := c.errorSets[args[0]]; dup {
		c.errorf(s.Pos, "http-errors section '%s' is declared twice", args[0])
	}
	c.errorSets[args[0]] = p.set.errors
}

// kwErrorfiles is "errorfiles NAME [CODE...]": the errorfiles of an
// http-errors section, all or the listed codes.
func kwErrorfiles(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'errorfiles' expects the name of an http-errors section")
		return
	}
	set, ok := c.errorSets[args[0]]
	if !ok {
		c.errorf(g.Args[0].Pos, "unknown http-errors section '%s' (it must be declared before use)", args[0])
		return
	}
	codes := map[int]bool{}
	for i, a := range args[1:] {
		n, err := parseInt(a, 100, 999)
		if err != nil {
			c.errorf(g.Args[i+1].Pos, "errorfiles: %v", err)
			return
		}
		codes[n] = true
	}
	if p.set.errors == nil {
		p.set.errors = rules.ErrorSet{}
	}
	for code, r := range set {
		if len(codes) == 0 || codes[code] {
			p.set.errors[code] = r
		}
	}
}

// userlist compiles a "userlist NAME" section: "user NAME [password HASH |
// insecure-password PASS] [groups G,...]" and "group NAME [users U,...]".
func (c *compiler) userlist(s *Section) {
	args := c.values(s.Args)
	if len(args) != 1 {
		c.errorf(s.Pos, "'userlist' expects exactly one name")
		return
	}
	ul := &rules.Userlist{Name: args[0], Groups: map[string][]string{}}
	for _, st := range s.Stmts {
		g := st.Generic
		if g == nil {
			c.errorf(st.Pos, "'%s' is not allowed in 'userlist' section", stmtKeyword(st))
			continue
		}
		kw := c.value(g.Keyword)
		a := c.values(g.Args)
		switch kw {
		case "group":
			if len(a) == 0 {
				c.errorf(g.Pos, "'group' expects a name")
				continue
			}
			ul.Groups[a[0]] = ul.Groups[a[0]]
			if len(a) == 3 && a[1] == "users" {
				for _, u := range strings.Split(a[2], ",") {
					ul.Groups[a[0]] = append(ul.Groups[a[0]], u)
				}
			} else if len(a) != 1 {
				c.errorf(g.Pos, "'group' expects a name and optionally 'users U1,U2'")
			}
		case "user":
			c.userLine(ul, g, a)
		default:
			c.errorf(g.Pos, "unknown keyword '%s' in 'userlist' section (expected 'user' or 'group')", kw)
		}
	}
	for g, users := range ul.Groups {
		for _, u := range users {
			if _, ok := ul.Users[u]; !ok {
				c.errorf(s.Pos, "userlist '%s': group '%s' names unknown user '%s'", ul.Name, g, u)
			}
		}
	}
	if _, dup := c.userlists[ul.Name]; dup {
		c.errorf(s.Pos, "userlist '%s' is declared twice", ul.Name)
	}
	c.userlists[ul.Name] = ul
}

func (c *compiler) userLine(ul *rules.Userlist, g *Generic, a []string) {
	if len(a) == 0 {
		c.errorf(g.Pos, "'user' expects a name")
		return
	}
	u := &rules.User{Name: a[0]}
	for i := 1; i < len(a); i++ {
		if i+1 >= len(a) {
			c.errorf(g.Args[i].Pos, "'%s' expects a value", a[i])
			return
		}
		switch a[i] {
		case "password":
			if err := rules.CheckCryptHash(a[i+1]); err != nil {
				c.errorf(g.Args[i+1].Pos, "user '%s': %v", u.Name, err)
				return
			}
			u.Hash = a[i+1]
		case "insecure-password":
			u.Plain = a[i+1]
		case "groups":
			for _, grp := range strings.Split(a[i+1], ",") {
				ul.Groups[grp] = append(ul.Groups[grp], u.Name)
			}
		default:
			c.errorf(g.Args[i].Pos, "unknown user option '%s' (expected password, insecure-password or groups)", a[i])
			return
		}
		i++
	}
	if ul.Users == nil {
		ul.Users = map[string]*rules.User{}
	}
	ul.Users[u.Name] = u
}
