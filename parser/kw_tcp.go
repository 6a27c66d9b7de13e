package parser

import (
	"time"

	"gohap/runtime/lua"
	"gohap/runtime/rules"
)

// tcpRequest compiles "tcp-request inspect-delay TIME" and "tcp-request
// connection|session|content ACTION [cond]" with the actions accept,
// reject, silent-drop, set-var, set-var-fmt, unset-var, track-scN,
// sc-inc-gpc0/1 and sc-set-gpt0, and for content the Lua actions and
// use-service.
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
		c.errorf(r.Pos, "'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay'")
		return
	}
	stage := stageConn
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
	case "content":
		stage = stageContent
	case "connection", "session":
	default:
		c.errorf(r.Args[0].Pos, "'tcp-request %s' is not supported", args[0])
		return
	}
	if len(args) < 2 {
		c.errorf(r.Pos, "'tcp-request %s' expects an action", args[0])
		return
	}
	kind := "tcp-request " + args[0]
	var act rules.Action
	_, isLua := luaName(args[1])
	switch {
	case args[0] == "content" && args[1] == "use-service":
		if p.set.mode != rules.ModeTCP {
			c.errorf(r.Args[1].Pos, "'tcp-request content use-service' is supported in mode tcp only")
			return
		}
		if act = c.useService(p, r.Args[1].Pos, "tcp-request content", args[2:], false); act == nil {
			return
		}
	case args[0] == "content" && isLua:
		if act = c.luaAction(p, r.Args[1].Pos, "tcp-request content", args[1], lua.HookTCPReq, args[2:]); act == nil {
			return
		}
	case isVarAction(args[1]):
		where := map[string]ruleSet{"connection": inTCPConnection, "session": inTCPSession, "content": inRequest}[args[0]]
		if act = c.varAction(p, r, args, 1, where); act == nil {
			return
		}
	case args[1] == "accept" || args[1] == "reject":
		if len(args) > 2 {
			c.errorf(r.Args[2].Pos, "unexpected '%s' after '%s %s'", args[2], kind, args[1])
			return
		}
		act = rules.AllowAction{}
		if args[1] == "reject" {
			act = rules.RejectAction{}
		}
	default:
		var handled bool
		if act, handled = c.stickAction(p, kind, r.Args[1:], args[1:], stage); !handled {
			c.errorf(r.Args[1].Pos, "'%s %s' is not supported", kind, args[1])
		}
		if act == nil {
			return
		}
	}
	cond, ok := c.cond(p, r.Cond)
	if !ok {
		return
	}
	rule := rules.Rule{Pos: posString(r.Pos), Cond: cond, Action: act}
	if args[0] == "content" {
		*content = append(*content, rule)
		return
	}
	if p.fe == nil {
		c.errorf(r.Pos, "'%s' is not allowed in 'backend' section", kind)
		return
	}
	if args[0] == "connection" {
		p.fe.TCPConnection = append(p.fe.TCPConnection, rule)
	} else {
		p.fe.TCPSession = append(p.fe.TCPSession, rule)
	}
}
