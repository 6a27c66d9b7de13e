package parser

import (
	"strings"
	"testing"

	"gohap/runtime/rules"
)

const varSite = `
defaults
    mode http
frontend f
    bind :80
    tcp-request connection set-var(sess.conn) str(yes)
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var(req.n) req.hdr_cnt(x)
    http-request set-var-fmt(txn.from) "%[src]:%[src_port]"
    http-request set-var(sess.first,ifnotexists) path
    http-request set-var(proc.last) path
    http-request set-var(txn.low,iflt) int(5)
    http-request set-var(txn.low,iflt) int(9)
    http-request set-var(txn.gone) str(x)
    http-request unset-var(txn.gone)
    http-request set-var(txn.conv) str(hello),set-var(txn.orig),upper
    http-request set-var(req.pgbackend) req.hdr(x-be)
    acl www var(txn.host) -m str www.example.com
    acl many var(req.n) -m int ge 2
    acl gone var(txn.gone) -m found
    use_backend %[var(req.pgbackend)] if { var(req.pgbackend) -m found }
    use_backend many if many
    use_backend gone if gone
    use_backend be_%[var(txn.host)]
    use_backend www if www
    default_backend other
    http-response set-var(res.status) status
    http-response set-var-fmt(txn.seen) "req=%[var(req.n)] res=%[var(res.status)] txn=%[var(txn.host)]"
backend be_api.example.com
backend many
backend www
backend gone
backend other
`

// varValue reads variable full ("txn.host") of t as text, or "<unset>".
func varValue(t *testing.T, g *rules.Graph, tx *rules.Txn, full string) string {
	t.Helper()
	scope, name, err := rules.ParseVarName(full)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := g.VarTable.Lookup(scope, name)
	if !ok {
		t.Fatalf("%s is not in the table", full)
	}
	var s rules.Sample
	if !tx.LoadVar(v, &s) {
		return "<unset>"
	}
	switch s.Type {
	case rules.TypeInt:
		return "int:" + itoa(int(s.Int))
	case rules.TypeIP:
		return "ip:" + s.Addr.String()
	}
	return string(s.Str)
}

func TestVarActions(t *testing.T) {
	store := openStore(t)
	res := mustCompile(t, varSite, Config{Var: store.Resolve})
	g, fe := res.Graph, res.Graph.Frontends[0]
	tx := newTxn("GET", "/one", store, fakeState{}, "Host", "WWW.Example.com", "X", "1", "X", "2")
	tx.UseVarTable(&g.VarTable)
	rules.Run(fe.TCPConnection, tx)
	rules.Run(fe.HTTPRequest, tx)
	want := map[string]string{
		"txn.host": "www.example.com", "req.n": "int:2", "txn.from": "10.1.2.3:5555",
		"sess.first": "/one", "sess.conn": "yes", "proc.last": "/one", "txn.low": "int:9",
		"txn.gone": "<unset>", "txn.conv": "HELLO", "txn.orig": "hello", "req.pgbackend": "<unset>",
	}
	for name, w := range want {
		if got := varValue(t, g, tx, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	// The typed int compares as an int; use_backend rules see the vars.
	if got := pickBackend(fe, tx); got != "many" {
		t.Errorf("backend %q, want many", got)
	}

	// The response: req variables are gone, res and txn ones are there.
	tx.InResponse, tx.Resp.Status = true, 404
	rules.Run(fe.HTTPResponse, tx)
	if got := varValue(t, g, tx, "txn.seen"); got != "req= res=404 txn=www.example.com" {
		t.Errorf("txn.seen = %q", got)
	}
	if got := varValue(t, g, tx, "req.n"); got != "<unset>" {
		t.Errorf("req.n in the response = %q", got)
	}

	// The next request of the connection: txn variables are new, sess
	// ones stay; ifnotexists keeps the first path.
	tx.Reset()
	tx.Req.URI = []byte("/two")
	tx.Req.Headers = append(tx.Req.Headers[:0], rules.Header{Name: []byte("Host"), Value: []byte("api.example.com")})
	if got := varValue(t, g, tx, "txn.host"); got != "<unset>" {
		t.Errorf("txn.host after Reset = %q", got)
	}
	rules.Run(fe.HTTPRequest, tx)
	if got := varValue(t, g, tx, "sess.first"); got != "/one" {
		t.Errorf("sess.first = %q", got)
	}
	if got, _ := store.Get("last"); got != "/two" {
		t.Errorf("proc.last in the store = %q", got)
	}
	if got := pickBackend(fe, tx); got != "be_api.example.com" {
		t.Errorf("dynamic backend %q, want be_api.example.com", got)
	}
	tx.EndSession()
	if got := varValue(t, g, tx, "sess.first"); got != "<unset>" {
		t.Errorf("sess.first after EndSession = %q", got)
	}
}

// TestDynamicBackend checks haproxy's rule for log-format backend names:
// a name that is no backend ends the search at default_backend, even when
// a later rule would match.
func TestDynamicBackend(t *testing.T) {
	store := openStore(t)
	res := mustCompile(t, varSite, Config{Var: store.Resolve})
	fe := res.Graph.Frontends[0]
	for _, c := range []struct{ host, be, want string }{
		{"api.example.com", "", "be_api.example.com"},
		{"www.example.com", "", "other"}, // no be_www.example.com: not the next rule, www
		{"www.example.com", "gone", "gone"},
		{"www.example.com", "nosuch", "other"},
		{"www.example.com", "be_api.example.com", "be_api.example.com"},
	} {
		hdrs := []string{"Host", c.host}
		if c.be != "" {
			hdrs = append(hdrs, "X-Be", c.be)
		}
		tx := newTxn("GET", "/", store, fakeState{}, hdrs...)
		tx.UseVarTable(&res.Graph.VarTable)
		rules.Run(fe.HTTPRequest, tx)
		if got := pickBackend(fe, tx); got != c.want {
			t.Errorf("host %s x-be %q: %s, want %s", c.host, c.be, got, c.want)
		}
	}
}

func TestVarWarnings(t *testing.T) {
	res := mustCompile(t, `
defaults
    mode http
    timeout client 1s
frontend f
    bind :80
    tcp-request connection set-var(txn.a) src
    tcp-request session set-var(req.b) src
    tcp-request session set-var(sess.ok) src
    http-request set-var(res.c) src
    http-response set-var(req.d) status
    default_backend b
backend b
`, Config{})
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"t.cfg:7:5: 'tcp-request connection set-var(txn.a)' does nothing: there is no transaction yet; only 'proc' and 'sess' variables can be set here",
		"t.cfg:8:5: 'tcp-request session set-var(req.b)' does nothing: there is no transaction yet; only 'proc' and 'sess' variables can be set here",
		"t.cfg:10:5: 'http-request set-var(res.c)' does nothing: 'res' variables exist only while the response is processed",
		"t.cfg:11:5: 'http-response set-var(req.d)' does nothing: 'req' variables exist only while the request is processed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestVarRulesAllocateNothing runs set-var, set-var-fmt, a var ACL and a
// dynamic use_backend in steady state: the variables' buffers are reused.
func TestVarRulesAllocateNothing(t *testing.T) {
	store := openStore(t)
	res := mustCompile(t, varSite, Config{Var: store.Resolve})
	fe := res.Graph.Frontends[0]
	tx := newTxn("GET", "/static/app.css", store, fakeState{}, "Host", "api.example.com", "X", "1")
	tx.UseVarTable(&res.Graph.VarTable)
	req := tx.Req
	run := func() {
		tx.Reset()
		tx.Req = req
		rules.Run(fe.HTTPRequest, tx)
		pickBackend(fe, tx)
		tx.InResponse = true
		rules.Run(fe.HTTPResponse, tx)
		tx.InResponse = false
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// BenchmarkSetVarACL measures the pattern of cfg 095: a txn variable set
// from the Host header, then ACLs and use_backend on it.
func BenchmarkSetVarACL(b *testing.B) {
	res := mustCompile(b, `
defaults
    mode http
frontend f
    bind :80
    acl app var(txn.txnhost) -m str -i app1.example.com
    acl app_crt var(txn.txnhost) -m reg -i ^app1\.example\.com(:([0-9]){1,5})?$
    http-request set-var(txn.txnhost) hdr(host)
    use_backend app if app app_crt
    default_backend other
backend app
backend other
`, Config{})
	fe := res.Graph.Frontends[0]
	tx := newTxn("GET", "/", nil, fakeState{}, "Host", "app1.example.com")
	tx.UseVarTable(&res.Graph.VarTable)
	req := tx.Req
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx.Reset()
		tx.Req = req
		if got := pickBackend(fe, tx); got != "app" {
			b.Fatal(got)
		}
	}
}
