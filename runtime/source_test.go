package runtime

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// peerServer answers every request with the address the connection came
// from, and sends each peer address on peers.
func peerServer(t *testing.T) (string, chan string) {
	peers := make(chan string, 64)
	addr := serveConns(t, func(c net.Conn) {
		peer := c.RemoteAddr().String()
		select {
		case peers <- peer:
		default:
		}
		br := bufio.NewReader(c)
		for {
			if _, _, err := readRawRequest(br); err != nil {
				return
			}
			body := "peer=" + peer
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	return addr, peers
}

// canTransparent reports whether this process may set IP_TRANSPARENT.
func canTransparent() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TRANSPARENT, 1) == nil
}

func TestSource(t *testing.T) {
	srv, peers := peerServer(t)
	e := startConfig(t, fmt.Sprintf(testFrontend+`    use_backend own if { path /own }
    use_backend range if { path /range }
    use_backend client if { path /client }
    use_backend clientip if { path /clientip }
    use_backend hdr if { path /hdr }
    default_backend b
backend b
    source 127.0.0.2
    server s %[1]s
backend own
    source 127.0.0.2
    server s %[1]s source 127.0.0.3
backend range
    server s %[1]s source 127.0.0.4:41234-41235
backend client
    source 0.0.0.0 usesrc client
    server s %[1]s
backend clientip
    source 0.0.0.0 usesrc clientip
    server s %[1]s
backend hdr
    source 127.0.0.7 usesrc hdr_ip(x-real-ip,1)
    server s %[1]s
`, srv))
	addr := e.Addrs("f")[0].String()
	var getStatus func(want int, from, path string, hdrs ...string) (string, string)
	get := func(from, path string, hdrs ...string) (peer, local string) {
		return getStatus(200, from, path, hdrs...)
	}
	getStatus = func(want int, from, path string, hdrs ...string) (peer, local string) {
		t.Helper()
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		// The proxy binds the same address and port to reach the
		// server (usesrc client): both sockets must allow it.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1) })
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl := &client{t: t, c: c, br: bufio.NewReader(c)}
		cl.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + strings.Join(hdrs, "") + "\r\n")
		_, status, body := cl.response("GET")
		if status != want {
			t.Fatalf("%s: status %d %q, want %d", path, status, body, want)
		}
		return strings.TrimPrefix(body, "peer="), c.LocalAddr().String()
	}
	host := func(hp string) string { h, _, _ := net.SplitHostPort(hp); return h }
	if p, _ := get("127.0.0.1", "/"); host(p) != "127.0.0.2" {
		t.Errorf("backend source: server saw %s", p)
	}
	if p, _ := get("127.0.0.1", "/own"); host(p) != "127.0.0.3" {
		t.Errorf("server source: server saw %s", p)
	}
	for range 2 {
		if p, _ := get("127.0.0.1", "/range"); p != "127.0.0.4:41234" && p != "127.0.0.4:41235" {
			t.Errorf("port range: server saw %s", p)
		}
	}
	if !canTransparent() {
		t.Skip("IP_TRANSPARENT not permitted: usesrc not tested")
	}
	if p, local := get("127.0.0.5", "/client"); p != local {
		t.Errorf("usesrc client: server saw %s, the client is %s", p, local)
	}
	if p, local := get("127.0.0.6", "/clientip"); host(p) != "127.0.0.6" || p == local {
		t.Errorf("usesrc clientip: server saw %s, the client is %s", p, local)
	}
	if p, _ := get("127.0.0.1", "/hdr", "X-Real-IP: 127.0.0.8, 127.0.0.9\r\n"); host(p) != "127.0.0.8" {
		t.Errorf("usesrc hdr_ip: server saw %s", p)
	}
	// Without the header, haproxy answers 500 (its doc says the source
	// address is used).
	getStatus(500, "127.0.0.1", "/hdr")
	drain(peers)
}

func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestSourceChecks checks that health checks come from the source
// address, without usesrc.
func TestSourceChecks(t *testing.T) {
	srv, peers := peerServer(t)
	startConfig(t, fmt.Sprintf(testFrontend+`    default_backend b
backend b
    source 127.0.0.2 usesrc clientip
    server s %s check inter 50ms
`, srv))
	checkFrom(t, peers, "127.0.0.2")
}

// TestSourceResolved: a server whose address comes from DNS is reached,
// by requests and health checks alike, at that address from the source.
func TestSourceResolved(t *testing.T) {
	dns := newDNSServer(t)
	srv, peers := peerServer(t)
	_, port, _ := net.SplitHostPort(srv)
	e := startConfig(t, fmt.Sprintf(testFrontend+`    default_backend b
resolvers r
    nameserver ns %s
    timeout resolve 10ms
    hold valid 10ms
backend b
    source 127.0.0.2
    server s app.test:%s resolvers r init-addr none check inter 50ms
`, dns.addr(), port))
	ss := e.gen.Load().backends[0].servers[0]
	dns.setA("app.test", "127.0.0.1")
	waitFor(t, func() bool { return ss.live.Load().addr == "127.0.0.1:"+port && ss.running() })
	checkFrom(t, peers, "127.0.0.2")
	st, body := status(t, e.Addrs("f")[0].String(), "/")
	if h, _, _ := net.SplitHostPort(strings.TrimPrefix(body, "peer=")); st != 200 || h != "127.0.0.2" {
		t.Errorf("request: status %d, server saw %q, want 200 from 127.0.0.2", st, body)
	}
}

// checkFrom waits for the first connection peerServer saw, a health
// check, and checks that it came from host.
func checkFrom(t *testing.T, peers chan string, host string) {
	t.Helper()
	select {
	case p := <-peers:
		if h, _, _ := net.SplitHostPort(p); h != host {
			t.Errorf("check came from %s, want %s", p, host)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no health check came")
	}
}
