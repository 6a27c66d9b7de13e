package parser

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"gohap/runtime/rules"
	"gohap/shm"
)

// fakeState says every server is up unless listed as down.
type fakeState map[string]int

func (f fakeState) Usable(b *rules.Backend) int {
	if n, ok := f[b.Name]; ok {
		return n
	}
	return len(b.Servers)
}

func (f fakeState) ServerStatus(*rules.Server) string { return "UP" }

// pickBackend runs a frontend's rules the way the runtime does and names
// the backend chosen, or "reply:N" when a rule answered.
func pickBackend(fe *rules.Frontend, t *rules.Txn) string {
	if rules.Run(fe.HTTPRequest, t) == rules.Answer {
		return "reply:" + itoa(t.Reply.Status)
	}
	if be := fe.PickBackend(t); be != nil {
		return be.Name
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func newTxn(method, uri string, vars rules.VarStore, state rules.StateView, hdrs ...string) *rules.Txn {
	t := &rules.Txn{Vars: vars, State: state, Src: netip.MustParseAddrPort("10.1.2.3:5555")}
	t.Req.Method, t.Req.URI, t.Req.Version = []byte(method), []byte(uri), []byte("HTTP/1.1")
	for i := 0; i+1 < len(hdrs); i += 2 {
		t.Req.Headers = append(t.Req.Headers, rules.Header{Name: []byte(hdrs[i]), Value: []byte(hdrs[i+1])})
	}
	return t
}

func openStore(t testing.TB) *shm.Store {
	s, err := shm.Open(filepath.Join(t.TempDir(), "vars"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func compileSite(t testing.TB, store *shm.Store) *rules.Graph {
	src := `
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend www
    bind 127.0.0.1:8080
    acl site_dead nbsrv(dynamic) lt 1
    acl site_dead nbsrv(static)  lt 1
    acl variable maintenance_mode true
    acl m2 var(proc.maintenance_mode) -m str true
    acl is_api hdr(host) -i api.example.com
    acl from_lan src 10.0.0.0/8
    monitor-uri   /site_alive
    monitor fail  if site_dead
    http-request deny if { path_beg /admin } !from_lan
    http-request return status 200 content-type text/plain string ok if { path /ping }
    use_backend maintenance if maintenance_mode
    use_backend api if is_api METH_GET || { hdr_cnt(x-api) gt 0 }
    use_backend static if { path_beg /static/ /images/ } or { path_end -i .css }
    default_backend dynamic
backend dynamic
    server app1 127.0.0.1:9001 check
    server app2 127.0.0.1:9002 check
backend static
    server st1 127.0.0.1:9003 check
backend api
    server a1 127.0.0.1:9004
backend maintenance
`
	p, err := ParseFile("site.cfg", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compile([]*Parsed{p}, Config{Var: store.Resolve})
	if err != nil {
		t.Fatal(err)
	}
	return res.Graph
}

func TestScenarioRules(t *testing.T) {
	store := openStore(t)
	g := compileSite(t, store)
	fe := g.Frontends[0]
	up := fakeState{}
	cases := []struct {
		method, uri string
		hdrs        []string
		maint       string
		want        string
	}{
		{"GET", "/", nil, "", "dynamic"},
		{"GET", "/static/a.png", nil, "", "static"},
		{"GET", "/images/x", nil, "", "static"},
		{"GET", "/x/STYLE.CSS", nil, "", "static"},
		{"GET", "/staticx", nil, "", "dynamic"},
		{"GET", "http://h/static/a?q", nil, "", "static"},
		{"GET", "/", nil, "true", "maintenance"},
		{"GET", "/static/a", nil, "true", "maintenance"},
		{"GET", "/", nil, "false", "dynamic"},
		{"GET", "/", nil, "TRUE", "dynamic"}, // exact, case-sensitive match
		{"GET", "/", []string{"Host", "API.example.com"}, "", "api"},
		{"POST", "/", []string{"Host", "api.example.com"}, "", "dynamic"},
		{"POST", "/", []string{"X-Api", "1"}, "", "api"},
		{"GET", "/ping", nil, "true", "reply:200"},
		{"GET", "/admin/x", nil, "", "dynamic"}, // from 10.1.2.3: allowed
	}
	for _, c := range cases {
		if err := store.Set("maintenance_mode", c.maint); err != nil {
			t.Fatal(err)
		}
		tx := newTxn(c.method, c.uri, store, up, c.hdrs...)
		if got := pickBackend(fe, tx); got != c.want {
			t.Errorf("%s %s %v maint=%q: got %s, want %s", c.method, c.uri, c.hdrs, c.maint, got, c.want)
		}
	}
	// deny for a client outside the LAN
	tx := newTxn("GET", "/admin", store, up)
	tx.Src = netip.MustParseAddrPort("192.0.2.1:1")
	if got := pickBackend(fe, tx); got != "reply:403" {
		t.Errorf("admin from outside: got %s", got)
	}
	// monitor fail follows nbsrv
	for _, c := range []struct {
		state fakeState
		fail  bool
	}{{fakeState{}, false}, {fakeState{"static": 0}, true}, {fakeState{"dynamic": 0}, true}} {
		tx := newTxn("GET", "/site_alive", store, c.state)
		failed := false
		for _, cond := range fe.MonitorFail {
			failed = failed || cond.Eval(tx)
		}
		if failed != c.fail {
			t.Errorf("state %v: monitor fail %v, want %v", c.state, failed, c.fail)
		}
	}
	// acl variable and var(proc.NAME) read the same store slot
	if len(g.Vars) != 1 || g.Vars[0].Name != "maintenance_mode" {
		t.Errorf("vars %+v", g.Vars)
	}
}

func TestHeaderACLValues(t *testing.T) {
	store := openStore(t)
	src := `
defaults
    mode http
frontend f
    bind :80
    acl a hdr(x-list) b
    acl f hdr(x-list) -m found
    acl one hdr(x-list,1) a
    acl last hdr(x-list,-1) d
    acl fh req.fhdr(x-list) "b, c"
    http-request return status 201 if a
    http-request return status 202 if f one last fh
    http-request return status 203
`
	res := mustCompile(t, src, Config{Var: store.Resolve})
	fe := res.Graph.Frontends[0]
	run := func(h ...string) string { return pickBackend(fe, newTxn("GET", "/", store, fakeState{}, h...)) }
	if got := run("X-List", "a, b"); got != "reply:201" {
		t.Errorf("comma-split value: got %s", got)
	}
	if got := run("X-List", "a", "x-list", "b, c", "X-LIST", "d"); got != "reply:201" {
		t.Errorf("second occurrence: got %s", got)
	}
	if got := run("X-List", "a", "x-list", "x, c", "X-LIST", "d"); got != "reply:203" {
		t.Errorf("fhdr wants the full value 'b, c': got %s", got)
	}
	if got := run("X-List", "a", "x-list", "b, c", "X-LIST", "d", "x-other", "1"); got != "reply:201" {
		t.Errorf("got %s", got)
	}
	if got := run(); got != "reply:203" {
		t.Errorf("no header: got %s", got)
	}
}

func TestNegatedAnonymousACL(t *testing.T) {
	store := openStore(t)
	src := `
defaults
    mode http
frontend f
    bind :80
    acl api path_beg /api
    http-request return status 201 if !{ path_beg /x } !!{ path_end .json } !api
    http-request return status 202 if ! { path_beg /x }
    http-request return status 203
`
	res := mustCompile(t, src, Config{Var: store.Resolve})
	fe := res.Graph.Frontends[0]
	for uri, want := range map[string]string{"/a.json": "reply:201", "/a.html": "reply:202", "/api/a.json": "reply:202", "/x.json": "reply:203"} {
		if got := pickBackend(fe, newTxn("GET", uri, store, fakeState{})); got != want {
			t.Errorf("%s: got %s, want %s", uri, got, want)
		}
	}
}

func TestServerTemplate(t *testing.T) {
	res := mustCompile(t, "backend b\n    default-server inter 3s\n    server-template web- 3 127.0.0.1:80 check resolvers docker init-addr libc,none\n    server-template x 5-6 127.0.0.1:81\nresolvers docker\n    nameserver dns1 127.0.0.11:53\n", Config{})
	var got []string
	for _, s := range res.Graph.Backends[0].Servers {
		got = append(got, s.Name+"="+s.Addr)
		if s.Name[0] == 'w' && (!s.Check || s.Inter.String() != "3s") {
			t.Errorf("%s: check %v inter %v", s.Name, s.Check, s.Inter)
		}
	}
	want := "web-1=127.0.0.1:80 web-2=127.0.0.1:80 web-3=127.0.0.1:80 x5=127.0.0.1:81 x6=127.0.0.1:81"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("servers: %s, want %s", g, want)
	}
}

// TestResolvers compiles a resolvers section (haproxy's defaults for what
// it does not set) and the servers that use it: a host name, an SRV
// template, and a server whose address is an IP (nothing to resolve).
func TestResolvers(t *testing.T) {
	src := `backend b
    server-template srv 2 _http._tcp.svc.local resolvers dns check
    server h app.local:8080 resolvers dns resolve-prefer ipv4 init-addr last,10.0.0.1,none port 9000
    server ip 127.0.0.1:80 resolvers dns
resolvers dns
    nameserver a 127.0.0.1:5353
    nameserver b udp@[::1]:53
    resolve_retries 5
    timeout retry 2s
    hold valid 20s
    hold obsolete 5s
    accepted_payload_size 1232
`
	res := mustCompile(t, src, Config{})
	r := res.Graph.Resolvers[0]
	got := fmt.Sprintf("%s %v %d %v %v %v %v %v %d", r.Name, r.Nameservers, r.Retries, r.Resolve, r.Retry,
		r.Hold.Valid, r.Hold.NX, r.Hold.Obsolete, r.PayloadSize)
	if want := "dns [127.0.0.1:5353 [::1]:53] 5 1s 2s 20s 30s 5s 1232"; got != want {
		t.Errorf("resolvers: %s, want %s", got, want)
	}
	var srvs []string
	for _, s := range res.Graph.Backends[0].Servers {
		srvs = append(srvs, fmt.Sprintf("%s:%s|%s|%s|%v|%s|%d", s.Name, s.Addr, s.SRVName, s.Hostname, s.Resolvers != nil, s.ResolvePrefer, len(s.InitAddr)))
	}
	want := "srv1:|_http._tcp.svc.local||true|ipv6|0 srv2:|_http._tcp.svc.local||true|ipv6|0 " +
		"h:app.local:8080||app.local|true|ipv4|3 ip:127.0.0.1:80|||true|ipv6|0"
	if g := strings.Join(srvs, " "); g != want {
		t.Errorf("servers:\n%s\nwant\n%s", g, want)
	}
	for _, bad := range []string{
		"backend b\n    server s x:80 resolvers nope\n",
		"resolvers r\n    nameserver a 1.2.3.4\n",
		"resolvers r\n    hold foo 1s\n",
		"resolvers r\n    nameserver a tcp@1.2.3.4:53\n",
		"backend b\n    server s x:80 init-addr dns\n",
	} {
		p, err := ParseFile("t.cfg", bad, Options{})
		if err == nil {
			_, err = Compile([]*Parsed{p}, Config{})
		}
		if err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// mustCompile parses and compiles src as file t.cfg, failing the test on
// any error.
func mustCompile(t testing.TB, src string, cfg Config) *Result {
	t.Helper()
	p, err := ParseFile("t.cfg", src, cfg.Options)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compile([]*Parsed{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestConverters(t *testing.T) {
	res := mustCompile(t, `
frontend f
    mode http
    bind :80
    acl api hdr(host),lower -m beg api.
    http-request set-header X-Swap "%[req.hdr(x-a),regsub(^(.)(.),\2\1)]"
    http-request set-header X-Len "%[req.hdr(x-a),length]"
    http-request set-header X-Api yes if api
`, Config{})
	fe := res.Graph.Frontends[0]
	run := func(host string) map[string]string {
		tx := newTxn("GET", "/", nil, fakeState{}, "Host", host, "X-A", "abcd")
		rules.Run(fe.HTTPRequest, tx)
		got := map[string]string{}
		for _, h := range tx.Req.Headers {
			got[string(h.Name)] = string(h.Value)
		}
		return got
	}
	if got := run("API.example.com"); got["x-swap"] != "bacd" || got["x-len"] != "4" || got["x-api"] != "yes" {
		t.Errorf("headers %v", got)
	}
	if got := run("www.example.com"); got["x-api"] != "" {
		t.Errorf("x-api set for www: %v", got)
	}
	api := fe.HTTPRequest[2].Cond
	tx := newTxn("GET", "/", nil, fakeState{}, "Host", "API.example.com")
	if n := testing.AllocsPerRun(100, func() { api.Eval(tx) }); n != 0 {
		t.Errorf("converter in an ACL: %v allocations", n)
	}
}
