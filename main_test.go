package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gohap/internal/syncbuf"
)

// gohapBin is the binary built once for the tests that run gohap as a
// process.
var (
	buildOnce sync.Once
	gohapBin  string
	buildErr  error
)

func buildGohap(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gohap-bin")
		if err != nil {
			buildErr = err
			return
		}
		gohapBin = filepath.Join(dir, "gohap")
		out, err := exec.Command("go", "build", "-race", "-o", gohapBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return gohapBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if gohapBin != "" {
		os.RemoveAll(filepath.Dir(gohapBin))
	}
	os.Exit(code)
}

// runCLI runs the command line in-process and returns status and output.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"gohap"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckFlag(t *testing.T) {
	code, out, errs := runCLI("-c", "-f", "testdata/site.cfg")
	if code != 0 || !strings.Contains(out, "Configuration file is valid") {
		t.Fatalf("site.cfg: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runCLI("-c", "-f", "testdata/invalid/many_errors.cfg")
	if code != 1 || out != "" {
		t.Fatalf("many_errors: exit %d, out %q", code, out)
	}
	for _, want := range []string{"[ALERT] testdata/invalid/many_errors.cfg:10:17: use_backend: no such backend 'b1'", "many_errors.cfg:15:13: unknown balance algorithm 'nonsense'", "5 error(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
	// A directory stands for its *.cfg files.
	code, _, errs = runCLI("-c", "-f", "testdata/valid")
	if code != 0 {
		t.Fatalf("directory: exit %d: %s", code, errs)
	}
	if code, _, _ := runCLI("-c", "-f", "testdata/nonexistent.cfg"); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestVersionAndCC(t *testing.T) {
	if code, out, _ := runCLI("-v"); code != 0 || !strings.Contains(out, "HAProxy-compatible 2.6") {
		t.Errorf("-v: %d %q", code, out)
	}
	for expr, want := range map[string]int{"version_atleast(2.4)": 0, "version_before(2.6)": 1, "defined(GOHAP_SURELY_UNSET)": 1, "bogus(": 2, "feature(OPENSSL)": 0, "feature(LUA)": 1, "feature(TPROXY)": 1} {
		if code, _, _ := runCLI("-cc", expr); code != want {
			t.Errorf("-cc %s: exit %d, want %d", expr, code, want)
		}
	}
}

func TestSetVariables(t *testing.T) {
	store := filepath.Join(t.TempDir(), "vars")
	t.Setenv("GOHAP_VARS", store)
	// Unknown name: refused, nothing created in the store.
	code, _, errs := runCLI("-S", "maintenance_mode=true")
	if code != 1 || !strings.Contains(errs, "no variable named 'maintenance_mode'") {
		t.Fatalf("unknown var: %d %q", code, errs)
	}
	// Declared by the config given with -f: accepted.
	if code, _, errs := runCLI("-f", "testdata/site.cfg", "-S", "maintenance_mode=true"); code != 0 {
		t.Fatalf("set with -f: %d %s", code, errs)
	}
	if code, out, _ := runCLI("-S", "maintenance_mode"); code != 0 || out != "maintenance_mode=true\n" {
		t.Fatalf("read back: %d %q", code, out)
	}
	bad := []string{"=x", "a b=1", strings.Repeat("n", 64) + "=1", "maintenance_mode=" + strings.Repeat("v", 241), "maintenance_mode=a\x00b"}
	for _, arg := range bad {
		// Each bad argument is refused before anything is written,
		// even when a good one comes first.
		code, _, errs := runCLI("-S", "maintenance_mode=false", "-S", arg)
		if code != 1 || errs == "" {
			t.Errorf("-S %q: exit %d, err %q", arg, code, errs)
		}
		if _, out, _ := runCLI("-S", "maintenance_mode"); out != "maintenance_mode=true\n" {
			t.Errorf("after bad -S %q the store changed: %q", arg, out)
		}
	}
	if code, out, _ := runCLI("vars"); code != 0 || out != "maintenance_mode=true\n" {
		t.Errorf("vars: %d %q", code, out)
	}
}

// backend is a real HTTP server on loopback that names itself in the body.
func backend(t *testing.T, name string) (port string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend %s %s", name, r.URL.Path)
	})}
	go srv.Serve(ln)
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, func() { srv.Close() }
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startGohap runs the binary on cfg and waits until addr accepts.
func startGohap(t *testing.T, cfg, addr string, env []string, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	bin := buildGohap(t)
	cmd := exec.Command(bin, append([]string{"-d", "-f", cfg}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncbuf.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("gohap log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return cmd, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("gohap did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaintenanceScenario is issue 2's scenario end to end: gohap runs
// site.cfg's logic against real backends while -S flips maintenance_mode;
// every response is a backend's or the maintenance page, none fails, and
// the first request after -S returns already sees the new value.
func TestMaintenanceScenario(t *testing.T) {
	dir := t.TempDir()
	app1, stop1 := backend(t, "app1")
	defer stop1()
	app2, stop2 := backend(t, "app2")
	defer stop2()
	st1, stop3 := backend(t, "st1")
	defer stop3()
	fe := "127.0.0.1:" + freePort(t)
	src, err := os.ReadFile("testdata/site.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("127.0.0.1:8080", fe, "127.0.0.1:9001", "127.0.0.1:"+app1,
		"127.0.0.1:9002", "127.0.0.1:"+app2, "127.0.0.1:9003", "127.0.0.1:"+st1).Replace(string(src))
	cfgPath := filepath.Join(dir, "site.cfg")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	vars := "GOHAP_VARS=" + filepath.Join(dir, "vars")
	startGohap(t, cfgPath, fe, []string{vars})

	maint, err := os.ReadFile("testdata/maintenance.http")
	if err != nil {
		t.Fatal(err)
	}
	maintBody := string(maint[bytes.Index(maint, []byte("\r\n\r\n"))+4:])

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + fe + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	setVar := func(v string) {
		cmd := exec.Command(gohapBin, "-S", "maintenance_mode="+v)
		cmd.Env = append(os.Environ(), vars)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("-S: %v %s", err, out)
		}
	}
	if code, body := get("/site_alive"); code != 200 || !strings.Contains(body, "Service ready") {
		t.Fatalf("/site_alive: %d %q", code, body)
	}
	if _, body := get("/static/x.css"); body != "backend st1 /static/x.css" {
		t.Fatalf("static: %q", body)
	}
	seen := map[string]int{}
	for round := 0; round < 6; round++ {
		on := round%2 == 0
		setVar(fmt.Sprint(on))
		for i := 0; i < 25; i++ {
			code, body := get("/page")
			switch {
			case on && code == 503 && body == maintBody:
				seen["maintenance"]++
			case !on && code == 200 && (body == "backend app1 /page" || body == "backend app2 /page"):
				seen[body]++
			default:
				t.Fatalf("round %d (maintenance %v) request %d: got %d %q", round, on, i, code, body)
			}
			// monitor-uri keeps answering during maintenance
			if i == 0 {
				if code, _ := get("/site_alive"); code != 200 {
					t.Fatalf("/site_alive during round %d: %d", round, code)
				}
			}
		}
	}
	if seen["maintenance"] != 75 || seen["backend app1 /page"] == 0 || seen["backend app2 /page"] == 0 {
		t.Errorf("responses: %v (want 75 maintenance pages and both app servers)", seen)
	}
	// When a backend's last server goes, /site_alive turns 503 (after the
	// health check notices: the first failed check marks a server down).
	stop3()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := get("/site_alive")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/site_alive still %d after static's only server stopped", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDemoConfig runs the README's demo as a process: the site is served
// by gohap itself, and -S flips it into maintenance.
func TestDemoConfig(t *testing.T) {
	dir := t.TempDir()
	fe := "127.0.0.1:" + freePort(t)
	src, _ := os.ReadFile("testdata/demo.cfg")
	cfgPath := filepath.Join(dir, "demo.cfg")
	os.WriteFile(cfgPath, bytes.ReplaceAll(src, []byte("127.0.0.1:8080"), []byte(fe)), 0o644)
	vars := "GOHAP_VARS=" + filepath.Join(dir, "vars")
	pidfile := filepath.Join(dir, "gohap.pid")
	cmd, _ := startGohap(t, cfgPath, fe, []string{vars}, "-p", pidfile)
	if b, err := os.ReadFile(pidfile); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("pid file: %q, %v; want %d", b, err, cmd.Process.Pid)
	}
	get := func(path string) (int, string) {
		c, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "Welcome to the demo site") {
		t.Fatalf("/: %d %q", code, body)
	}
	set := exec.Command(gohapBin, "-S", "maintenance_mode=true")
	set.Env = append(os.Environ(), vars)
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("-S: %v %s", err, out)
	}
	if code, body := get("/"); code != 503 || !strings.Contains(body, "Down for maintenance") {
		t.Fatalf("maintenance: %d %q", code, body)
	}
}
