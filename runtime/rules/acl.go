package rules

// Expr is one ACL expression: a fetch, its converters and a matcher. It is
// true when any sample the fetch yields matches. Build it with NewExpr.
type Expr struct {
	Fetch Fetcher
	Convs []Converter
	Match Matcher
	// varEq is set when the expression only compares a runtime variable
	// with exact strings: the maintenance-mode check, run on every
	// request, then skips the generic sample path.
	varEq *varEqual
}

// NewExpr builds an expression and picks its fast path.
func NewExpr(f Fetcher, convs []Converter, m Matcher) *Expr {
	e := &Expr{Fetch: f, Convs: convs, Match: m}
	fv, isVar := f.(fetchVar)
	ms, isStr := m.(*matchStr)
	if isVar && fv.v.Scope == ScopeProc && !fv.hasDef && isStr && len(convs) == 0 && ms.kind == MatchStr && !ms.icase && ms.set == nil {
		e.varEq = &varEqual{slot: fv.v.Index, pats: ms.pats}
	}
	return e
}

// varEqual compares a variable with exact values.
type varEqual struct {
	slot int
	pats [][]byte
}

func (v *varEqual) eval(t *Txn) bool {
	for _, p := range v.pats {
		if len(p) > 0 && t.Vars.Equal(v.slot, p) {
			return true
		}
	}
	return false
}

// Eval reports whether the expression matches for t.
func (e *Expr) Eval(t *Txn) bool {
	if e.varEq != nil {
		return e.varEq.eval(t)
	}
	s := &t.smp
	*s = Sample{}
	for {
		if !e.Fetch.Fetch(t, s) {
			return false
		}
		ok := true
		for _, c := range e.Convs {
			if !c.Convert(t, s) {
				ok = false
				break
			}
		}
		if ok && e.Match.Match(t, s) {
			return true
		}
		if !s.More {
			return false
		}
	}
}

// ACL is a named ACL: all "acl" lines of one name in a proxy, ORed.
type ACL struct {
	Name  string
	Pos   string // where it was first declared
	Exprs []*Expr
}

// Eval reports whether any of the ACL's expressions matches.
func (a *ACL) Eval(t *Txn) bool {
	for _, e := range a.Exprs {
		if e.Eval(t) {
			return true
		}
	}
	return false
}

// Term is one ACL in a condition, possibly negated with "!".
type Term struct {
	Neg bool
	ACL *ACL
}

// Cond is an "if" or "unless" condition: an OR of AND-groups of terms.
// Build it with NewCond.
type Cond struct {
	Pos    string
	Unless bool
	Or     [][]Term
	// single is the only term of a one-term condition ("if
	// maintenance_mode"), evaluated without the loops.
	single *Term
}

// NewCond builds a condition and picks its fast path.
func NewCond(pos string, unless bool, or [][]Term) *Cond {
	c := &Cond{Pos: pos, Unless: unless, Or: or}
	if len(or) == 1 && len(or[0]) == 1 {
		c.single = &or[0][0]
	}
	return c
}

// Eval reports whether the condition holds for t; a nil Cond always holds.
func (c *Cond) Eval(t *Txn) bool {
	if c == nil {
		return true
	}
	if c.single != nil {
		return (c.single.ACL.Eval(t) != c.single.Neg) != c.Unless
	}
	r := false
	for _, and := range c.Or {
		ok := true
		for _, term := range and {
			if term.ACL.Eval(t) == term.Neg {
				ok = false
				break
			}
		}
		if ok {
			r = true
			break
		}
	}
	return r != c.Unless
}
