package rules

import (
	"fmt"
	"strings"
)

var varFetches = []Fetch{
	{Name: "var", MinArgs: 1, MaxArgs: 2, Out: TypeStr, NeedsMatch: true, New: newVar},
}

var varConvs = []Conv{
	{Name: "set-var", MinArgs: 1, MaxArgs: 5, SameType: true, New: newConvSetVar},
	{Name: "unset-var", MinArgs: 1, MaxArgs: 1, SameType: true, New: newConvUnsetVar},
}

func init() {
	registerFetches(varFetches)
	registerConvs(varConvs)
}

// ResolveVar checks a full variable name ("txn.host") and resolves it.
func ResolveVar(full string, r Resolver) (VarRef, error) {
	scope, name, err := ParseVarName(full)
	if err != nil {
		return VarRef{}, err
	}
	return r.Var(scope, name)
}

// fetchVar is var(NAME[,DEFAULT]): the variable's value with the type it
// was stored with, or DEFAULT as a string when it is not set. The place
// of the variable was resolved at compile time.
type fetchVar struct {
	v      VarRef
	def    []byte
	hasDef bool
}

func newVar(args []string, r Resolver) (Fetcher, error) {
	v, err := ResolveVar(strings.TrimSpace(args[0]), r)
	if err != nil {
		return nil, err
	}
	f := fetchVar{v: v}
	if len(args) > 1 {
		f.def, f.hasDef = []byte(args[1]), true
	}
	return f, nil
}

// VarFetch returns the fetch of variable v without a default: what
// var(NAME) compiles to, for gohap's "acl variable".
func VarFetch(v VarRef) Fetcher { return fetchVar{v: v} }

func (f fetchVar) Fetch(t *Txn, s *Sample) bool {
	if t.LoadVar(f.v, s) {
		return true
	}
	if f.hasDef {
		s.Type, s.Str = TypeStr, f.def
		return true
	}
	return false
}

// SampleExpr is a fetch and its converters, evaluated for its first
// value: what set-var stores and a log-format "%[...]" prints.
type SampleExpr struct {
	Fetch Fetcher
	Convs []Converter
}

// Eval fills s with the expression's value and reports whether there is
// one: the fetch found a sample and every converter took it.
func (e *SampleExpr) Eval(t *Txn, s *Sample) bool {
	if !e.Fetch.Fetch(t, s) {
		return false
	}
	for _, c := range e.Convs {
		if !c.Convert(t, s) {
			return false
		}
	}
	return true
}

// SetVarAction is "set-var(NAME[,COND...]) EXPR" and "set-var-fmt(NAME
// [,COND...]) FMT" of http-request, http-response and tcp-request rules.
// When the expression yields nothing the variable is left as it is; a
// format always yields a string, maybe empty.
type SetVarAction struct {
	Var   VarRef
	Conds VarConds
	Expr  SampleExpr // set-var
	Fmt   *Format    // set-var-fmt, when not nil
}

// Exec stores the value.
func (a *SetVarAction) Exec(t *Txn) Verdict {
	s := &t.smp
	if a.Fmt != nil {
		t.fmtBuf = a.Fmt.Append(t, t.fmtBuf[:0])
		*s = Sample{Type: TypeStr, Str: t.fmtBuf}
	} else if *s = (Sample{}); !a.Expr.Eval(t, s) {
		return Continue
	}
	t.SetVar(a.Var, a.Conds, s)
	return Continue
}

// UnsetVarAction is "unset-var(NAME)".
type UnsetVarAction struct{ Var VarRef }

// Exec removes the variable's value.
func (a UnsetVarAction) Exec(t *Txn) Verdict {
	t.UnsetVar(a.Var)
	return Continue
}

// convSetVar is the set-var(NAME[,COND...]) converter, which stores its
// input and passes it on (it fails when a condition does not hold), and
// unset-var(NAME), which removes the variable.
type convSetVar struct {
	v     VarRef
	conds VarConds
	unset bool
}

func newConvSetVar(args []string, r Resolver) (Converter, error) {
	v, err := ResolveVar(strings.TrimSpace(args[0]), r)
	if err != nil {
		return nil, err
	}
	conds, err := ParseVarConds(args[1:])
	if err != nil {
		return nil, fmt.Errorf("converter 'set-var': %v", err)
	}
	return convSetVar{v: v, conds: conds}, nil
}

func newConvUnsetVar(args []string, r Resolver) (Converter, error) {
	v, err := ResolveVar(strings.TrimSpace(args[0]), r)
	if err != nil {
		return nil, err
	}
	return convSetVar{v: v, unset: true}, nil
}

func (c convSetVar) Convert(t *Txn, s *Sample) bool {
	if c.unset {
		t.UnsetVar(c.v)
		return true
	}
	return t.SetVar(c.v, c.conds, s)
}
