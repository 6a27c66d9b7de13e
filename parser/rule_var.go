package parser

import (
	"strings"

	"gohap/runtime/rules"
)

// ruleSet is where a rule with a variable action runs, for the scopes it
// can reach.
type ruleSet uint8

const (
	inTCPConnection ruleSet = iota // tcp-request connection: no stream yet
	inTCPSession                   // tcp-request session: no stream yet
	inRequest                      // tcp-request content, http-request
	inResponse                     // http-response
)

// isVarAction reports whether action is one of set-var(...),
// set-var-fmt(...) and unset-var(...).
func isVarAction(action string) bool {
	return strings.HasPrefix(action, "set-var(") || strings.HasPrefix(action, "set-var-fmt(") || strings.HasPrefix(action, "unset-var(")
}

// varAction compiles "set-var(NAME[,COND...]) EXPR", "set-var-fmt(NAME
// [,COND...]) FMT" and "unset-var(NAME)" of rule r; args are r's words
// unquoted, the action at index at. A variable the rule set can never
// reach is accepted, as haproxy accepts it, with a warning: the rule does
// nothing.
func (c *compiler) varAction(p *proxy, r *RuleStmt, args []string, at int, where ruleSet) rules.Action {
	kind := r.Kind + " " + strings.Join(args[:at+1], " ")
	pos := r.Args[at].Pos
	name, inner, ok := splitCall(args[at])
	if !ok || len(inner) == 0 {
		c.errorf(pos, "'%s' expects '%s(SCOPE.NAME)'", kind, name)
		return nil
	}
	v, err := rules.ResolveVar(strings.TrimSpace(inner[0]), c.resolver(p))
	if err != nil {
		c.errorf(pos, "'%s': %v", kind, err)
		return nil
	}
	conds, err := rules.ParseVarConds(inner[1:])
	if err == nil && name == "unset-var" && len(inner) > 1 {
		err = errorString("unset-var takes no condition")
	}
	if err != nil {
		c.errorf(pos, "'%s': %v", kind, err)
		return nil
	}
	c.warnUnreachableVar(r, kind, v.Scope, where)
	rest := args[at+1:]
	words := 1 // the expression or the format
	if name == "unset-var" {
		words = 0
	}
	if len(rest) > words {
		c.errorf(r.Args[at+1+words].Pos, "'%s' expects 'if' or 'unless' and a condition, not '%s'", kind, rest[words])
		return nil
	}
	switch name {
	case "unset-var":
		return rules.UnsetVarAction{Var: v}
	case "set-var-fmt":
		text := ""
		if len(rest) == 1 {
			text, pos = rest[0], r.Args[at+1].Pos
		}
		f := c.format(p, pos, text)
		if f == nil {
			return nil
		}
		return &rules.SetVarAction{Var: v, Conds: conds, Fmt: f}
	}
	if len(rest) == 0 {
		c.errorf(pos, "'%s' expects a sample expression", kind)
		return nil
	}
	sf := c.sampleFetch(p, r.Args[at+1].Pos, rest[0], false)
	if sf == nil {
		return nil
	}
	return &rules.SetVarAction{Var: v, Conds: conds, Expr: rules.SampleExpr{Fetch: sf.fetch, Convs: sf.convs}}
}

// warnUnreachableVar warns when a rule set can never set a variable of
// scope: haproxy accepts such a rule and it does nothing.
func (c *compiler) warnUnreachableVar(r *RuleStmt, kind string, scope rules.Scope, where ruleSet) {
	why := ""
	switch {
	case (where == inTCPConnection || where == inTCPSession) && scope > rules.ScopeSess:
		why = "there is no transaction yet; only 'proc' and 'sess' variables can be set here"
	case where == inRequest && scope == rules.ScopeRes:
		why = "'res' variables exist only while the response is processed"
	case where == inResponse && scope == rules.ScopeReq:
		why = "'req' variables exist only while the request is processed"
	}
	if why != "" {
		c.warnf(r.Pos, "'%s' does nothing: %s", kind, why)
	}
}
