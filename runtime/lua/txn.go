package lua

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// fetchCache holds the fetches and converters scripts called, built once
// per state for each name and argument list.
type fetchCache struct {
	fetches map[string]rules.Fetcher
	convs   map[string]rules.Converter
	regexps map[string]*regexp.Regexp
	key     []byte
	text    []byte
}

// newTxnObject builds the TXN object handed to actions and fetches: the
// fetch and converter classes, the HTTP class and the methods. It reads
// the call's Txn from st.
func (st *state) newTxnObject() *glua.LTable {
	L := st.L
	txn := L.NewTable()
	st.setSampleClasses(txn)
	st.httpObj = st.newHTTPObject()
	L.SetField(txn, "http", st.httpObj)
	L.SetField(txn, "req", st.newChannel(false))
	L.SetField(txn, "res", st.newChannel(true))
	L.SetFuncs(txn, st.logMethods(2))
	L.SetFuncs(txn, st.dataMethods())
	L.SetFuncs(txn, map[string]glua.LGFunction{
		"deflog": st.logAt(levelInfo, 2),
		"done":   st.txnDone,
		"reply":  st.newReply,
		// Only logging changes: nothing for gohap to do.
		"set_loglevel":        func(*glua.LState) int { return 0 },
		"set_tos":             notSupported("txn:set_tos"),
		"set_mark":            notSupported("txn:set_mark"),
		"set_priority_class":  notSupported("txn:set_priority_class"),
		"set_priority_offset": notSupported("txn:set_priority_offset"),
	})
	return txn
}

func notSupported(what string) glua.LGFunction {
	return func(L *glua.LState) int {
		L.RaiseError("%s is not supported by gohap", what)
		return 0
	}
}

// setSampleClasses sets the fields f, sf (fetches), c and sc (converters)
// of obj: tables whose methods are created on first use, by name.
func (st *state) setSampleClasses(obj *glua.LTable) {
	L := st.L
	for _, c := range []struct {
		field  string
		conv   bool
		asText bool
	}{{"f", false, false}, {"sf", false, true}, {"c", true, false}, {"sc", true, true}} {
		c := c
		tbl := L.NewTable()
		mt := L.NewTable()
		L.SetField(mt, "__index", L.NewFunction(func(L *glua.LState) int {
			name := L.CheckString(2)
			var fn glua.LGFunction
			if c.conv {
				if def, ok := rules.LookupConv(name); ok {
					fn = st.convFunc(def, c.asText)
				}
			} else if def, ok := lookupFetch(name); ok {
				fn = st.fetchFunc(def, c.asText)
			}
			if fn == nil {
				L.Push(glua.LNil)
				return 1
			}
			f := L.NewFunction(fn)
			L.RawSet(L.CheckTable(1), glua.LString(name), f)
			L.Push(f)
			return 1
		}))
		L.SetMetatable(tbl, mt)
		L.SetField(obj, c.field, tbl)
	}
}

// lookupFetch finds a fetch by the name the Fetches class gives it: the
// fetch's own name, or with each '.' written '_' (txn.f:req_hdr()).
func lookupFetch(name string) (*rules.Fetch, bool) {
	if def, ok := rules.LookupFetch(name); ok {
		return def, true
	}
	for i := strings.IndexByte(name, '_'); i >= 0; {
		alt := name[:i] + "." + name[i+1:]
		if def, ok := rules.LookupFetch(alt); ok {
			return def, true
		}
		j := strings.IndexByte(name[i+1:], '_')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return nil, false
}

// needTxn raises an error when no request is at hand (init, tasks);
// class and method name what is called.
func (st *state) needTxn(class, method string) *rules.Txn {
	if st.t == nil {
		st.L.RaiseError("%s%s is not available outside a request", class, method)
	}
	return st.t
}

// callArgs reads the arguments of a fetch or converter call from stack
// index first on: st.fetches.key becomes the cache key of name called
// with them, and args their text (nil when there is none).
func (st *state) callArgs(name string, first int) (args []string) {
	L := st.L
	k := append(st.fetches.key[:0], name...)
	for i := first; i <= L.GetTop(); i++ {
		a, ok := toString(L.Get(i))
		if !ok {
			L.ArgError(i, "string or number expected")
		}
		args = append(args, a)
		k = append(append(k, 0), a...)
	}
	st.fetches.key = k
	return args
}

// fetchFunc is the method of the Fetches class for def: it builds the
// fetch from its arguments (once per state) and runs it on the call's
// Txn. The value is nil when the fetch yields none, or "" from sf.
func (st *state) fetchFunc(def *rules.Fetch, asText bool) glua.LGFunction {
	return func(L *glua.LState) int {
		t := st.needTxn("txn.f:", def.Name)
		args := st.callArgs(def.Name, 2)
		f, ok := st.fetches.fetches[string(st.fetches.key)]
		if !ok {
			var err error
			if f, err = rules.NewSampleFetch(def, args, st.resolver()); err != nil {
				L.RaiseError("%v", err)
			}
			if st.fetches.fetches == nil {
				st.fetches.fetches = map[string]rules.Fetcher{}
			}
			st.fetches.fetches[string(st.fetches.key)] = f
		}
		if !rules.FetchValue(t, f, nil, &st.smp) {
			st.pushNone(asText)
			return 1
		}
		st.pushSample(asText)
		return 1
	}
}

// convFunc is the method of the Converters class for def: it converts its
// first argument, as a string.
func (st *state) convFunc(def *rules.Conv, asText bool) glua.LGFunction {
	return func(L *glua.LState) int {
		t := st.needTxn("txn.c:", def.Name)
		in, ok := toString(L.Get(2))
		if !ok {
			st.pushNone(asText)
			return 1
		}
		args := st.callArgs(def.Name, 3)
		c, ok := st.fetches.convs[string(st.fetches.key)]
		if !ok {
			var err error
			if c, err = rules.NewConv(def, args, st.resolver()); err != nil {
				L.RaiseError("%v", err)
			}
			if st.fetches.convs == nil {
				st.fetches.convs = map[string]rules.Converter{}
			}
			st.fetches.convs[string(st.fetches.key)] = c
		}
		st.smp = rules.Sample{Type: rules.TypeStr, Str: t.KeepString(in)}
		if !c.Convert(t, &st.smp) {
			st.pushNone(asText)
			return 1
		}
		st.pushSample(asText)
		return 1
	}
}

func (st *state) pushNone(asText bool) {
	if asText {
		st.L.Push(glua.LString(""))
		return
	}
	st.L.Push(glua.LNil)
}

// pushSample pushes st.smp, as text when asText.
func (st *state) pushSample(asText bool) {
	if asText {
		st.fetches.text = rules.AppendText(st.fetches.text[:0], &st.smp)
		st.L.Push(glua.LString(st.fetches.text))
		return
	}
	var v glua.LValue
	v, st.fetches.text = valueOf(&st.smp, st.fetches.text)
	st.L.Push(v)
}

// resolver is what fetches built at run time resolve names with.
func (st *state) resolver() rules.Resolver {
	if st.s.resolver != nil {
		return st.s.resolver
	}
	return noResolver{}
}

// noResolver resolves nothing: scripts loaded outside a configuration.
type noResolver struct{}

func (noResolver) Backend(name string) (*rules.Backend, error) {
	return nil, fmt.Errorf("no such backend '%s'", name)
}
func (noResolver) Var(scope rules.Scope, name string) (rules.VarRef, error) {
	return rules.VarRef{}, fmt.Errorf("no such variable '%s.%s'", scope, name)
}
func (noResolver) Userlist(name string) (*rules.Userlist, error) {
	return nil, fmt.Errorf("no such userlist '%s'", name)
}
func (noResolver) Table(name string) (*rules.StickTable, error) {
	return nil, fmt.Errorf("unable to find table '%s'", name)
}
func (noResolver) CurrentBackend() *rules.Backend { return nil }
func (noResolver) Env(string) (string, bool)      { return "", false }

// dataMethods are the methods of TXN and the applets for the data of the
// transaction: private data and variables.
func (st *state) dataMethods() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"get_priv": func(L *glua.LState) int {
			L.Push(st.priv)
			return 1
		},
		"set_priv": func(L *glua.LState) int {
			st.priv = L.Get(2)
			return 0
		},
		"get_var":   st.getVar,
		"set_var":   st.setVar,
		"unset_var": st.unsetVar,
	}
}

// txnDone is txn:done([reply]): the transaction ends with the reply, or
// with the connection closed when there is none.
func (st *state) txnDone(L *glua.LState) int {
	st.needTxn("txn:", "done")
	st.finish = finishClose
	if tbl, ok := L.Get(2).(*glua.LTable); ok && st.hook&(HookHTTPReq|HookHTTPRes) != 0 {
		st.finish, st.reply = finishReply, st.buildReply(tbl)
	}
	st.stop(glua.LNil)
	return 0
}

// newReply is txn:reply([fields]): a Reply object with its methods.
func (st *state) newReply(L *glua.LState) int {
	r := L.NewTable()
	L.SetField(r, "status", glua.LNumber(200))
	L.SetField(r, "reason", glua.LString(""))
	L.SetField(r, "headers", L.NewTable())
	L.SetField(r, "body", glua.LString(""))
	if init, ok := L.Get(2).(*glua.LTable); ok {
		init.ForEach(func(k, v glua.LValue) { L.SetTable(r, k, v) })
	}
	L.SetFuncs(r, map[string]glua.LGFunction{
		"set_status": func(L *glua.LState) int {
			L.SetField(r, "status", glua.LNumber(L.CheckInt(2)))
			L.SetField(r, "reason", glua.LString(L.OptString(3, "")))
			return 0
		},
		"add_header": func(L *glua.LState) int {
			name, value := strings.ToLower(L.CheckString(2)), L.CheckString(3)
			hdrs := L.GetField(r, "headers").(*glua.LTable)
			list, ok := L.GetField(hdrs, name).(*glua.LTable)
			if !ok {
				list = L.NewTable()
				L.SetField(hdrs, name, list)
			}
			list.Append(glua.LString(value))
			return 0
		},
		"del_header": func(L *glua.LState) int {
			L.SetField(L.GetField(r, "headers"), strings.ToLower(L.CheckString(2)), glua.LNil)
			return 0
		},
		"set_body": func(L *glua.LState) int {
			L.SetField(r, "body", glua.LString(L.CheckString(2)))
			return 0
		},
	})
	L.Push(r)
	return 1
}

// buildReply turns a reply table (status, reason, headers, body) into the
// response HAProxy sends: the headers, then the body's length.
func (st *state) buildReply(tbl *glua.LTable) *rules.Reply {
	L := st.L
	code := 200
	if n, ok := L.GetField(tbl, "status").(glua.LNumber); ok {
		code = int(n)
	}
	reason, _ := toString(L.GetField(tbl, "reason"))
	body, _ := toString(L.GetField(tbl, "body"))
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", code, statusText(code, reason))
	if hdrs, ok := L.GetField(tbl, "headers").(*glua.LTable); ok {
		hdrs.ForEach(func(k, v glua.LValue) {
			name := strings.ToLower(glua.LVAsString(k))
			if name == "content-length" || name == "transfer-encoding" {
				return
			}
			writeValues(&b, name, v)
		})
	}
	if code >= 200 && code != 204 && code != 304 {
		fmt.Fprintf(&b, "content-length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	head := b.Len()
	b.WriteString(body)
	return &rules.Reply{Status: code, Raw: b.Bytes(), HeadLen: head}
}

// writeValues writes header name once per value of v: a list or a
// single value.
func writeValues(b *bytes.Buffer, name string, v glua.LValue) {
	one := func(v glua.LValue) {
		if s, ok := toString(v); ok {
			b.WriteString(name + ": " + s + "\r\n")
		}
	}
	if list, ok := v.(*glua.LTable); ok {
		list.ForEach(func(_, v glua.LValue) { one(v) })
		return
	}
	one(v)
}

// headersTable is the headers of a message as HAProxy's Lua gives them:
// lower-case names, each to its values indexed from 0.
func headersTable(L *glua.LState, hdrs []rules.Header) *glua.LTable {
	out := L.NewTable()
	for _, h := range hdrs {
		name := strings.ToLower(string(h.Name))
		list, ok := L.GetField(out, name).(*glua.LTable)
		if !ok {
			list = L.NewTable()
			L.SetField(out, name, list)
		}
		n := 0
		for list.RawGetInt(n) != glua.LNil {
			n++
		}
		list.RawSetInt(n, glua.LString(h.Value))
	}
	return out
}

// newHTTPObject builds the HTTP class: request and response edits.
func (st *state) newHTTPObject() *glua.LTable {
	L := st.L
	h := L.NewTable()
	funcs := map[string]glua.LGFunction{
		"req_set_method": func(L *glua.LState) int {
			t := st.httpTxn("req_set_method")
			t.Req.Method = t.KeepString(L.CheckString(2))
			return 0
		},
		"req_set_path":  st.setURI("req_set_path", rules.URIPath),
		"req_set_query": st.setURI("req_set_query", rules.URIQuery),
		"req_set_uri":   st.setURI("req_set_uri", rules.URIWhole),
		"res_set_status": func(L *glua.LState) int {
			t := st.httpTxn("res_set_status")
			if !t.InResponse {
				L.RaiseError("res_set_status: no response yet")
			}
			t.Resp.Status = L.CheckInt(2)
			t.Resp.Reason = t.KeepString(L.OptString(3, ""))
			return 0
		},
	}
	for _, side := range []struct {
		prefix string
		resp   bool
	}{{"req_", false}, {"res_", true}} {
		side := side
		funcs[side.prefix+"get_headers"] = func(L *glua.LState) int {
			t := st.httpTxn(side.prefix + "get_headers")
			hdrs := t.Req.Headers
			if side.resp {
				hdrs = t.Resp.Headers
			}
			L.Push(headersTable(L, hdrs))
			return 1
		}
		for name, op := range map[string]rules.HeaderOp{"add_header": rules.AddHeader, "set_header": rules.SetHeader, "del_header": rules.DelHeader} {
			name, op := side.prefix+name, op
			funcs[name] = func(L *glua.LState) int {
				t := st.httpTxn(name)
				value := ""
				if op != rules.DelHeader {
					value = L.CheckString(3)
				}
				t.EditHeader(op, side.resp, L.CheckString(2), value)
				return 0
			}
		}
		funcs[side.prefix+"rep_header"] = func(L *glua.LState) int {
			t := st.httpTxn(side.prefix + "rep_header")
			re := st.regexp(L.CheckString(3))
			t.ReplaceHeader(side.resp, strings.ToLower(L.CheckString(2)), re, L.CheckString(4))
			return 0
		}
	}
	L.SetFuncs(h, funcs)
	return h
}

// httpTxn returns the call's Txn for an HTTP class method, which needs an
// HTTP request.
func (st *state) httpTxn(what string) *rules.Txn {
	t := st.needTxn("txn.http:", what)
	if st.hook&(HookTCPReq|HookTCPRes) != 0 {
		st.L.RaiseError("txn.http:%s: not an HTTP transaction", what)
	}
	return t
}

func (st *state) setURI(what string, part rules.URIPart) glua.LGFunction {
	return func(L *glua.LState) int {
		st.httpTxn(what).SetURIPart(part, L.CheckString(2))
		return 0
	}
}

// regexp compiles re once per state.
func (st *state) regexp(re string) *regexp.Regexp {
	if r, ok := st.fetches.regexps[re]; ok {
		return r
	}
	r, err := regexp.Compile(re)
	if err != nil {
		st.L.RaiseError("invalid regex '%s': %v", re, err)
	}
	if st.fetches.regexps == nil {
		st.fetches.regexps = map[string]*regexp.Regexp{}
	}
	st.fetches.regexps[re] = r
	return r
}

// newChannel builds the Channel class of txn.req (or txn.res): reading
// what the client sent first, in tcp-request content rules.
func (st *state) newChannel(resp bool) *glua.LTable {
	L := st.L
	ch := L.NewTable()
	payload := func(what string) []byte {
		t := st.needTxn("channel:", what)
		if resp {
			return nil
		}
		return t.Payload
	}
	data := func(L *glua.LState) int {
		p := payload("data")
		off, n := L.OptInt(2, 0), L.OptInt(3, -1)
		if off < 0 {
			off += len(p)
		}
		if off < 0 || off > len(p) {
			L.Push(glua.LNil)
			return 1
		}
		p = p[off:]
		if n >= 0 && n < len(p) {
			p = p[:n]
		}
		L.Push(glua.LString(p))
		return 1
	}
	L.SetFuncs(ch, map[string]glua.LGFunction{
		"data": data,
		"dup":  data,
		"line": func(L *glua.LState) int {
			p := payload("line")
			if i := bytes.IndexByte(p, '\n'); i >= 0 {
				p = p[:i+1]
			}
			L.Push(glua.LString(p))
			return 1
		},
		"input": func(L *glua.LState) int {
			L.Push(glua.LNumber(len(payload("input"))))
			return 1
		},
		"output":   func(L *glua.LState) int { L.Push(glua.LNumber(0)); return 1 },
		"is_full":  func(L *glua.LState) int { L.Push(glua.LFalse); return 1 },
		"may_recv": func(L *glua.LState) int { L.Push(glua.LFalse); return 1 },
		"is_resp":  func(L *glua.LState) int { L.Push(glua.LBool(resp)); return 1 },
	})
	for _, name := range []string{"append", "forward", "get", "getline", "insert", "prepend", "remove", "send", "set"} {
		L.SetField(ch, name, L.NewFunction(notSupported("channel:"+name)))
	}
	return ch
}
