package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadSignal reloads a running gohap with SIGUSR2: a changed file
// takes effect on the same address, and a file with errors is refused
// while the running configuration goes on serving. SIGHUP only logs.
func TestReloadSignal(t *testing.T) {
	dir := t.TempDir()
	fe := "127.0.0.1:" + freePort(t)
	cfgPath := filepath.Join(dir, "site.cfg")
	write := func(text string) {
		if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site := func(answer string) string {
		return fmt.Sprintf("defaults\n    mode http\n    timeout client 5s\n\nfrontend web\n    bind %s\n    http-request return status 200 content-type text/plain string %s\n", fe, answer)
	}
	write(site("one"))
	cmd, logs := startGohap(t, cfgPath, fe, []string{"GOHAP_VARS=" + filepath.Join(dir, "vars")})
	// A new connection each time: with worker processes, a connection an
	// old follower holds gets its next answer from the old configuration,
	// as from haproxy's old process after a reload.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() string {
		resp, err := client.Get("http://" + fe + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// waitLog waits for the n-th line containing s in gohap's log.
	waitLog := func(s string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), s) < n; {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in gohap's log:\n%s", s, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := get(); got != "one" {
		t.Fatalf("before reload: %q", got)
	}

	write(site("two"))
	cmd.Process.Signal(syscall.SIGUSR2)
	waitLog("reloaded", 1)
	if got := get(); got != "two" {
		t.Errorf("after reload: %q, want two", got)
	}

	// SIGHUP logs the state, as haproxy does; gohap goes on serving.
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog("SIGHUP: Proxy web has no servers.", 1)
	if got := get(); got != "two" {
		t.Errorf("after SIGHUP: %q, want two", got)
	}

	write(site("three") + "    no-such-keyword\n")
	cmd.Process.Signal(syscall.SIGUSR2)
	waitLog("reload failed", 1)
	if !strings.Contains(logs.String(), "no-such-keyword") {
		t.Errorf("the refused reload does not name the bad keyword:\n%s", logs.String())
	}
	if got := get(); got != "two" {
		t.Errorf("after a refused reload: %q, want the running configuration's two", got)
	}
}

// TestSoftStopSignal: SIGUSR1 stops gohap once its connections ended,
// with exit status 0 and haproxy's line for each proxy.
func TestSoftStopSignal(t *testing.T) {
	dir := t.TempDir()
	fe := "127.0.0.1:" + freePort(t)
	cfgPath := filepath.Join(dir, "site.cfg")
	cfg := fmt.Sprintf("defaults\n    mode http\n    timeout client 5s\n\nfrontend web\n    bind %s\n    http-request return status 200 content-type text/plain string ok\n", fe)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, logs := startGohap(t, cfgPath, fe, []string{"GOHAP_VARS=" + filepath.Join(dir, "vars")})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGUSR1: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gohap still runs 10 s after SIGUSR1:\n%s", logs.String())
	}
	if want := "Proxy web stopped (cumulated conns: FE: 1, BE: 0)."; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}
