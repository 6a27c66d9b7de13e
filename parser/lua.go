package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/lua"
	"gohap/runtime/rules"
)

// The global keywords of HAProxy's Lua integration.
var luaKeywords = []keyword{
	{name: "lua-load", where: secGlobal, apply: kwLuaLoad},
	// gohap's states are per call, never shared: per-thread loading is
	// what every lua-load gets.
	{name: "lua-load-per-thread", where: secGlobal, apply: kwLuaLoad},
	{name: "lua-prepend-path", where: secGlobal, apply: kwLuaPrependPath},
}

// lua returns the configuration's scripts, created on first use.
func (c *compiler) lua() *lua.Scripts {
	if c.scripts == nil {
		c.scripts = lua.New(c.cfg.Log)
		c.g.Extensions = append(c.g.Extensions, c.scripts)
	}
	return c.scripts
}

// kwLuaLoad is "lua-load FILE": the script runs now, and registers what
// the proxies below may use.
func kwLuaLoad(c *compiler, _ *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, g.Keyword.Raw, args, 1, 1) {
		return
	}
	name := c.path(g.Args[0].Pos, args[0])
	src, err := c.cfg.ReadFile(name)
	if err != nil {
		c.errorf(g.Args[0].Pos, "%s: %v", g.Keyword.Raw, err)
		return
	}
	s := c.lua()
	before := len(s.Warnings())
	if err := s.Load(name, src); err != nil {
		c.errorf(g.Pos, "%v", err)
		return
	}
	for _, w := range s.Warnings()[before:] {
		c.warnf(g.Pos, "%s", w)
	}
}

// kwLuaPrependPath is "lua-prepend-path PATH [path|cpath]".
func kwLuaPrependPath(c *compiler, _ *proxy, g *Generic, args []string) {
	if !c.wantArgs(g, "lua-prepend-path", args, 1, 2) {
		return
	}
	cpath := false
	if len(args) == 2 {
		switch args[1] {
		case "path":
		case "cpath":
			cpath = true
			c.warnf(g.Args[1].Pos, "'lua-prepend-path ... cpath': gohap's Lua cannot load C modules")
		default:
			c.errorf(g.Args[1].Pos, "'lua-prepend-path': unknown path type '%s', expected 'path' or 'cpath'", args[1])
			return
		}
	}
	c.lua().PrependPath(args[0], cpath)
}

// luaName reports whether name is "lua.X" and returns X.
func luaName(name string) (string, bool) {
	return strings.CutPrefix(name, "lua.")
}

// luaUnknown words the error of a name the scripts did not register.
func (c *compiler) luaUnknown(err error) string {
	var u *lua.UnknownError
	if !errors.As(err, &u) || c.scripts == nil {
		return err.Error()
	}
	return err.Error() + suggestion("lua."+u.Name, c.scripts.Names(u.Kind))
}

// luaAction compiles "lua.NAME ARGS" in a rule set: args are the words
// after the action name, which must be exactly as many as the script
// declared.
func (c *compiler) luaAction(p *proxy, pos lexer.Position, kind, name string, hook lua.Hook, args []string) rules.Action {
	if c.scripts == nil {
		c.errorf(pos, "'%s %s': no Lua script is loaded (lua-load)", kind, name)
		return nil
	}
	short, _ := luaName(name)
	act, err := c.scripts.NewAction(short, hook, args, p.set.errors)
	if err != nil {
		c.errorf(pos, "'%s %s': %s", kind, name, c.luaUnknown(err))
		return nil
	}
	return act
}

// useService compiles "use-service NAME": a built-in service
// (prometheus-exporter, HTTP only) or a Lua service registered for the
// mode of the rule set (http for http-request, tcp for tcp-request
// content).
func (c *compiler) useService(p *proxy, pos lexer.Position, kind string, args []string, http bool) rules.Action {
	if len(args) != 1 {
		c.errorf(pos, "'%s use-service' expects a service name", kind)
		return nil
	}
	if rules.BuiltinServices[args[0]] {
		if !http {
			c.errorf(pos, "'%s use-service': '%s' is a service for mode http, not tcp", kind, args[0])
			return nil
		}
		return rules.ServiceAction{Service: rules.BuiltinService{Name: args[0]}}
	}
	short, isLua := luaName(args[0])
	if !isLua || c.scripts == nil {
		c.errorf(pos, "'%s use-service': unknown service '%s'", kind, args[0])
		return nil
	}
	svc, err := c.scripts.NewService(short)
	if err != nil {
		c.errorf(pos, "'%s use-service': %s", kind, c.luaUnknown(err))
		return nil
	}
	if svc.HTTP != http {
		mode := map[bool]string{true: "http", false: "tcp"}
		c.errorf(pos, "'%s use-service': '%s' is a service for mode %s, not %s", kind, args[0], mode[svc.HTTP], mode[http])
		return nil
	}
	return rules.ServiceAction{Service: svc}
}

// luaFetch compiles the sample fetch "lua.NAME(args)": a string.
func (c *compiler) luaFetch(pos lexer.Position, name string, args []string, where string) *compiledFetch {
	short, _ := luaName(name)
	if c.scripts == nil {
		c.errorf(pos, "unknown fetch method '%s' %s (no Lua script is loaded)", name, where)
		return nil
	}
	f, err := c.scripts.NewFetch(short, args)
	if err != nil {
		c.errorf(pos, "unknown fetch method '%s' %s%s", name, where, suggestion(name, c.scripts.Names(lua.KindFetch)))
		return nil
	}
	def := &rules.Fetch{Name: name, MaxArgs: len(args), Out: rules.TypeStr}
	return &compiledFetch{def: def, fetch: f, out: rules.TypeStr}
}

// luaConv compiles the converter "lua.NAME(args)".
func (c *compiler) luaConv(name string, args []string) (rules.Converter, error) {
	short, _ := luaName(name)
	if c.scripts == nil {
		return nil, fmt.Errorf("unknown converter '%s' (no Lua script is loaded)", name)
	}
	cv, err := c.scripts.NewConv(short, args)
	if err != nil {
		return nil, fmt.Errorf("unknown converter '%s'%s", name, suggestion(name, c.scripts.Names(lua.KindConv)))
	}
	return cv, nil
}

// finishLua gives the scripts the names their fetches may look up at run
// time: a read-only view of the compiled configuration.
func (c *compiler) finishLua() {
	if c.scripts == nil {
		return
	}
	r := frozenResolver{backends: map[string]*rules.Backend{}, vars: &c.g.VarTable, userlists: map[string]*rules.Userlist{}, tables: map[string]*rules.StickTable{}, env: c.env}
	for n, b := range c.backends {
		r.backends[n] = b
	}
	for n, d := range c.tables {
		r.tables[n] = d.t
	}
	for n, u := range c.userlists {
		r.userlists[n] = u
	}
	c.scripts.Freeze(c.g, r)
}

// frozenResolver resolves what the configuration declared, and nothing
// more: a fetch built at run time may not add a variable.
type frozenResolver struct {
	backends  map[string]*rules.Backend
	vars      *rules.VarTable // the graph's, frozen with it
	userlists map[string]*rules.Userlist
	tables    map[string]*rules.StickTable
	env       *Environ
}

func (r frozenResolver) Env(name string) (string, bool) { return r.env.Lookup(name) }

func (r frozenResolver) Backend(name string) (*rules.Backend, error) {
	if b, ok := r.backends[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no such backend '%s'", name)
}

func (r frozenResolver) Var(scope rules.Scope, name string) (rules.VarRef, error) {
	if v, ok := r.vars.Lookup(scope, name); ok {
		return v, nil
	}
	return rules.VarRef{}, fmt.Errorf("variable '%s.%s' is not used by the configuration", scope, name)
}

func (r frozenResolver) Userlist(name string) (*rules.Userlist, error) {
	if u, ok := r.userlists[name]; ok {
		return u, nil
	}
	return nil, fmt.Errorf("no such userlist '%s'", name)
}

func (r frozenResolver) Table(name string) (*rules.StickTable, error) {
	if t, ok := r.tables[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unable to find table '%s'", name)
}

func (frozenResolver) CurrentBackend() *rules.Backend { return nil }
