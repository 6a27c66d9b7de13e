package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServerTLS(t *testing.T) {
	ln, certPath := tlsListener(t, "backend.example")
	serveOn(t, ln, "over tls")
	e := startConfig(t, testDefaults+fmt.Sprintf(`    retries 0
frontend f
    bind 127.0.0.1:0
    use_backend verified if { path /verified }
    use_backend wrongname if { path /wrong }
    default_backend insecure
backend insecure
    server s %[1]s ssl verify none check inter 100ms fall 1
backend verified
    server s %[1]s ssl ca-file %[2]s sni str(backend.example)
backend wrongname
    server s %[1]s ssl ca-file %[2]s sni str(other.example)
`, ln.Addr(), certPath))
	addr := e.Addrs("f")[0].String()
	time.Sleep(300 * time.Millisecond) // checks over TLS keep the server up
	waitUp(t, e, 0, 0, true)
	for path, want := range map[string]int{"/": 200, "/verified": 200, "/wrong": 503} {
		resp, body := statsGet(t, addr, path, "")
		if resp.StatusCode != want || (want == 200 && body != "over tls") {
			t.Errorf("%s: %d %q, want %d", path, resp.StatusCode, body, want)
		}
	}
	_, err := compileString("backend b\n    server s 127.0.0.1:443 ssl\n")
	if err == nil || !strings.Contains(err.Error(), "no CA file specified") {
		t.Errorf("ssl without ca-file or verify none: %v", err)
	}
}

func TestSendProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				first := make([]byte, 12)
				if _, err := io.ReadFull(br, first); err != nil {
					return
				}
				if string(first) == string(proxyV2Sig) {
					rest := make([]byte, 4+12)
					io.ReadFull(br, rest)
					lines <- fmt.Sprintf("v2 %x", rest[:4])
				} else {
					l, _ := br.ReadString('\n')
					lines <- string(first) + l
				}
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				req.Body.Close()
				fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	e := startConfig(t, testDefaults+fmt.Sprintf(`frontend f
    bind 127.0.0.1:0
    use_backend v2 if { path /v2 }
    default_backend v1
backend v1
    server s %[1]s send-proxy
backend v2
    server s %[1]s send-proxy-v2
`, ln.Addr()))
	fe := e.Addrs("f")[0].String()
	c, err := net.Dial("tcp", fe)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	io.ReadAll(c)
	c.Close()
	_, fePort, _ := net.SplitHostPort(fe)
	_, cPort, _ := net.SplitHostPort(c.LocalAddr().String())
	want := fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %s %s\r\n", cPort, fePort)
	if got := <-lines; got != want {
		t.Errorf("v1 header %q, want %q", got, want)
	}
	if resp, _ := statsGet(t, fe, "/v2", ""); resp.StatusCode != 200 {
		t.Errorf("v2: %d", resp.StatusCode)
	}
	if got := <-lines; got != "v2 2111000c" {
		t.Errorf("v2 header %q, want version 2 PROXY, TCP over IPv4, 12 address bytes", got)
	}
}
