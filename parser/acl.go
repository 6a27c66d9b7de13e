package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// builtinACLs are the ACLs HAProxy predefines, as the expression each
// stands for.
var builtinACLs = map[string][]string{
	"TRUE":           {"always_true"},
	"FALSE":          {"always_false"},
	"LOCALHOST":      {"src", "127.0.0.1/8", "::1"},
	"HTTP":           {"always_true"},
	"HTTP_1.0":       {"req.ver", "1.0"},
	"HTTP_1.1":       {"req.ver", "1.1"},
	"HTTP_URL_ABS":   {"url_reg", "^[^/:]*://"},
	"HTTP_URL_SLASH": {"url_beg", "/"},
	"HTTP_URL_STAR":  {"url", "*"},
	"METH_CONNECT":   {"method", "CONNECT"},
	"METH_DELETE":    {"method", "DELETE"},
	"METH_GET":       {"method", "GET", "HEAD"},
	"METH_HEAD":      {"method", "HEAD"},
	"METH_OPTIONS":   {"method", "OPTIONS"},
	"METH_POST":      {"method", "POST"},
	"METH_PUT":       {"method", "PUT"},
	"METH_TRACE":     {"method", "TRACE"},
}

// aclStmt compiles "acl NAME EXPR" and "acl variable NAME VALUES".
func (c *compiler) aclStmt(p *proxy, st *ACLStmt) {
	if st.Var != nil {
		c.aclVariable(p, st.Var)
		return
	}
	name := c.value(st.Name)
	if !validACLName(name) {
		c.errorf(st.Name.Pos, "invalid ACL name '%s': only letters, digits, '-', '_', '.' and ':' are allowed", name)
		return
	}
	e := c.expr(p, st.Expr)
	if e == nil {
		return
	}
	c.addACL(p, name, st.Pos, e)
}

func (c *compiler) addACL(p *proxy, name string, pos lexer.Position, e *rules.Expr) {
	if a, ok := p.acls[name]; ok {
		a.Exprs = append(a.Exprs, e)
		return
	}
	p.acls[name] = &rules.ACL{Name: name, Pos: posString(pos), Exprs: []*rules.Expr{e}}
}

func validACLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(isAlpha(ch) || isDigit(ch) || strings.IndexByte("-_.:", ch) >= 0) {
			return false
		}
	}
	return true
}

// aclVariable compiles gohap's "acl variable NAME [VALUE...]": the runtime
// variable NAME, and an ACL NAME true while the variable equals one of the
// values ("true" when none is given).
func (c *compiler) aclVariable(p *proxy, v *VarDecl) {
	name := c.value(v.Name)
	values := c.values(v.Values)
	if len(values) == 0 {
		values = []string{"true"}
	}
	ref, err := c.Var(rules.ScopeProc, name)
	if err != nil {
		c.errorf(v.Name.Pos, "acl variable: %v", err)
		return
	}
	m, err := rules.NewMatcher(rules.MatchStr, values, false)
	if err != nil {
		c.errorf(v.Pos, "acl variable: %v", err)
		return
	}
	c.addACL(p, name, v.Pos, rules.NewExpr(rules.VarFetch(ref), nil, m))
}

// resolver is the rules.Resolver for proxy p.
// A nil p is the global section.
func (c *compiler) resolver(p *proxy) rules.Resolver {
	if p == nil {
		return globalResolver{c}
	}
	return proxyResolver{c, p}
}

type proxyResolver struct {
	*compiler
	p *proxy
}

func (r proxyResolver) CurrentBackend() *rules.Backend { return r.p.be }

// Env implements rules.Resolver: env() runs after the whole
// configuration was read, so it sees the environment at its end.
func (c *compiler) Env(name string) (string, bool) { return c.env.Lookup(name) }

// splitCall splits "name(a,b)" into name and args; ok is false when the
// parentheses do not close at the end.
func splitCall(s string) (name string, args []string, ok bool) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return s, nil, true
	}
	if !strings.HasSuffix(s, ")") {
		return s, nil, false
	}
	inner := s[i+1 : len(s)-1]
	if inner != "" {
		args = strings.Split(inner, ",")
	}
	return s[:i], args, true
}

// splitConverters cuts "fetch(args),conv1,conv2(args)" at the top-level commas.
func splitConverters(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// compiledFetch is a sample fetch compiled from its text.
type compiledFetch struct {
	def      *rules.Fetch
	fetch    rules.Fetcher
	convs    []rules.Converter
	out      rules.Type      // the output type after the converters
	typed    bool            // a converter fixed the output type
	kind     rules.MatchKind // the ACL keyword's match method, if haveKind
	haveKind bool
}

// sampleFetch compiles "name(args)" and its converters: a fetch, or with
// acl set also an ACL keyword such as path_beg; "lua.NAME" fetches and
// converters are the Lua scripts'.
func (c *compiler) sampleFetch(p *proxy, pos lexer.Position, text string, acl bool) *compiledFetch {
	parts := splitConverters(text)
	name, args, ok := splitCall(parts[0])
	if !ok {
		c.errorf(pos, "missing ')' in '%s'", parts[0])
		return nil
	}
	where := "in ACL expression"
	if !acl {
		where = "in sample expression"
	}
	var out *compiledFetch
	if p == nil && !c.checkStartupFetch(pos, name, args) {
		return nil
	}
	if _, isLua := luaName(name); isLua {
		if out = c.luaFetch(pos, name, args, where); out == nil {
			return nil
		}
	} else if out = c.builtinFetch(p, pos, name, args, acl, where); out == nil {
		return nil
	}
	for _, part := range parts[1:] {
		cname, cargs, ok := splitCall(part)
		if !ok {
			c.errorf(pos, "converter '%s' is not supported", part)
			return nil
		}
		if _, isLua := luaName(cname); isLua {
			conv, err := c.luaConv(cname, cargs)
			if err != nil {
				c.errorf(pos, "%v", err)
				return nil
			}
			out.convs = append(out.convs, conv)
			out.out, out.typed = rules.TypeStr, true
			continue
		}
		cv, found := rules.LookupConv(cname)
		if !found {
			c.errorf(pos, "converter '%s' is not supported", part)
			return nil
		}
		conv, err := rules.NewConv(cv, cargs, c.resolver(p))
		if err != nil {
			c.errorf(pos, "%v", err)
			return nil
		}
		out.convs = append(out.convs, conv)
		if !cv.SameType {
			out.out, out.typed = cv.Out, true
		}
	}
	return out
}

// builtinFetch compiles a fetch of gohap's table, or with acl set an ACL
// keyword such as path_beg.
func (c *compiler) builtinFetch(p *proxy, pos lexer.Position, name string, args []string, acl bool, where string) *compiledFetch {
	out := &compiledFetch{}
	f, found := rules.LookupFetch(name)
	if !found {
		alias, isAlias := rules.LookupACLAlias(name)
		if !isAlias || !acl {
			c.errorf(pos, "unknown fetch method '%s' %s%s", name, where, suggestion(name, rules.FetchNames()))
			return nil
		}
		f, _ = rules.LookupFetch(alias.Fetch)
		out.kind, out.haveKind = alias.Match, true
	}
	newFetch := rules.NewSampleFetch
	if acl {
		newFetch = rules.NewFetch
	}
	fetch, err := newFetch(f, args, c.resolver(p))
	if err != nil {
		c.errorf(pos, "%v", err)
		return nil
	}
	out.def, out.fetch, out.out = f, fetch, f.Out
	return out
}

// expr compiles an ACL expression: fetch, converters, flags, patterns.
func (c *compiler) expr(p *proxy, e *Expr) *rules.Expr {
	text := c.value(e.Fetch)
	sf := c.sampleFetch(p, e.Fetch.Pos, text, true)
	if sf == nil {
		return nil
	}
	f, fetch, kind, haveKind := sf.def, sf.fetch, sf.kind, sf.haveKind
	if sf.typed && !haveKind {
		kind, haveKind = rules.DefaultMatch(&rules.Fetch{Out: sf.out}), true
	}
	words := c.values(e.Args)
	icase := false
	var patterns []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(patterns) > 0 || !strings.HasPrefix(w, "-") {
			patterns = append(patterns, w)
			continue
		}
		switch w {
		case "-i":
			icase = true
		case "-n", "-u":
		case "--":
			patterns = append(patterns, words[i+1:]...)
			i = len(words)
		case "-m", "-f", "-M":
			if i+1 >= len(words) {
				c.errorf(e.Args[i].Pos, "'%s' expects an argument", w)
				return nil
			}
			i++
			switch w {
			case "-m":
				k, ok := rules.ParseMatchKind(words[i])
				if !ok {
					c.errorf(e.Args[i].Pos, "unknown match method '%s'", words[i])
					return nil
				}
				kind, haveKind = k, true
			case "-f":
				pats, err := c.patternFile(c.path(e.Args[i].Pos, words[i]))
				if err != nil {
					c.errorf(e.Args[i].Pos, "%v", err)
					return nil
				}
				patterns = append(patterns, pats...)
				// Patterns from a file may be followed by more flags.
				pats = nil
				_ = pats
			case "-M":
				c.errorf(e.Args[i-1].Pos, "ACL flag '-M' (map files) is not supported")
				return nil
			}
		default:
			c.errorf(e.Args[i].Pos, "unknown ACL flag '%s'", w)
			return nil
		}
	}
	if !haveKind && f.NeedsMatch && !sf.typed {
		c.errorf(e.Fetch.Pos, "ACL on '%s' needs a match method ('-m str', '-m int', ...): its type is known only at run time", f.Name)
		return nil
	}
	if !haveKind {
		kind = rules.DefaultMatch(f)
	}
	if len(patterns) == 0 && kind >= rules.MatchLen {
		c.warnf(e.Pos, "ACL '%s' has no pattern and will never match (use '-m found' to test presence)", text)
	}
	m, err := rules.NewMatcher(kind, patterns, icase)
	if err != nil {
		pos := e.Pos
		if i := len(e.Args) - len(patterns); i >= 0 && i < len(e.Args) {
			pos = e.Args[i].Pos
		}
		c.errorf(pos, "%v", err)
		return nil
	}
	return rules.NewExpr(fetch, sf.convs, m)
}

// patternFile reads ACL patterns from a file: one a line, blank lines and
// '#' comments skipped.
func (c *compiler) patternFile(name string) ([]string, error) {
	b, err := c.cfg.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// namedACL finds an ACL by name in p, or a predefined one.
func (c *compiler) namedACL(p *proxy, w *Word, name string) *rules.ACL {
	if a, ok := p.acls[name]; ok {
		return a
	}
	if def, ok := builtinACLs[name]; ok {
		var kind rules.MatchKind
		f, isFetch := rules.LookupFetch(def[0])
		if isFetch {
			kind = rules.DefaultMatch(f)
		} else {
			alias, _ := rules.LookupACLAlias(def[0])
			f, _ = rules.LookupFetch(alias.Fetch)
			kind = alias.Match
		}
		fetch, _ := rules.NewFetch(f, nil, c.resolver(p))
		m, err := rules.NewMatcher(kind, def[1:], false)
		if err != nil {
			c.errorf(w.Pos, "predefined ACL '%s': %v", name, err)
			return nil
		}
		a := &rules.ACL{Name: name, Exprs: []*rules.Expr{rules.NewExpr(fetch, nil, m)}}
		p.acls[name] = a
		return a
	}
	names := make([]string, 0, len(p.acls))
	for n := range p.acls {
		names = append(names, n)
	}
	c.errorf(w.Pos, "no such ACL '%s'%s", name, suggestion(name, names))
	return nil
}
