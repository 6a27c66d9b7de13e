package parser

import (
	"time"

	"gohap/runtime/rules"
)

// tcpRequest compiles "tcp-request inspect-delay TIME" and "tcp-request
// connection|session|content ACTION [cond]" with the actions accept,
// reject, set-var, set-var-fmt and unset-var. Other actions (track-sc,
// lua...) are not supported.
func (c *compiler) tcpRequest(where section, p *proxy, r *RuleStmt) {
	args := c.values(r.Args)
	if where == secDefaults {
		c.errorf(r.Pos, "'tcp-request' in 'defaults' section is not supported")
		return
	}
	// In a backend, only content rules: they run once it is chosen.
	var inspect *time.Duration
	var content *[]rules.Rule
	if p.fe != nil {
		inspect, content = &p.fe.InspectDelay, &p.fe.TCPContent
	} else {
		inspect, content = &p.be.InspectDelay, &p.be.TCPContent
	}
	if len(args) == 0 {
		c.errorf(r.Pos, "'tcp-request' expects 'connection', 'content' or 'inspect-delay'")
		return
	}
	switch args[0] {
	case "inspect-delay":
		if len(args) != 2 || r.Cond != nil {
			c.errorf(r.Pos, "'tcp-request inspect-delay' expects a time")
			return
		}
		d, err := parseTime(args[1])
		if err != nil {
			c.errorf(r.Args[1].Pos, "tcp-request inspect-delay: %v", err)
			return
		}
		*inspect = d
		return
	case "connection", "session", "content":
	default:
		c.errorf(r.Args[0].Pos, "'tcp-request %s' is not supported", args[0])
		return
	}
	if len(args) < 2 {
		c.errorf(r.Pos, "'tcp-request %s' expects an action", args[0])
		return
	}
	var act rules.Action
	switch {
	case isVarAction(args[1]):
		where := map[string]ruleSet{"connection": inTCPConnection, "session": inTCPSession, "content": inRequest}[args[0]]
		if act = c.varAction(p, r, args, 1, where); act == nil {
			return
		}
	case len(args) > 2 && (args[1] == "accept" || args[1] == "reject"):
		c.errorf(r.Args[2].Pos, "unexpected '%s' after 'tcp-request %s %s'", args[2], args[0], args[1])
		return
	case args[1] == "accept":
		act = rules.AllowAction{}
	case args[1] == "reject":
		act = rules.RejectAction{}
	default:
		c.errorf(r.Args[1].Pos, "'tcp-request %s %s' is not supported", args[0], args[1])
		return
	}
	var cond *rules.Cond
	if r.Cond != nil {
		if cond = c.cond(p, r.Cond); cond == nil {
			return
		}
	}
	rule := rules.Rule{Pos: posString(r.Pos), Cond: cond, Action: act}
	if args[0] != "content" {
		if p.fe == nil {
			c.errorf(r.Pos, "'tcp-request %s' is not allowed in 'backend' section", args[0])
			return
		}
		if args[0] == "connection" {
			p.fe.TCPConnection = append(p.fe.TCPConnection, rule)
		} else {
			p.fe.TCPSession = append(p.fe.TCPSession, rule)
		}
		return
	}
	*content = append(*content, rule)
}
