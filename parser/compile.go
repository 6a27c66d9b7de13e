package parser

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/lua"
	"gohap/runtime/rules"
)

// Config is what the compile step needs besides the parsed files.
type Config struct {
	Options
	// Var resolves a runtime variable name to its store slot. nil gives
	// each variable a slot number of its own, which is enough for a check.
	Var func(name string) (int, error)
	// ReadFile reads files a configuration names (errorfiles, pattern
	// files, Lua scripts); nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Log receives what Lua scripts log while they load (core.log in a
	// script's body); nil discards it.
	Log *log.Logger
}

// Result is a compiled configuration and what was said about it.
type Result struct {
	Graph    *rules.Graph
	Warnings []Warning
	Diags    []Diag
}

// Load reads and compiles configuration paths in order; a directory
// stands for its *.cfg files in lexical order, as with HAProxy's -f.
// It returns every error found, sorted by position.
func Load(paths []string, cfg Config) (*Result, error) {
	files, err := ExpandPaths(paths)
	if err != nil {
		return nil, err
	}
	return LoadFiles(files, cfg)
}

// LoadFiles is Load of configuration files that are not directories
// (ExpandPaths' result), read with cfg.ReadFile as the files they name.
func LoadFiles(files []string, cfg Config) (*Result, error) {
	readFile := cfg.ReadFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	var parsed []*Parsed
	var errs ErrorList
	opt := cfg.Options
	for _, name := range files {
		src, err := readFile(name)
		if err != nil {
			return nil, fmt.Errorf("cannot open configuration file %s: %w", name, err)
		}
		p, err := ParseFile(name, string(src), opt)
		if err != nil {
			if l, ok := err.(ErrorList); ok {
				errs = append(errs, l...)
				continue
			}
			return nil, err
		}
		parsed = append(parsed, p)
		// haproxy reads the files one after the other in one process:
		// setenv in a file is seen by the files after it.
		opt = opt.withEnv(p.Env())
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return Compile(parsed, cfg)
}

// ExpandPaths replaces each directory by its *.cfg files, sorted.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot open configuration file %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read configuration directory %s: %w", p, err)
		}
		var names []string
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".cfg") {
				names = append(names, filepath.Join(p, e.Name()))
			}
		}
		sort.Strings(names)
		out = append(out, names...)
	}
	return out, nil
}

// Compile turns parsed files into a checked rule graph. All errors are
// collected; the graph is returned only when there is none.
func Compile(files []*Parsed, cfg Config) (*Result, error) {
	c := &compiler{
		cfg:       cfg,
		g:         &rules.Graph{},
		backends:  map[string]*rules.Backend{},
		frontends: map[string]*rules.Frontend{},
		defaults:  map[string]*proxySettings{},
		errorSets: map[string]rules.ErrorSet{},
		userlists: map[string]*rules.Userlist{},
		resolvers: map[string]*rules.Resolvers{},
		tables:    map[string]*tableDecl{},
		cur:       newSettings(),
		envs:      map[string]envTimeline{},
		env:       newEnviron(cfg.lookup),
	}
	if c.cfg.ReadFile == nil {
		c.cfg.ReadFile = os.ReadFile
	}
	var diags []Diag
	for _, f := range files {
		c.addEnv(f)
		diags = append(diags, f.Diags...)
		if f.Truncated != nil {
			c.errs = append(c.errs, f.Truncated)
		}
		c.declare(f.File)
		c.declareResolvers(f.File)
	}
	for _, f := range files {
		c.declareTables(f.File)
	}
	for _, f := range files {
		for _, s := range f.File.Sections {
			c.section(s)
		}
	}
	c.finish()
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	return &Result{Graph: c.g, Warnings: c.warns, Diags: diags}, nil
}

// compiler holds the state of one compilation.
type compiler struct {
	cfg   Config
	g     *rules.Graph
	errs  ErrorList
	warns []Warning

	backends  map[string]*rules.Backend
	frontends map[string]*rules.Frontend
	// defaults are the named defaults sections; cur is the last one seen,
	// which proxies without "from" inherit.
	defaults map[string]*proxySettings
	cur      *proxySettings
	// errorSets are the http-errors sections; userlists the userlist
	// sections, by name.
	errorSets map[string]rules.ErrorSet
	userlists map[string]*rules.Userlist
	resolvers map[string]*rules.Resolvers
	// tables are the stick tables, by proxy name.
	tables  map[string]*tableDecl
	proxies []*proxy
	paths   pathRules
	// scripts are the Lua files of lua-load; nil until the first.
	scripts *lua.Scripts
	// envs are the environments the files were read with, by file name;
	// env is the one at the end of the last file, which env() reads at
	// run time.
	envs map[string]envTimeline
	env  *Environ
	// lineEnv is the environment of the global set-var being compiled,
	// which its env() reads; nil otherwise.
	lineEnv *Environ
}

// addEnv records the environments file f was read with. A file named
// twice keeps the first reading's.
func (c *compiler) addEnv(f *Parsed) {
	if len(f.env) == 0 {
		return
	}
	c.env = f.env.last()
	if _, dup := c.envs[f.name]; !dup {
		c.envs[f.name] = f.env
	}
}

// envAt returns the environment the word at pos was read with.
func (c *compiler) envAt(pos lexer.Position) *Environ {
	if env := c.envs[pos.Filename].at(pos); env != nil {
		return env
	}
	return newEnviron(c.cfg.lookup)
}

func (c *compiler) errorf(pos lexer.Position, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(pos lexer.Position, format string, args ...any) {
	c.warns = append(c.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// value unquotes a word, reporting an error at the word.
func (c *compiler) value(w *Word) string {
	if w == nil {
		return ""
	}
	v, err := w.Value(c.envAt(w.Pos).Lookup)
	if err != nil {
		c.errorf(w.Pos, "%v", err)
	}
	return v
}

func (c *compiler) values(ws []*Word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = c.value(w)
	}
	return out
}

func posString(p lexer.Position) string { return fmt.Sprintf("%s:%d", p.Filename, p.Line) }

// declare creates the backends first, so that rules can name a backend
// defined further down, as HAProxy allows.
func (c *compiler) declare(f *File) {
	for _, s := range f.Sections {
		if s.Kind != "backend" && s.Kind != "listen" {
			continue
		}
		if len(s.Args) == 0 {
			continue // reported by section()
		}
		name := c.value(s.Args[0])
		if prev, dup := c.backends[name]; dup {
			c.errorf(s.Pos, "%s '%s' has the same name as another backend declared at %s", s.Kind, name, prev.Pos)
			continue
		}
		be := &rules.Backend{Name: name, Pos: posString(s.Pos), Index: len(c.g.Backends), Retries: 3}
		c.backends[name] = be
		c.g.Backends = append(c.g.Backends, be)
	}
}

// Backend implements rules.Resolver.
func (c *compiler) Backend(name string) (*rules.Backend, error) {
	if be, ok := c.backends[name]; ok {
		return be, nil
	}
	names := make([]string, 0, len(c.backends))
	for n := range c.backends {
		names = append(names, n)
	}
	if s := suggest(name, names); s != "" {
		return nil, fmt.Errorf("no such backend '%s' (did you mean '%s'?)", name, s)
	}
	return nil, fmt.Errorf("no such backend '%s'", name)
}

// Userlist implements rules.Resolver.
func (c *compiler) Userlist(name string) (*rules.Userlist, error) {
	if l, ok := c.userlists[name]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no such userlist '%s' (it must be declared before use)", name)
}

// Var implements rules.Resolver: a proc variable gets its slot in the
// shared-memory store, the others the next place of their scope.
func (c *compiler) Var(scope rules.Scope, name string) (rules.VarRef, error) {
	vt := &c.g.VarTable
	if v, ok := vt.Lookup(scope, name); ok {
		return v, nil
	}
	if scope != rules.ScopeProc {
		return rules.VarRef{Scope: scope, Index: vt.Add(scope, name, vt.Len(scope))}, nil
	}
	if err := validVariable(name); err != nil {
		return rules.VarRef{}, err
	}
	slot := vt.Len(rules.ScopeProc)
	if c.cfg.Var != nil {
		var err error
		if slot, err = c.cfg.Var(name); err != nil {
			return rules.VarRef{}, fmt.Errorf("variable '%s': %v", name, err)
		}
	}
	vt.Add(rules.ScopeProc, name, slot)
	c.g.Vars = append(c.g.Vars, rules.Var{Name: name, Slot: slot})
	return rules.VarRef{Scope: rules.ScopeProc, Index: slot}, nil
}

// validVariable checks a runtime variable name with the store's rules.
func validVariable(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("invalid variable name '%s': 1 to 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(isAlpha(ch) || isDigit(ch) || ch == '_' || ch == '.' || ch == '-') {
			return fmt.Errorf("invalid variable name '%s': only letters, digits, '_', '.' and '-'", name)
		}
	}
	return nil
}

// finish runs the checks that need the whole configuration.
func (c *compiler) finish() {
	listeners := 0
	for _, p := range c.proxies {
		if p.fe == nil {
			continue
		}
		listeners += len(p.fe.Binds)
		check := func(be *rules.Backend, pos lexer.Position) {
			// A tcp frontend may use an http backend: the connection is
			// upgraded to HTTP then.
			if be != nil && be.Mode != p.fe.Mode && p.fe.Mode == rules.ModeHTTP {
				c.errorf(pos, "%s '%s' cannot use backend '%s': its mode is %s, the frontend's is %s", p.kind, p.name, be.Name, be.Mode, p.fe.Mode)
			}
		}
		check(p.fe.DefaultBackend, p.pos)
		for _, sw := range p.fe.Switching {
			check(sw.Backend, p.pos)
		}
	}
	if len(c.proxies) > 0 && listeners == 0 {
		c.warnf(lexer.Position{Filename: "config", Line: 0}, "configuration defines no listener")
	}
	c.finishLua()
}
