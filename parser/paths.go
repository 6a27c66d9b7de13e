package parser

import (
	"path/filepath"

	"github.com/alecthomas/participle/v2/lexer"
)

// pathRules are the global settings that decide where relative file
// names point: "default-path", "crt-base" and "ca-base".
type pathRules struct {
	mode    string // "current" (default), "config", "parent" or "origin"
	origin  string
	crtBase string
	caBase  string
}

// path resolves a file name written at pos, as haproxy does with its
// default-path setting.
func (c *compiler) path(pos lexer.Position, name string) string {
	if filepath.IsAbs(name) || name == "" {
		return name
	}
	switch c.paths.mode {
	case "config":
		return filepath.Join(filepath.Dir(pos.Filename), name)
	case "parent":
		return filepath.Join(filepath.Dir(filepath.Dir(pos.Filename)), name)
	case "origin":
		return filepath.Join(c.paths.origin, name)
	}
	return name
}

// basePath applies crt-base or ca-base to a relative name, then
// default-path.
func (c *compiler) basePath(pos lexer.Position, base, name string) string {
	if !filepath.IsAbs(name) && base != "" {
		name = filepath.Join(base, name)
	}
	return c.path(pos, name)
}

func kwDefaultPath(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'default-path' expects current, config, parent or origin PATH")
		return
	}
	switch args[0] {
	case "current", "config", "parent":
		if len(args) != 1 {
			c.errorf(g.Args[1].Pos, "'default-path %s' takes no argument", args[0])
			return
		}
	case "origin":
		if len(args) != 2 {
			c.errorf(g.Pos, "'default-path origin' expects a path")
			return
		}
		c.paths.origin = args[1]
	default:
		c.errorf(g.Args[0].Pos, "'default-path' expects current, config, parent or origin, got '%s'", args[0])
		return
	}
	c.paths.mode = args[0]
}

func kwCrtBase(c *compiler, p *proxy, g *Generic, args []string) {
	if c.wantArgs(g, "crt-base", args, 1, 1) {
		c.paths.crtBase = args[0]
	}
}

func kwCABase(c *compiler, p *proxy, g *Generic, args []string) {
	if c.wantArgs(g, "ca-base", args, 1, 1) {
		c.paths.caBase = args[0]
	}
}
