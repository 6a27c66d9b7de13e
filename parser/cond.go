package parser

import (
	"strings"

	"gohap/runtime/rules"
)

// cond compiles an optional if/unless condition: nil without one. ok is
// false when it has errors (reported), so that callers drop the rule.
func (c *compiler) cond(p *proxy, cd *Cond) (cond *rules.Cond, ok bool) {
	if cd == nil {
		return nil, true
	}
	var or [][]rules.Term
	ok = true
	for _, terms := range cd.Or {
		var and []rules.Term
		for _, t := range terms.List {
			neg := len(t.Bangs)%2 == 1
			var acl *rules.ACL
			if t.Anon != nil {
				e := c.expr(p, t.Anon)
				if e == nil {
					ok = false
					continue
				}
				acl = &rules.ACL{Name: "anonymous", Pos: posString(t.Pos), Exprs: []*rules.Expr{e}}
			} else {
				name := c.value(t.Name)
				for strings.HasPrefix(name, "!") {
					neg = !neg
					name = name[1:]
				}
				if acl = c.namedACL(p, t.Name, name); acl == nil {
					ok = false
					continue
				}
			}
			and = append(and, rules.Term{Neg: neg, ACL: acl})
		}
		or = append(or, and)
	}
	if !ok {
		return nil, false
	}
	return rules.NewCond(posString(cd.Pos), cd.Unless, or), true
}
