package runtime

import (
	"fmt"
	"gohap/internal/syncbuf"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// checkedServer answers /check with the current code and anything else
// with its name.
func checkedServer(t *testing.T, name string, code *atomic.Int32) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/check" {
			w.WriteHeader(int(code.Load()))
			return
		}
		fmt.Fprint(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestDisableOn404(t *testing.T) {
	var c1, c2 atomic.Int32
	c1.Store(200)
	c2.Store(200)
	s1 := checkedServer(t, "s1", &c1)
	s2 := checkedServer(t, "s2", &c2)
	res, err := compileString(testDefaults + fmt.Sprintf(`frontend f
    bind 127.0.0.1:0
    http-request return status 200 content-type text/plain lf-string "%%[nbsrv(app)]" if { path /nbsrv }
    stats enable
    default_backend app
backend app
    option httpchk GET /check
    http-check disable-on-404
    http-check expect status 200
    server s1 %s check inter 50ms fall 1 rise 1
    server s2 %s check inter 50ms fall 1 rise 1
`, s1, s2))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	e, err := New(Config{Graph: res.Graph, Log: log.New(logs, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fe := e.Addrs("f")[0].String()
	bodies := func() map[string]int {
		seen := map[string]int{}
		for i := 0; i < 6; i++ {
			_, b := statsGet(t, fe, "/x", "")
			seen[b]++
		}
		return seen
	}
	c1.Store(404)
	time.Sleep(300 * time.Millisecond)
	if seen := bodies(); seen["s1"] != 0 || seen["s2"] != 6 {
		t.Errorf("s1 answers 404 to checks: traffic %v, want all on s2", seen)
	}
	if _, b := statsGet(t, fe, "/nbsrv", ""); b != "1" {
		t.Errorf("nbsrv with s1 draining: %q, want 1", b)
	}
	if _, csv := statsGet(t, fe, "/haproxy?stats;csv", ""); !strings.Contains(csv, "app,s1,") || !strings.Contains(csv, ",NOLB,") {
		t.Errorf("stats do not show s1 as NOLB:\n%s", csv)
	}
	if strings.Contains(logs.String(), "s1 is DOWN") {
		t.Errorf("a 404 marked s1 down:\n%s", logs.String())
	}
	c1.Store(200)
	time.Sleep(300 * time.Millisecond)
	if seen := bodies(); seen["s1"] == 0 || seen["s2"] == 0 {
		t.Errorf("s1 answers 200 again: traffic %v, want both", seen)
	}
	// A stopped server stays stopped even if it answers 404.
	c2.Store(500)
	time.Sleep(300 * time.Millisecond)
	c2.Store(404)
	time.Sleep(300 * time.Millisecond)
	waitUp(t, e, 0, 1, false)
}
