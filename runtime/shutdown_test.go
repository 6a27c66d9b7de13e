package runtime

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// echoListener echoes every connection until the test ends; closing the
// listener keeps the connections already open.
func echoListener(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestShutdownSessionsOnDown opens a TCP tunnel to each of two servers,
// then makes their checks fail: the tunnel to the server with
// "on-marked-down shutdown-sessions" is closed, the other one lives on.
func TestShutdownSessionsOnDown(t *testing.T) {
	shutdownOnDown(t, func(cfg string) (serving, checking *Engine) {
		e := startConfig(t, cfg)
		return e, e
	})
}

// shutdownOnDown runs TestShutdownSessionsOnDown on the engines start
// builds from cfg: serving holds the tunnels, checking runs the checks.
func shutdownOnDown(t *testing.T, start func(cfg string) (serving, checking *Engine)) {
	kill, keep := echoListener(t), echoListener(t)
	e, checker := start(fmt.Sprintf(`
defaults
    mode tcp
    timeout client 10s
    timeout server 10s
    timeout connect 1s
frontend kill
    bind 127.0.0.1:0
    default_backend kill
frontend keep
    bind 127.0.0.1:0
    default_backend keep
backend kill
    server s %s check inter 50ms fall 1 on-marked-down shutdown-sessions
backend keep
    server s %s check inter 50ms fall 1
`, kill.Addr(), keep.Addr()))
	ck, cp := echoTunnel(t, e, "kill"), echoTunnel(t, e, "keep")
	kill.Close()
	keep.Close()
	waitUp(t, checker, 0, 0, false)
	waitUp(t, checker, 1, 0, false)
	ck.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := ck.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("shutdown-sessions: tunnel still open after the server went down (%d, %v)", n, err)
	}
	cp.Write([]byte("pong"))
	buf := make([]byte, 4)
	cp.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(cp, buf); err != nil || string(buf) != "pong" {
		t.Errorf("without the option the tunnel must live on: %q %v", buf, err)
	}
}

// echoTunnel opens a tunnel through e's frontend fe to an echo server,
// checked with one ping.
func echoTunnel(t *testing.T, e *Engine, fe string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.Addrs(fe)[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("%s: echo %q %v", fe, buf, err)
	}
	return c
}
