package runtime

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serveOn answers every request on ln with name.
func serveOn(t *testing.T, ln net.Listener, name string) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, name)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// TestServerAddressForms covers a server without port (reached on the
// port the client came in on), a unix socket path and an abstract socket.
func TestServerAddressForms(t *testing.T) {
	same, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, same, "same-port")
	port := same.Addr().(*net.TCPAddr).Port
	sock := filepath.Join(t.TempDir(), "be.sock")
	unixLn, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, unixLn, "unix")
	abns := "gohap-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	abnsLn, err := net.Listen("unix", "@"+abns)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, abnsLn, "abns")

	e := startConfig(t, testDefaults+fmt.Sprintf(`frontend f
    bind 127.0.0.2:%d
    use_backend unixbe if { path_beg /unix }
    use_backend abnsbe if { path_beg /abns }
    default_backend portless
backend portless
    server s 127.0.0.1
backend unixbe
    server s %s
backend abnsbe
    server s abns@%s
`, port, sock, abns))
	addr := e.Addrs("f")[0].String()
	for path, want := range map[string]string{"/": "same-port", "/unix": "unix", "/abns": "abns"} {
		for i := 0; i < 2; i++ { // the second request reuses or redials
			resp, body := statsGet(t, addr, path, "")
			if resp.StatusCode != 200 || body != want {
				t.Errorf("%s: %d %q, want %q", path, resp.StatusCode, body, want)
			}
		}
	}
	for _, c := range []struct{ line, want string }{
		{"server s 127.0.0.1 check", "its health check needs 'port'"},
		{"server s 127.0.0.1:+1", "port offsets"},
	} {
		_, err := compileString("backend b\n    " + c.line + "\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.line, err, c.want)
		}
	}
	if _, err := compileString("backend b\n    server s 127.0.0.1 check port 80\n"); err != nil {
		t.Errorf("port-less server with check port: %v", err)
	}
}
