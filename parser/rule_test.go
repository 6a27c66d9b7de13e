package parser

import (
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// TestHTTPAfterResponse checks where http-after-response rules go and
// what their actions do to a response head.
func TestHTTPAfterResponse(t *testing.T) {
	res := mustCompile(t, checkHead+`frontend f
    bind :80
    http-after-response set-header X-A "s=%[status]"
    http-after-response add-header x-b 1 if { status 503 }
    http-after-response replace-value cache-control ^public$ priv\0
    http-after-response replace-header x-h (pub)lic <\1>
    http-after-response del-header server
    http-after-response set-var(txn.st) status
    http-after-response set-var-fmt(txn.f) "got %[status]"
    http-after-response unset-var(txn.f) unless { status 503 }
    http-after-response allow
    http-after-response set-status 299
    default_backend b
backend b
    http-after-response set-status 503 reason "Closed Now"
    http-response set-status 418
listen l
    bind :81
    http-after-response set-header x-l 1
`, Config{})
	fe, be, l := res.Graph.Frontends[0], res.Graph.Backends[0], res.Graph.Frontends[1]
	if len(fe.HTTPAfterResponse) != 10 || len(fe.HTTPResponse) != 0 || len(be.HTTPAfterResponse) != 1 || len(be.HTTPResponse) != 1 {
		t.Fatalf("rule counts: fe %d/%d be %d/%d", len(fe.HTTPAfterResponse), len(fe.HTTPResponse), len(be.HTTPAfterResponse), len(be.HTTPResponse))
	}
	if len(l.HTTPAfterResponse) != 1 || len(res.Graph.Backends[1].HTTPAfterResponse) != 0 {
		t.Errorf("a listen section's rules belong to its frontend half")
	}
	tx := newTxn("GET", "/", nil, nil)
	tx.UseVarTable(&res.Graph.VarTable)
	tx.InResponse, tx.Resp.Status = true, 200
	for _, h := range [][2]string{{"server", "x"}, {"cache-control", `max-age=1,  public ,"a,public", public`}, {"x-h", "one public two"}} {
		tx.Resp.Headers = append(tx.Resp.Headers, rules.Header{Name: []byte(h[0]), Value: []byte(h[1])})
	}
	if v := rules.Run(be.HTTPAfterResponse, tx); v != rules.Continue || tx.Resp.Status != 503 || string(tx.Resp.Reason) != "Closed Now" {
		t.Errorf("backend: %v, status %d %q", v, tx.Resp.Status, tx.Resp.Reason)
	}
	if v := rules.Run(fe.HTTPAfterResponse, tx); v != rules.Stop {
		t.Errorf("allow: verdict %v, want stop", v)
	}
	if tx.Resp.Status != 503 {
		t.Errorf("set-status after allow ran: %d", tx.Resp.Status)
	}
	var got []string
	for _, h := range tx.Resp.Headers {
		got = append(got, string(h.Name)+": "+string(h.Value))
	}
	// replace-value as haproxy 2.6.12 rewrote the same header.
	want := []string{`cache-control: max-age=1,privpublic,"a,public",privpublic`, "x-h: <pub>", "x-a: s=503", "x-b: 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("headers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHTTPAfterResponseErrors checks the forms rejected at config check.
func TestHTTPAfterResponseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"http-after-response capture res.hdr(x) id 0":    "t.cfg:8:25: 'http-after-response capture' is not supported",
		"http-after-response strict-mode on":             "t.cfg:8:25: 'http-after-response strict-mode' is not supported",
		"http-after-response lua.foo":                    "t.cfg:8:25: 'http-after-response lua.foo' is not supported",
		"http-after-response deny":                       "t.cfg:8:25: 'http-after-response deny' is not supported",
		"http-after-response":                            "t.cfg:8:5: 'http-after-response' expects an action",
		"http-after-response set-status abc":             "t.cfg:8:36: 'http-after-response set-status': 'abc' is not a valid integer",
		"http-after-response set-status 99":              "t.cfg:8:36: 'http-after-response set-status': '99' is out of range [100..999]",
		"http-after-response set-status 200 because x":   "t.cfg:8:5: 'http-after-response set-status' expects a status code and optionally 'reason TEXT'",
		"http-after-response allow x":                    "t.cfg:8:31: 'http-after-response allow' takes no argument",
		"http-after-response set-header x":               "t.cfg:8:5: 'http-after-response set-header' expects a header name and a value",
		"http-after-response replace-value x ( y":        "t.cfg:8:41: invalid regex '('",
		"http-after-response set-var(txn.x)":             "t.cfg:8:25: 'http-after-response set-var(txn.x)' expects a sample expression",
		"http-after-response set-header x 1 if { nope }": "unknown fetch",
		"http-response capture res.hdr(x) id 0":          "t.cfg:8:19: 'http-response capture' is not supported",
		"tcp-response content accept":                    "t.cfg:8:5: 'tcp-response' is not supported",
	} {
		_, err := compileString(t, checkHead+"frontend f\n    bind :80\n    "+src+"\n")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", src, err, want)
		}
	}
	_, err := compileString(t, checkHead+" http-after-response set-header x 1\n")
	if want := "t.cfg:6:2: 'http-after-response' is not supported in 'defaults' section"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("defaults: got %v, want %q", err, want)
	}
}
