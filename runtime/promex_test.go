package runtime

import (
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// TestPromex scrapes "http-request use-service prometheus-exporter" after
// some traffic and checks haproxy's metric names, labels and values.
func TestPromex(t *testing.T) {
	ok := newRawServer(t, func(head string, _ []byte) string {
		if strings.HasPrefix(head, "GET /missing") {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	const conf = testDefaults + `frontend fe
    bind 127.0.0.1:0
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend app
backend app
    server s1 ${S}
    server s2 127.0.0.1:1 disabled
`
	_, addr, _ := loadEngine(t, conf, map[string]string{"S": ok.addr()})
	for _, p := range []string{"/", "/", "/missing"} {
		if code, _ := status(t, addr, p); code != 200 && code != 404 {
			t.Fatalf("%s: %d", p, code)
		}
	}
	c := dial(t, addr)
	c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	head, code, body := c.response("GET")
	if code != 200 || !strings.Contains(head, "content-type: text/plain; version=0.0.4\r\n") ||
		!strings.Contains(head, "transfer-encoding: chunked\r\n") {
		t.Fatalf("%d\n%s", code, head)
	}
	for _, want := range []string{
		"# TYPE haproxy_frontend_http_requests_total counter\n",
		`haproxy_frontend_http_requests_total{proxy="fe"} 4`,
		`haproxy_frontend_http_responses_total{proxy="fe",code="2xx"} 2`,
		`haproxy_frontend_http_responses_total{proxy="fe",code="4xx"} 1`,
		`haproxy_frontend_status{proxy="fe",state="UP"} 1`,
		`haproxy_backend_status{proxy="app",state="UP"} 1`,
		`haproxy_backend_active_servers{proxy="app"} 1`,
		`haproxy_backend_http_requests_total{proxy="app"} 3`,
		`haproxy_server_status{proxy="app",server="s1",state="UP"} 1`,
		`haproxy_server_status{proxy="app",server="s2",state="MAINT"} 1`,
		`haproxy_server_sessions_total{proxy="app",server="s1"} 3`,
		`haproxy_server_http_responses_total{proxy="app",server="s1",code="4xx"} 1`,
		`haproxy_process_build_info{version="2.6"} 1`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("missing %q", want)
		}
	}
	c = dial(t, addr)
	c.send("GET /metrics?scope=server&no-maint&metrics=haproxy_server_status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_, _, body = c.response("GET")
	if strings.Contains(body, "haproxy_frontend") || strings.Contains(body, `server="s2"`) ||
		strings.Contains(body, "haproxy_server_weight") || !strings.Contains(body, `server="s1",state="UP"} 1`) {
		t.Errorf("scope=server&no-maint&metrics=haproxy_server_status:\n%s", body)
	}
}

// TestBuiltinServices: every built-in service the parser accepts has code
// in the runtime.
func TestBuiltinServices(t *testing.T) {
	for name := range rules.BuiltinServices {
		if builtins[name] == nil {
			t.Errorf("built-in service %q has no code in the runtime", name)
		}
	}
}
