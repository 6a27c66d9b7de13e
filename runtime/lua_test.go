package runtime

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gohap/runtime/lua"
	"gohap/runtime/rules"
)

// luaConfig writes script to a file and returns src with "SCRIPT"
// replaced by its path.
func luaConfig(t *testing.T, script, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.lua")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(src, "SCRIPT", path)
}

const luaDefaults = `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
`

// TestLuaACMEService runs the frontend of corpus config 088 with an
// ACME http-01 responder: tokens come from the webroot, with the
// service's headers in the order it added them; other requests get the
// https redirect.
func TestLuaACMEService(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, ".well-known", "acme-challenge")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tok123"), []byte("tok123.thumbprint"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_WEBROOT", root)
	script, err := filepath.Abs("../testdata/lua/acme-http01.lua")
	if err != nil {
		t.Fatal(err)
	}
	e := startConfig(t, `
global
    lua-load `+script+luaDefaults+`
frontend http
    bind 127.0.0.1:0
    mode http
    acl url_acme_http01 path_beg /.well-known/acme-challenge/
    http-request use-service lua.acme-http01 if METH_GET url_acme_http01
    redirect scheme https code 301 if !{ ssl_fc }
`)
	c := dial(t, e.Addrs("http")[0].String())
	c.send("GET /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: example.com\r\n\r\n")
	head, status, body := c.response("GET")
	want := "HTTP/1.1 200 OK\r\nserver: haproxy/acme-http01-authenticator\r\ncontent-length: 17\r\ncontent-type: text/plain\r\n\r\n"
	if head != want || body != "tok123.thumbprint" {
		t.Fatalf("token: %d %q %q", status, head, body)
	}
	// Same connection: keep-alive after a service's response.
	c.send("HEAD /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if head, _, _ := c.response("HEAD"); head != want {
		t.Fatalf("HEAD: %q", head)
	}
	c.send("GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if _, status, body := c.response("GET"); status != 404 || body != "resource not found\n" {
		t.Fatalf("missing token: %d %q", status, body)
	}
	c.send("GET /.well-known/acme-challenge/..%2Fsecret HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if _, status, _ := c.response("GET"); status != 404 {
		t.Fatalf("odd token: %d", status)
	}
	c.send("POST /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n")
	if head, status, _ := c.response("POST"); status != 301 || !strings.Contains(head, "location: https://example.com/.well-known/acme-challenge/tok123\r\n") {
		t.Fatalf("POST: %d %q", status, head)
	}
}

// TestLuaServiceBody checks that a service reads a chunked request body,
// and that a body a service leaves unread is skipped so the connection
// serves the next request.
func TestLuaServiceBody(t *testing.T) {
	e := startConfig(t, luaConfig(t, `
core.register_service("echo", "http", function(applet)
  local body = applet:receive()
  local first = applet:getline()
  applet:set_status(200)
  applet:add_header("content-length", #body)
  applet:start_response()
  applet:send(body)
end)
core.register_service("ignore", "http", function(applet)
  applet:set_status(204)
  applet:start_response()
end)
`, "global\n    lua-load SCRIPT\n"+luaDefaults+`
frontend fe
    bind 127.0.0.1:0
    http-request use-service lua.echo if { path /echo }
    http-request use-service lua.ignore
`))
	c := dial(t, e.Addrs("fe")[0].String())
	c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
	if _, status, body := c.response("POST"); status != 200 || body != "hello, world" {
		t.Fatalf("echo: %d %q", status, body)
	}
	c.send("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde")
	if head, status, _ := c.response("POST"); status != 204 || strings.Contains(head, "content-length") {
		t.Fatalf("ignore: %d %q", status, head)
	}
	c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz")
	if _, status, body := c.response("POST"); status != 200 || body != "xyz" {
		t.Fatalf("after an unread body: %d %q", status, body)
	}
}

// TestLuaTCPService runs "tcp-request content use-service" on a mode tcp
// frontend: the service reads lines and answers.
func TestLuaTCPService(t *testing.T) {
	e := startConfig(t, luaConfig(t, `
core.register_service("greet", "tcp", function(applet)
  while true do
    local line = applet:getline()
    if line == "" or line == "quit\n" then break end
    applet:send("hello " .. line)
  end
  applet:send("bye\n")
end)
`, "global\n    lua-load SCRIPT\n"+luaDefaults+`
frontend fe
    mode tcp
    bind 127.0.0.1:0
    tcp-request inspect-delay 1s
    tcp-request content use-service lua.greet
`))
	c, err := net.Dial("tcp", e.Addrs("fe")[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "alice\n")
	if l, _ := br.ReadString('\n'); l != "hello alice\n" {
		t.Fatalf("got %q", l)
	}
	io.WriteString(c, "bob\nquit\n")
	rest, _ := io.ReadAll(br)
	if string(rest) != "hello bob\nbye\n" {
		t.Fatalf("got %q", rest)
	}
}

// TestLuaInitAndTask checks that register_init functions run when the
// engine starts, that a task runs beside the traffic, and that Close
// stops it.
func TestLuaInitAndTask(t *testing.T) {
	dir := t.TempDir()
	e := startConfig(t, luaConfig(t, `
local dir = "`+dir+`"
local function write(name, v)
  local f = io.open(dir .. "/" .. name, "w")
  f:write(v)
  f:close()
end
core.register_init(function() write("init", "ran") end)
core.register_task(function()
  local n = 0
  while true do
    n = n + 1
    write("task", tostring(n))
    core.msleep(1)
  end
end)
`, "global\n    lua-load SCRIPT\n"+luaDefaults+"frontend fe\n    bind 127.0.0.1:0\n"))
	if b, err := os.ReadFile(filepath.Join(dir, "init")); err != nil || string(b) != "ran" {
		t.Fatalf("init: %q %v", b, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "task")); len(b) > 0 && string(b) != "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.Close() // returns once the task stopped
	before, _ := os.ReadFile(filepath.Join(dir, "task"))
	time.Sleep(20 * time.Millisecond)
	if after, _ := os.ReadFile(filepath.Join(dir, "task")); string(after) != string(before) {
		t.Fatalf("the task still runs after Close: %s then %s", before, after)
	}
}

// TestLuaResponseAction runs http-response Lua actions: one rewrites the
// status and a header, one denies (the client gets a 502).
func TestLuaResponseAction(t *testing.T) {
	srv := newRawServer(t, func(head string, _ []byte) string {
		kind := "mark"
		if strings.HasPrefix(head, "GET /deny") {
			kind = "deny"
		}
		return "HTTP/1.1 200 OK\r\nX-Kind: " + kind + "\r\nContent-Length: 2\r\n\r\nok"
	})
	e := startConfig(t, luaConfig(t, `
core.register_action("mark", {"http-res"}, function(txn)
  txn.http:res_set_header("x-status", txn.f:status())
  txn.http:res_set_status(299, "Fine")
end)
core.register_action("deny", {"http-res"}, function(txn) return act.DENY end)
`, "global\n    lua-load SCRIPT\n"+luaDefaults+`
frontend fe
    bind 127.0.0.1:0
    http-response lua.mark if { res.hdr(x-kind) mark }
    http-response lua.deny if { res.hdr(x-kind) deny }
    default_backend be
backend be
    server s1 `+srv.addr()+`
`))
	c := dial(t, e.Addrs("fe")[0].String())
	head, body := c.get("/mark")
	if !strings.HasPrefix(head, "HTTP/1.1 299 Fine\r\n") || !strings.Contains(head, "x-status: 200\r\n") || body != "ok" {
		t.Fatalf("mark: %q %q", head, body)
	}
	c = dial(t, e.Addrs("fe")[0].String())
	if head, _ := c.get("/deny"); !strings.HasPrefix(head, "HTTP/1.1 502 ") {
		t.Fatalf("deny: %q", head)
	}
}

// BenchmarkLuaActionRequest is BenchmarkProxyRequest with a Lua action
// that reads a fetch and sets a header on every request.
func BenchmarkLuaActionRequest(b *testing.B) {
	s := lua.New(nil)
	err := s.Load("bench.lua", []byte(`
core.register_action("tag", {"http-req"}, function(txn)
  txn.http:req_set_header("x-path", txn.f:path())
end)`))
	if err != nil {
		b.Fatal(err)
	}
	act, err := s.NewAction("tag", lua.HookHTTPReq, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := newLoopbackWith(b, rules.Rule{Action: act})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.do(b)
	}
}

// TestLuaReload reloads a configuration whose script has a task and a
// service: the new script's init and service take over, and the old
// task stops.
func TestLuaReload(t *testing.T) {
	dir := t.TempDir()
	script := func(name string) string {
		return `
local function write(file, v)
  local f = io.open("` + dir + `/" .. file, "w")
  f:write(v)
  f:close()
end
core.register_init(function() write("init", "` + name + `") end)
core.register_task(function()
  local n = 0
  while true do
    n = n + 1
    write("` + name + `", tostring(n))
    core.msleep(1)
  end
end)
` + whoService(name)
	}
	cfg := "global\n    lua-load SCRIPT\n" + luaDefaults + "frontend fe\n    bind 127.0.0.1:0\n    http-request use-service lua.who\n"
	e := startConfig(t, luaConfig(t, script("one"), cfg))
	addr := e.Addrs("fe")[0].String()
	if _, body := dial(t, addr).get("/"); body != "one" {
		t.Fatalf("before reload: %q", body)
	}
	reloadLua(t, e, addr, script("two"), cfg)
	if _, body := dial(t, addr).get("/"); body != "two" {
		t.Fatalf("after reload: %q", body)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "init")); string(b) != "two" {
		t.Fatalf("init after reload: %q", b)
	}
	// The old task ends: its counter stops moving.
	deadline := time.Now().Add(5 * time.Second)
	for {
		before, _ := os.ReadFile(filepath.Join(dir, "one"))
		time.Sleep(20 * time.Millisecond)
		after, _ := os.ReadFile(filepath.Join(dir, "one"))
		if string(before) == string(after) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old task still runs")
		}
	}
}

// whoService is a Lua script's HTTP service "who", which answers name.
func whoService(name string) string {
	return `
core.register_service("who", "http", function(applet)
  applet:set_status(200)
  applet:add_header("content-length", "` + strconv.Itoa(len(name)) + `")
  applet:start_response()
  applet:send("` + name + `")
end)`
}

// reloadLua reloads e with cfg, its script and its frontend's address
// addr (for "127.0.0.1:0").
func reloadLua(t *testing.T, e *Engine, addr, script, cfg string) {
	t.Helper()
	res, err := compileString(luaConfig(t, script, strings.Replace(cfg, "127.0.0.1:0", addr, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(res.Graph); err != nil {
		t.Fatal(err)
	}
}

// TestLuaTCPPickBackend is corpus config 137's frontend: a tcp-request
// content Lua action names the backend in a variable that a log-format
// use_backend reads.
func TestLuaTCPPickBackend(t *testing.T) {
	named := func(name string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, name)
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	one, two := named("node01"), named("node02")
	e := startConfig(t, luaConfig(t, `
-- As 137's comments describe its script: go through the backends whose
-- name starts with shardman_node, and pick one whose server is not down.
core.register_action("pick_backend", {"tcp-req"}, function(txn)
  local want = "shardman_node0" .. txn.req:data(0, 1)
  assert(core.frontends["pg"]:get_mode() == "tcp")
  for name, be in pairs(core.backends) do
    if name:find("^shardman_node") and name == want then
      for _, srv in pairs(be.servers) do
        if srv:get_stats()["status"] ~= "DOWN" and srv:get_addr():find("^127%.0%.0%.1:") then
          txn:set_var("req.pgbackend", name)
        end
      end
    end
  end
end)
`, "global\n    lua-load SCRIPT\n"+strings.ReplaceAll(luaDefaults, "mode http", "mode tcp")+`
frontend pg
    bind 127.0.0.1:0
    tcp-request inspect-delay 1s
    tcp-request content lua.pick_backend
    use_backend %[var(req.pgbackend)]
backend shardman_node01
    server s1 `+one+`
backend shardman_node02
    server s1 `+two+`
`))
	for payload, want := range map[string]string{"1hello": "node01", "2hello": "node02"} {
		c, err := net.Dial("tcp", e.Addrs("pg")[0].String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, payload)
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != want {
			t.Errorf("%s: answered by %q, want %q", payload, got, want)
		}
	}
}

// TestReloadResolversAndLua reloads a configuration with both a resolvers
// section and a Lua task: the reload stops the old generation's DNS loop
// and Lua tasks and starts the new ones, and the exporter counts the
// responses of a Lua service, as haproxy's does.
func TestReloadResolversAndLua(t *testing.T) {
	dns := newDNSServer(t)
	dns.setA("app.test", "127.0.0.1")
	okSrv := okServer(t)
	_, port, _ := net.SplitHostPort(okSrv.addr())
	script := func(name string) string {
		return `
core.register_task(function()
  while true do core.msleep(1) end
end)
` + whoService(name)
	}
	cfg := "global\n    lua-load SCRIPT\n" + luaDefaults + `resolvers r
    nameserver dns1 ` + dns.addr() + `
    hold valid 10ms
    timeout resolve 10ms
frontend fe
    bind 127.0.0.1:0
    http-request use-service lua.who if { path /who }
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend b
backend b
    server s1 app.test:` + port + ` resolvers r init-addr none
`
	resolved := func(gen *generation) func() bool {
		ss := gen.backends[0].servers[0]
		return func() bool { return ss.live.Load().addr == "127.0.0.1:"+port }
	}
	e := startConfig(t, luaConfig(t, script("one"), cfg))
	addr := e.Addrs("fe")[0].String()
	prev := e.gen.Load()
	waitFor(t, resolved(prev))
	if _, body := dial(t, addr).get("/who"); body != "one" {
		t.Fatalf("before reload: %q", body)
	}
	reloadLua(t, e, addr, script("two"), cfg)
	next := e.gen.Load()
	if prev.dnsStop != nil || prev.stopExt != nil {
		t.Fatal("the old generation's resolvers or Lua tasks still run")
	}
	if next.dnsStop == nil || next.stopExt == nil {
		t.Fatal("the new generation's resolvers or Lua tasks did not start")
	}
	waitFor(t, resolved(next))
	if _, body := dial(t, addr).get("/who"); body != "two" {
		t.Fatalf("after reload: %q", body)
	}
	if code, _ := status(t, addr, "/"); code != 200 {
		t.Fatalf("backend by name after reload: %d", code)
	}
	_, body := dial(t, addr).get("/metrics?scope=frontend")
	if want := `haproxy_frontend_http_responses_total{proxy="fe",code="2xx"} 2` + "\n"; !strings.Contains(body, want) {
		t.Errorf("missing %q in\n%s", want, body)
	}
}

// TestLuaTasksInLeaderOnly: with worker processes, each runs the
// register_init functions (its own Lua states need what they set up), and
// only the leader runs the tasks, which haproxy runs once.
func TestLuaTasksInLeaderOnly(t *testing.T) {
	dir := t.TempDir()
	workerPair(t, luaConfig(t, `
local dir = "`+dir+`"
local function add(name)
  local f = io.open(dir .. "/" .. name, "a")
  f:write("x")
  f:close()
end
core.register_init(function() add("init") end)
core.register_task(function() add("task") end)
`, "global\n    lua-load SCRIPT\n"+luaDefaults+"frontend fe\n    bind 127.0.0.1:0\n"))
	if b, err := os.ReadFile(filepath.Join(dir, "init")); err != nil || string(b) != "xx" {
		t.Fatalf("init functions ran %q (%v), want once in each of the two processes", b, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "task")); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a follower's task would have run by now
	if b, _ := os.ReadFile(filepath.Join(dir, "task")); string(b) != "x" {
		t.Fatalf("the task ran %d times, want once", len(b))
	}
}
