package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInheritedSocket hands gohap an already-listening socket as fd 3, as
// a service manager or test harness does, named "fd@${LISTEN_FD}": gohap
// must serve on it without binding the address again.
func TestInheritedSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // the duplicate in f keeps the socket listening
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addr := ln.Addr().String()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fd.cfg")
	os.WriteFile(cfg, []byte(`defaults
    mode http
    timeout client 5s
frontend inherited
    bind "fd@${LISTEN_FD}"
    http-request return status 200 content-type text/plain string "from an inherited socket"
`), 0o644)
	cmd := exec.Command(buildGohap(t), "-f", cfg)
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	cmd.Env = append(os.Environ(), "LISTEN_FD=3", "GOHAP_VARS="+filepath.Join(dir, "vars"))
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// stop ends gohap; its log may be read only after.
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	defer stop()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "from an inherited socket" {
				t.Fatalf("body %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no answer on the inherited socket: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if strings.Contains(logs.String(), "cannot bind") {
		t.Errorf("gohap tried to bind: %s", logs.String())
	}
}
