package parser

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Environ is the environment a configuration is read with: the one of
// Options.Env, changed by the global keywords setenv, presetenv, resetenv
// and unsetenv in the order of the lines. HAProxy changes its process
// environment while it reads; gohap keeps the changes here instead, so
// reading a configuration (a check, a reload that fails) changes no
// process state. An Environ is never modified once made, so every line
// keeps the one in effect when it was read. The zero value is empty.
type Environ struct {
	base func(string) (string, bool) // nil: nothing
	// over holds the variables set or unset since base; a name missing
	// here is looked up in base unless cleared.
	over    map[string]envValue
	cleared bool // resetenv: base is hidden
}

type envValue struct {
	v  string
	ok bool
}

// newEnviron returns the environment of lookup, unchanged.
func newEnviron(lookup func(string) (string, bool)) *Environ {
	return &Environ{base: lookup}
}

// Lookup returns the value of name and reports whether it is set.
func (e *Environ) Lookup(name string) (string, bool) {
	if x, ok := e.over[name]; ok {
		return x.v, x.ok
	}
	if e.cleared || e.base == nil {
		return "", false
	}
	return e.base(name)
}

// with returns a copy of e with the variables of vals (unset where ok is
// false), over a hidden base when clear is set.
func (e *Environ) with(vals map[string]envValue, clear bool) *Environ {
	n := &Environ{base: e.base, cleared: e.cleared || clear, over: make(map[string]envValue, len(e.over)+len(vals))}
	if !clear {
		for k, v := range e.over {
			n.over[k] = v
		}
	}
	for k, v := range vals {
		n.over[k] = v
	}
	return n
}

// envKeywords are the global keywords that change the environment.
var envKeywords = map[string]bool{"setenv": true, "presetenv": true, "resetenv": true, "unsetenv": true}

// applyEnvKeyword returns e changed by keyword kw with its unquoted
// arguments, or an error saying why the line is wrong, worded as
// haproxy's. Extra words after setenv's value are ignored, as haproxy
// ignores them.
func applyEnvKeyword(e *Environ, kw string, args []string) (*Environ, error) {
	switch kw {
	case "setenv", "presetenv":
		if len(args) < 2 {
			return e, fmt.Errorf("'%s' expects a name and a value", kw)
		}
		if args[0] == "" || strings.ContainsRune(args[0], '=') {
			return e, fmt.Errorf("'%s' failed on variable '%s': invalid argument", kw, args[0])
		}
		if _, set := e.Lookup(args[0]); set && kw == "presetenv" {
			return e, nil
		}
		return e.with(map[string]envValue{args[0]: {args[1], true}}, false), nil
	case "unsetenv":
		if len(args) == 0 {
			return e, fmt.Errorf("'unsetenv' expects at least one variable name")
		}
		vals := make(map[string]envValue, len(args))
		for _, n := range args {
			vals[n] = envValue{}
		}
		return e.with(vals, false), nil
	}
	// resetenv [NAME...]: only the names listed stay.
	vals := make(map[string]envValue, len(args))
	for _, n := range args {
		if v, ok := e.Lookup(n); ok {
			vals[n] = envValue{v, true}
		}
	}
	return e.with(vals, true), nil
}

// envMark says that from byte offset on, a file is read with env.
type envMark struct {
	offset int
	env    *Environ
}

// envTimeline is the environment of each part of a file: marks sorted by
// offset, the first at offset 0.
type envTimeline []envMark

// at returns the environment in effect at pos.
func (t envTimeline) at(pos lexer.Position) *Environ {
	i := sort.Search(len(t), func(i int) bool { return t[i].offset > pos.Offset })
	if i == 0 {
		return nil
	}
	return t[i-1].env
}

// last returns the environment at the end of the file.
func (t envTimeline) last() *Environ {
	if len(t) == 0 {
		return nil
	}
	return t[len(t)-1].env
}

// envLine applies a global env keyword line to env while the file is
// read, so that later lines and .if conditions see the change. A line
// with an error changes nothing; the compile step reports it.
func envLine(env *Environ, words []rawWord) *Environ {
	args := make([]string, 0, len(words)-1)
	for _, w := range words[1:] {
		v, err := unquote(w.text, env.Lookup)
		if err != nil {
			return env
		}
		args = append(args, v)
	}
	next, err := applyEnvKeyword(env, words[0].text, args)
	if err != nil {
		return env
	}
	return next
}
