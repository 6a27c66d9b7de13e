package lua

import (
	"bytes"
	"errors"
	"io"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// applet is the I/O side of a service call: an HTTP exchange or a TCP
// stream, with what the script read ahead of a line.
type applet struct {
	http rules.HTTPApplet
	tcp  io.ReadWriter
	r    io.Reader // the request body or the stream

	status  int
	reason  string
	hdrs    []rules.Header
	started bool

	buf []byte // read and not yet returned
	eof bool
}

// errNoResponse: the service ended without starting its response.
var errNoResponse = errors.New("the service did not call start_response()")

// newHTTPApplet builds the AppletHTTP object for the request of t: its
// fields, and the methods shared by the calls of this state.
func (st *state) newHTTPApplet(t *rules.Txn) *glua.LTable {
	L := st.L
	a := L.NewTable()
	r := &t.Req
	L.SetField(a, "method", glua.LString(r.Method))
	L.SetField(a, "path", glua.LString(r.Path()))
	L.SetField(a, "qs", glua.LString(r.Query()))
	L.SetField(a, "version", glua.LString(r.Version))
	length := 0
	if i := r.Header([]byte("content-length"), 0); i >= 0 {
		length = atoi(r.Headers[i].Value)
	}
	L.SetField(a, "length", glua.LNumber(length))
	L.SetField(a, "headers", headersTable(L, r.Headers))
	if st.httpApplet == nil {
		st.httpApplet = st.appletClass(map[string]glua.LGFunction{
			"set_status": func(L *glua.LState) int {
				code := L.CheckInt(2)
				if code < 100 || code > 599 {
					L.ArgError(2, "status code must be between 100 and 599")
				}
				st.app.status, st.app.reason = code, L.OptString(3, "")
				return 0
			},
			"add_header": func(L *glua.LState) int {
				name, value := L.CheckString(2), L.CheckString(3)
				st.app.hdrs = append(st.app.hdrs, rules.Header{Name: []byte(strings.ToLower(name)), Value: []byte(value)})
				return 0
			},
			"start_response": func(L *glua.LState) int {
				ap := st.app
				if ap.started {
					return 0
				}
				ap.started = true
				if err := ap.http.WriteHead(ap.status, ap.reason, ap.hdrs); err != nil {
					L.RaiseError("start_response: %v", err)
				}
				return 0
			},
			"send": func(L *glua.LState) int {
				msg := L.CheckString(2)
				if !st.app.started {
					L.RaiseError("'send' you must call start_response() before sending data.")
				}
				if _, err := io.WriteString(st.app.http, msg); err != nil {
					L.RaiseError("send: %v", err)
				}
				return 0
			},
		})
	}
	L.SetMetatable(a, st.httpApplet)
	return a
}

// newTCPApplet builds the AppletTCP object for a stream.
func (st *state) newTCPApplet() *glua.LTable {
	L := st.L
	if st.tcpApplet == nil {
		st.tcpApplet = st.appletClass(map[string]glua.LGFunction{
			"send": func(L *glua.LState) int {
				if _, err := io.WriteString(st.app.tcp, L.CheckString(2)); err != nil {
					L.RaiseError("send: %v", err)
				}
				return 0
			},
		})
	}
	a := L.NewTable()
	L.SetMetatable(a, st.tcpApplet)
	return a
}

// appletClass builds the metatable of an applet class: its own methods
// plus what both classes have (the sample classes, reading, variables,
// private data).
func (st *state) appletClass(methods map[string]glua.LGFunction) *glua.LTable {
	L := st.L
	m := L.NewTable()
	st.setSampleClasses(m)
	L.SetFuncs(m, methods)
	L.SetFuncs(m, map[string]glua.LGFunction{
		"getline": func(L *glua.LState) int {
			L.Push(glua.LString(st.app.line()))
			return 1
		},
		"receive": func(L *glua.LState) int {
			L.Push(glua.LString(st.app.receive(L.OptInt(2, -1))))
			return 1
		},
	})
	L.SetFuncs(m, st.dataMethods())
	mt := L.NewTable()
	L.SetField(mt, "__index", m)
	return mt
}

// fill reads more of the input into a.buf; it reports false at its end.
func (a *applet) fill() bool {
	if a.eof {
		return false
	}
	var tmp [4096]byte
	n, err := a.r.Read(tmp[:])
	a.buf = append(a.buf, tmp[:n]...)
	if err != nil {
		a.eof = true
	}
	return n > 0 || !a.eof
}

// line returns the next line with its "\n", or what is left at the end.
func (a *applet) line() []byte {
	for {
		if i := bytes.IndexByte(a.buf, '\n'); i >= 0 {
			return a.take(i + 1)
		}
		if !a.fill() {
			return a.take(len(a.buf))
		}
	}
}

// receive returns n bytes, fewer at the end of the input; all that is
// left when n < 0.
func (a *applet) receive(n int) []byte {
	for n < 0 || len(a.buf) < n {
		if !a.fill() {
			return a.take(len(a.buf))
		}
	}
	return a.take(n)
}

func (a *applet) take(n int) []byte {
	out := append([]byte(nil), a.buf[:n]...)
	a.buf = a.buf[:copy(a.buf, a.buf[n:])]
	return out
}

// atoi parses a decimal length, 0 when it is none.
func atoi(b []byte) int {
	n := 0
	for _, c := range bytes.TrimSpace(b) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
