package parser

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

var setVarKeywords = []keyword{
	{name: "set-var", where: secGlobal, apply: kwGlobalSetVar},
	{name: "set-var-fmt", where: secGlobal, apply: kwGlobalSetVar},
}

func init() { register(setVarKeywords) }

// startupFetches are the fetches a global set-var may use: they need no
// connection, request or server state, so they have a value at startup.
var startupFetches = map[string]bool{
	"str": true, "int": true, "bool": true, "env": true, "var": true,
	"always_true": true, "always_false": true,
}

// kwGlobalSetVar compiles "set-var proc.NAME EXPR" and "set-var-fmt
// proc.NAME FMT" of the global section into an initial value of a proc
// variable (see rules.Global.InitVars). As in haproxy, only the proc
// scope is allowed, and words after the expression are ignored.
func kwGlobalSetVar(c *compiler, _ *proxy, g *Generic, args []string) {
	kw := c.value(g.Keyword)
	what := "a sample expression"
	if kw == "set-var-fmt" {
		what = "a format string"
	}
	if len(args) < 2 {
		c.errorf(g.Pos, "'%s' requires a process-wide variable name ('proc.<name>') and %s", kw, what)
		return
	}
	pos := g.Args[1].Pos
	scope, _, err := rules.ParseVarName(args[0])
	if err == nil && scope != rules.ScopeProc {
		err = fmt.Errorf("cannot set variable '%s', only scope 'proc' is permitted in the global section", args[0])
	}
	var v rules.VarRef
	if err == nil {
		v, err = rules.ResolveVar(args[0], globalResolver{c})
	}
	if err != nil {
		c.errorf(g.Args[0].Pos, "'%s': %v", kw, err)
		return
	}
	if len(args) > 2 {
		c.warnf(g.Args[2].Pos, "'%s' ignores '%s' and the words after it, as haproxy does", kw, args[2])
	}
	c.lineEnv = c.envAt(g.Pos)
	defer func() { c.lineEnv = nil }()
	a := &rules.SetVarAction{Var: v, Conds: rules.IfNotSet}
	if kw == "set-var-fmt" {
		if a.Fmt = c.format(nil, pos, args[1]); a.Fmt == nil {
			return
		}
	} else {
		sf := c.sampleFetch(nil, pos, args[1], false)
		if sf == nil {
			return
		}
		a.Expr = rules.SampleExpr{Fetch: sf.fetch, Convs: sf.convs}
	}
	c.g.Global.InitVars = append(c.g.Global.InitVars, a)
}

// checkStartupFetch reports an error unless fetch name with args can be
// evaluated at startup, for a global set-var.
func (c *compiler) checkStartupFetch(pos lexer.Position, name string, args []string) bool {
	if !startupFetches[name] {
		c.errorf(pos, "fetch method '%s' needs a connection, a request or the servers' state, which a global set-var has not; use str, int, bool, env, var(proc.NAME) or always_true/always_false", name)
		return false
	}
	if name == "var" && len(args) > 0 && !strings.HasPrefix(strings.TrimSpace(args[0]), "proc.") {
		c.errorf(pos, "'var(%s)' has no value at startup: a global set-var can read only 'proc' variables", strings.TrimSpace(args[0]))
		return false
	}
	return true
}

// globalResolver resolves names for the expressions of the global
// section: there is no current backend, and env() reads the environment
// of the line, since haproxy evaluates a global set-var as it reads it.
type globalResolver struct{ *compiler }

func (globalResolver) CurrentBackend() *rules.Backend { return nil }

// Table implements rules.Resolver: the global section has no stick table
// and no traffic to track.
func (globalResolver) Table(name string) (*rules.StickTable, error) {
	return nil, fmt.Errorf("unable to find table '%s': the global section has no traffic", name)
}

func (r globalResolver) Env(name string) (string, bool) {
	if r.lineEnv != nil {
		return r.lineEnv.Lookup(name)
	}
	return r.compiler.Env(name)
}
