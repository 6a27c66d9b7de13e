package lua

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"gohap/runtime/rules"
)

const testScript = `
core.register_action("hdr", {"http-req"}, function(txn, v)
  txn.http:req_set_header("x-lua", v .. ":" .. txn.f:path() .. ":" .. txn.sf:req_hdr("host") .. ":" .. tostring(txn.f:hdr("nope")) .. ":" .. txn.c:upper("abc"))
end, 1)
core.register_action("stop", {"http-req", "tcp-req"}, function(txn) return act.STOP end)
core.register_action("deny", {"http-req"}, function(txn) return act.DENY end)
core.register_action("done", {"http-req"}, function(txn) txn:done({status=418, headers={["x-a"]={"1"}}, body="teapot"}) end)
core.register_action("boom", {"http-req"}, function(txn) error("boom") end)
core.register_fetches("twice", function(txn, s) return s .. s end)
core.register_fetches("num", function(txn) return 42 end)
core.register_fetches("none", function(txn) return nil end)
core.register_converters("rev", function(s) return string.reverse(s) end)
core.register_service("hello", "http", function(applet)
  local b = "hello " .. applet.method .. " " .. applet.path .. " " .. applet.qs .. " " .. applet.headers["host"][0] .. " " .. applet:receive()
  applet:set_status(201)
  applet:add_header("Content-Length", #b)
  applet:start_response()
  applet:send(b)
end)
core.register_service("echo", "tcp", function(applet)
  local l = applet:getline()
  applet:send("got:" .. l)
  applet:send("rest:" .. applet:receive())
end)
`

func load(t testing.TB, src string) *Scripts {
	t.Helper()
	s := New(nil)
	if err := s.Load("test.lua", []byte(src)); err != nil {
		t.Fatal(err)
	}
	return s
}

func newTxn() *rules.Txn {
	t := &rules.Txn{}
	t.Req = rules.Request{Method: []byte("GET"), URI: []byte("/p?q=1"), Version: []byte("HTTP/1.1"),
		Headers: []rules.Header{{Name: []byte("Host"), Value: []byte("example")}}}
	return t
}

func TestAction(t *testing.T) {
	s := load(t, testScript)
	a, err := s.NewAction("hdr", HookHTTPReq, []string{"v"})
	if err != nil {
		t.Fatal(err)
	}
	tx := newTxn()
	if v := a.Exec(tx); v != rules.Continue {
		t.Fatalf("verdict %v", v)
	}
	i := tx.Req.Header([]byte("x-lua"), 0)
	if i < 0 || string(tx.Req.Headers[i].Value) != "v:/p:example:nil:ABC" {
		t.Fatalf("headers %q", tx.Req.Headers)
	}
	for name, want := range map[string]rules.Verdict{"stop": rules.Stop, "deny": rules.Answer, "done": rules.Answer, "boom": rules.Continue} {
		a, err := s.NewAction(name, HookHTTPReq, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx := newTxn()
		if v := a.Exec(tx); v != want {
			t.Errorf("%s: verdict %v, want %v", name, v, want)
		}
		if name == "done" && !strings.HasPrefix(string(tx.Reply.Raw), "HTTP/1.1 418 I'm a teapot\r\nx-a: 1\r\ncontent-length: 6\r\n\r\nteapot") {
			t.Errorf("done: reply %q", tx.Reply.Raw)
		}
	}
	if _, err := s.NewAction("hdr", HookTCPReq, []string{"v"}); err == nil {
		t.Error("hdr accepted in tcp-request")
	}
	if _, err := s.NewAction("hdr", HookHTTPReq, nil); err == nil {
		t.Error("hdr accepted without its argument")
	}
}

func TestFetchConv(t *testing.T) {
	s := load(t, testScript)
	tx := newTxn()
	var smp rules.Sample
	f, _ := s.NewFetch("twice", []string{"ab"})
	if !f.Fetch(tx, &smp) || smp.Type != rules.TypeStr || string(smp.Str) != "abab" {
		t.Fatalf("twice: %+v", smp)
	}
	f, _ = s.NewFetch("num", nil)
	if !f.Fetch(tx, &smp) || smp.Type != rules.TypeInt || smp.Int != 42 {
		t.Fatalf("num: %+v", smp)
	}
	f, _ = s.NewFetch("none", nil)
	if !f.Fetch(tx, &smp) || smp.Type != rules.TypeBool || smp.Int != 0 {
		t.Fatalf("none: %+v", smp)
	}
	c, _ := s.NewConv("rev", nil)
	smp = rules.Sample{Type: rules.TypeStr, Str: []byte("abc")}
	if !c.Convert(tx, &smp) || string(smp.Str) != "cba" {
		t.Fatalf("rev: %+v", smp)
	}
}

type fakeApplet struct {
	body   io.Reader
	status int
	hdrs   []rules.Header
	out    bytes.Buffer
}

func (f *fakeApplet) Read(p []byte) (int, error) { return f.body.Read(p) }
func (f *fakeApplet) WriteHead(status int, reason string, hdrs []rules.Header) error {
	f.status, f.hdrs = status, hdrs
	return nil
}
func (f *fakeApplet) Write(p []byte) (int, error) { return f.out.Write(p) }

func TestService(t *testing.T) {
	s := load(t, testScript)
	sv, err := s.NewService("hello")
	if err != nil {
		t.Fatal(err)
	}
	fa := &fakeApplet{body: strings.NewReader("body")}
	if err := sv.ServeHTTP(newTxn(), fa); err != nil {
		t.Fatal(err)
	}
	if fa.status != 201 || len(fa.hdrs) != 1 || string(fa.hdrs[0].Name) != "content-length" || fa.out.String() != "hello GET /p q=1 example body" {
		t.Fatalf("got %d %q %q", fa.status, fa.hdrs, fa.out.String())
	}
	sv, _ = s.NewService("echo")
	var rw struct {
		io.Reader
		bytes.Buffer
	}
	rw.Reader = strings.NewReader("line1\nmore")
	if err := sv.ServeTCP(newTxn(), &struct {
		io.Reader
		io.Writer
	}{rw.Reader, &rw.Buffer}); err != nil {
		t.Fatal(err)
	}
	if got := rw.Buffer.String(); got != "got:line1\nrest:more" {
		t.Fatalf("tcp: %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for src, want := range map[string]string{
		"local x = 1 +\nend\n":                                "test.lua:2: syntax error near 'end'",
		"-- a // comment\nx = '//'\ny = 7 // 2\n":             "test.lua:3: Lua 5.3 integer division '//'",
		"x = 1\ny = a & b\n":                                  "test.lua:2: Lua 5.3 bitwise operator '&'",
		"error('at load')\n":                                  "Lua runtime error: test.lua:1: at load",
		"core.register_service('x', 'udp', function() end)\n": "not a service mode",
	} {
		s := New(nil)
		err := s.Load("test.lua", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// BenchmarkAction runs a Lua action that reads a fetch and sets a header,
// without the proxy around it.
func BenchmarkAction(b *testing.B) {
	s := load(b, `core.register_action("tag", {"http-req"}, function(txn)
  txn.http:req_set_header("x-path", txn.f:path())
end)`)
	a, err := s.NewAction("tag", HookHTTPReq, nil)
	if err != nil {
		b.Fatal(err)
	}
	tx := newTxn()
	hdrs := tx.Req.Headers
	buf := make([]rules.Header, 0, 8)
	method, uri := []byte("GET"), []byte("/p?q=1")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx.Reset()
		tx.Req.Method, tx.Req.URI, tx.Req.Headers = method, uri, append(buf[:0], hdrs...)
		a.Exec(tx)
	}
}

// TestConcurrentCalls runs an action from many goroutines at once: each
// call gets a state of its own (run with -race).
func TestConcurrentCalls(t *testing.T) {
	s := load(t, `
local calls = 0
core.register_action("count", {"http-req"}, function(txn)
  calls = calls + 1
  txn.http:req_set_header("x-calls", calls)
  txn.http:req_set_header("x-path", txn.f:path())
end)`)
	a, err := s.NewAction("count", HookHTTPReq, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				tx := newTxn()
				a.Exec(tx)
				if j := tx.Req.Header([]byte("x-path"), 0); j < 0 || string(tx.Req.Headers[j].Value) != "/p" {
					errs <- fmt.Sprintf("headers %q", tx.Req.Headers)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestVars sets, reads and unsets variables from a script.
func TestVars(t *testing.T) {
	s := load(t, `
core.register_action("vars", {"http-req"}, function(txn)
  local out = {}
  table.insert(out, tostring(txn:set_var("txn.s", "text")))
  txn:set_var("txn.n", 42)
  txn:set_var("txn.b", true)
  txn:set_var("txn.f", 1.5)
  table.insert(out, txn:get_var("txn.s") .. type(txn:get_var("txn.n")) .. txn:get_var("txn.n"))
  table.insert(out, tostring(txn:get_var("txn.b")) .. txn:get_var("txn.f"))
  txn:unset_var("txn.s")
  table.insert(out, tostring(txn:get_var("txn.s")))
  table.insert(out, tostring(txn:set_var("proc.undeclared", "x")))
  table.insert(out, tostring(pcall(txn.set_var, txn, "bad name", "x")))
  txn.http:req_set_header("x-out", table.concat(out, ","))
end)`)
	a, err := s.NewAction("vars", HookHTTPReq, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := newTxn()
	a.Exec(tx)
	i := tx.Req.Header([]byte("x-out"), 0)
	if want := "true,textnumber42,true1.5,nil,false,false"; i < 0 || string(tx.Req.Headers[i].Value) != want {
		t.Fatalf("got %q, want %q", tx.Req.Headers, want)
	}
}
