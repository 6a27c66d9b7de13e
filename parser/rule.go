package parser

import (
	"regexp"
	"strings"

	"gohap/runtime/lua"
	"gohap/runtime/rules"
)

// useBackend compiles "use_backend NAME [cond]", where NAME may be a
// log-format string ("be_%[req.hdr(host),lower]").
func (c *compiler) useBackend(p *proxy, u *UseBackend) {
	sw := rules.Switch{Pos: posString(u.Pos)}
	name, dyn, ok := c.nameFormat(p, u.Backend)
	if !ok {
		return
	}
	if dyn != nil {
		sw.Name, sw.Backends = dyn, c.backends
	} else {
		be, err := c.Backend(name)
		if err != nil {
			c.errorf(u.Backend.Pos, "use_backend: %v", err)
			return
		}
		sw.Backend = be
	}
	if sw.Cond, ok = c.cond(p, u.Cond); !ok {
		return
	}
	p.fe.Switching = append(p.fe.Switching, sw)
}

// ruleStmt compiles an http-request, http-response, http-after-response
// or tcp-request rule; tcp-response rules are not supported.
func (c *compiler) ruleStmt(where section, p *proxy, r *RuleStmt) {
	if r.Kind == "tcp-request" {
		c.tcpRequest(where, p, r)
		return
	}
	if r.Kind == "tcp-response" {
		c.errorf(r.Pos, "'%s' is not supported", r.Kind)
		return
	}
	if where == secDefaults {
		c.errorf(r.Pos, "'%s' is not supported in 'defaults' section", r.Kind)
		return
	}
	args := c.values(r.Args)
	if len(args) == 0 {
		c.errorf(r.Pos, "'%s' expects an action", r.Kind)
		return
	}
	var act rules.Action
	if r.Kind == "http-request" {
		act = c.httpAction(p, r, args)
	} else {
		act = c.httpResponseAction(p, r, args)
	}
	if act == nil {
		return
	}
	cond, ok := c.cond(p, r.Cond)
	if !ok {
		return
	}
	rule := rules.Rule{Pos: posString(r.Pos), Cond: cond, Action: act}
	if r.Kind == "http-request" && len(p.redirects()) > 0 {
		c.warnf(r.Pos, "a 'http-request' rule placed after a 'redirect' rule will still be processed before")
	}
	list := p.ruleList(r.Kind)
	*list = append(*list, rule)
}

// ruleList is where the proxy keeps its rules of kind: the frontend's
// for a frontend or listen section, else the backend's.
func (p *proxy) ruleList(kind string) *[]rules.Rule {
	if p.fe != nil {
		return map[string]*[]rules.Rule{"http-request": &p.fe.HTTPRequest, "http-response": &p.fe.HTTPResponse, "http-after-response": &p.fe.HTTPAfterResponse}[kind]
	}
	return map[string]*[]rules.Rule{"http-request": &p.be.HTTPRequest, "http-response": &p.be.HTTPResponse, "http-after-response": &p.be.HTTPAfterResponse}[kind]
}

// redirects are the proxy's legacy redirect rules so far.
func (p *proxy) redirects() []rules.Rule {
	if p.fe != nil {
		return p.fe.Redirects
	}
	return p.be.Redirects
}

// httpAction builds the action of an http-request rule.
func (c *compiler) httpAction(p *proxy, r *RuleStmt, args []string) rules.Action {
	name, rest := args[0], args[1:]
	if isVarAction(name) {
		return c.varAction(p, r, args, 0, inRequest)
	}
	switch name {
	case "allow":
		if len(rest) > 0 {
			c.errorf(r.Args[1].Pos, "'http-request allow' takes no argument")
			return nil
		}
		return rules.AllowAction{}
	case "deny":
		// haproxy counts a denied request as the client's error.
		if act := c.replyAction(p, r, name, rest); act != nil {
			return rules.ClientErrAction{Action: act}
		}
		return nil
	case "return":
		return c.replyAction(p, r, name, rest)
	case "redirect":
		return c.redirectAction(r.Args[0].Pos, r.Args[1:], rest)
	case "auth":
		realm := p.name
		if len(rest) == 2 && rest[0] == "realm" {
			realm = rest[1]
		} else if len(rest) != 0 {
			c.errorf(r.Args[1].Pos, "'http-request auth' expects nothing or 'realm NAME'")
			return nil
		}
		return rules.ClientErrAction{Action: rules.ReplyAction{Reply: rules.AuthReply(rules.Lookup(401, p.set.errors), realm)}}
	case "set-header", "add-header":
		return c.headerEdit(p, r, name, rest, false)
	case "del-header", "replace-header":
		return c.headerEdit(p, r, name, rest, false)
	case "set-path", "set-uri", "set-query", "set-method":
		if len(rest) != 1 || rest[0] == "" { // haproxy counts "" as missing
			c.errorf(r.Pos, "'http-request %s' expects one value", name)
			return nil
		}
		if name == "set-method" {
			return rules.SetMethodAction{Method: []byte(rest[0])}
		}
		value := c.format(p, r.Args[1].Pos, rest[0])
		if value == nil {
			return nil
		}
		part := map[string]rules.URIPart{"set-uri": rules.URIWhole, "set-path": rules.URIPath, "set-query": rules.URIQuery}[name]
		return &rules.SetURIAction{Part: part, Value: value}
	case "replace-path", "replace-uri":
		if len(rest) != 2 {
			c.errorf(r.Pos, "'http-request %s' expects a regex and a replacement", name)
			return nil
		}
		re, err := regexp.Compile(rest[0])
		if err != nil {
			c.errorf(r.Args[1].Pos, "invalid regex '%s': %v", rest[0], err)
			return nil
		}
		if strings.Contains(rest[1], "%") {
			c.errorf(r.Args[2].Pos, "log-format replacements ('%s') are not supported", rest[1])
			return nil
		}
		part := rules.URIWhole
		if name == "replace-path" {
			part = rules.URIPath
		}
		return &rules.ReplaceURIAction{Part: part, Re: re, Template: []byte(rules.BackrefTemplate(rest[1]))}
	case "use-service":
		return c.useService(p, r.Args[0].Pos, "http-request", rest, true)
	}
	if _, ok := luaName(name); ok {
		return c.luaAction(p, r.Args[0].Pos, "http-request", name, lua.HookHTTPReq, rest)
	}
	if act, handled := c.stickAction(p, "http-request", r.Args, args, stageHTTP); handled {
		return act
	}
	c.errorf(r.Args[0].Pos, "'http-request %s' is not supported", name)
	return nil
}

// replyAction compiles "deny [deny_status N] [reply options]" and
// "return [status N] [reply options]" (see replyOptions).
func (c *compiler) replyAction(p *proxy, r *RuleStmt, name string, args []string) rules.Action {
	ra := replyArgs{spec: rules.ReplySpec{Status: 200}}
	if name == "deny" {
		ra.spec.Status = 403
		if len(args) > 0 && args[0] == "deny_status" {
			args[0] = "status"
		}
	}
	who := "http-request " + name
	if !c.replyOptions(p, who, r.Args[1:], args, &ra) {
		return nil
	}
	if name == "deny" && ra.payload == payloadNone && ra.spec.ContentType == "" {
		ra.payload = payloadDefault // deny sends the error page unless told otherwise
	}
	if !c.replyCheck(p, who, r.Pos, &ra) {
		return nil
	}
	reply := c.buildReply(&ra, p.set.errors)
	if reply == nil {
		reply = rules.ReturnReply(ra.spec.Status, "", nil)
	}
	return rules.ReplyAction{Reply: reply}
}

// httpResponseAction builds the action of an http-response or
// http-after-response rule.
func (c *compiler) httpResponseAction(p *proxy, r *RuleStmt, args []string) rules.Action {
	name, rest := args[0], args[1:]
	if isVarAction(name) {
		return c.varAction(p, r, args, 0, inResponse)
	}
	switch name {
	case "set-header", "add-header", "del-header", "replace-header", "replace-value":
		return c.headerEdit(p, r, name, rest, true)
	case "set-status":
		return c.setStatus(r, rest)
	case "allow":
		if len(rest) > 0 {
			c.errorf(r.Args[1].Pos, "'%s allow' takes no argument", r.Kind)
			return nil
		}
		return rules.AllowAction{}
	}
	if _, ok := luaName(name); ok && r.Kind == "http-response" {
		return c.luaAction(p, r.Args[0].Pos, "http-response", name, lua.HookHTTPRes, rest)
	}
	c.errorf(r.Args[0].Pos, "'%s %s' is not supported", r.Kind, name)
	return nil
}

// setStatus compiles "set-status CODE [reason TEXT]".
func (c *compiler) setStatus(r *RuleStmt, rest []string) rules.Action {
	if len(rest) != 1 && (len(rest) != 3 || rest[1] != "reason") {
		c.errorf(r.Pos, "'%s set-status' expects a status code and optionally 'reason TEXT'", r.Kind)
		return nil
	}
	code, err := parseInt(rest[0], 100, 999)
	if err != nil {
		c.errorf(r.Args[1].Pos, "'%s set-status': %v", r.Kind, err)
		return nil
	}
	act := rules.SetStatusAction{Status: code}
	if len(rest) == 3 {
		act.Reason = []byte(rest[2])
	}
	return act
}

// headerEdit compiles set-header, add-header, del-header,
// replace-header and replace-value for the request, or the response when resp is set.
func (c *compiler) headerEdit(p *proxy, r *RuleStmt, name string, rest []string, resp bool) rules.Action {
	want := map[string]int{"set-header": 2, "add-header": 2, "del-header": 1, "replace-header": 3, "replace-value": 3}[name]
	if len(rest) != want {
		c.errorf(r.Pos, "'%s %s' expects %s", r.Kind, name, map[int]string{1: "a header name", 2: "a header name and a value", 3: "a header name, a regex and a replacement"}[want])
		return nil
	}
	// haproxy's HTTP/1 layer writes header names in lower case.
	rest[0] = strings.ToLower(rest[0])
	switch name {
	case "del-header":
		return &rules.HeaderAction{Op: rules.DelHeader, Name: []byte(rest[0]), Resp: resp}
	case "replace-header", "replace-value":
		re, err := regexp.Compile(rest[1])
		if err != nil {
			c.errorf(r.Args[2].Pos, "invalid regex '%s': %v", rest[1], err)
			return nil
		}
		if strings.Contains(rest[2], "%") {
			c.errorf(r.Args[3].Pos, "log-format replacements ('%s') are not supported", rest[2])
			return nil
		}
		return &rules.ReplaceHeaderAction{Name: []byte(rest[0]), Re: re, Template: []byte(rules.BackrefTemplate(rest[2])), Resp: resp, Split: name == "replace-value"}
	}
	value := c.format(p, r.Args[2].Pos, rest[1])
	if value == nil {
		return nil
	}
	op := rules.SetHeader
	if name == "add-header" {
		op = rules.AddHeader
	}
	return &rules.HeaderAction{Op: op, Name: []byte(rest[0]), Value: value, Resp: resp}
}
