package runtime

import (
	"crypto/tls"
	"net"
	"syscall"
)

// tcpRepair is Linux's TCP_REPAIR socket option: a socket in repair mode
// closes without sending anything.
const tcpRepair = 19

// silentDrop closes the client connection without telling the client, as
// haproxy's silent-drop does: what the client sent is acknowledged at once,
// then the socket is put in repair mode so that closing it sends neither
// FIN nor RST, and the client sees an established connection that never
// answers. Without the privilege for repair mode, the socket closes with a
// reset whose TTL is 1, so that it does not pass the first router. Bytes
// the client sends later get a reset from the kernel, as with haproxy.
func (s *session) silentDrop() {
	v4 := s.src.Addr().Unmap().Is4()
	c := s.control(func(fd int) { quietClose(fd, v4) })
	c.Close()
}

// resetOnClose makes the coming close of the client connection send a
// reset, as haproxy's tcp-request reject does, and not a FIN.
func (s *session) resetOnClose() {
	s.control(func(fd int) {
		syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	})
}

// control runs fn on the socket under the client connection (below TLS
// and the PROXY header reader), and returns that connection.
func (s *session) control(fn func(fd int)) net.Conn {
	c := s.c
	for {
		switch v := c.(type) {
		case *tls.Conn:
			c = v.NetConn()
			continue
		case *prefixConn:
			c = v.Conn
			continue
		}
		break
	}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { fn(int(fd)) })
		}
	}
	return c
}

// quietClose prepares socket fd for a close the peer does not notice.
func quietClose(fd int, v4 bool) {
	var buf [4096]byte
	for { // drain what came, so that it is acknowledged
		n, err := syscall.Read(fd, buf[:])
		if n <= 0 || err != nil {
			break
		}
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	if syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, tcpRepair, 1) == nil {
		return
	}
	if v4 {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TTL, 1)
	} else {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, 1)
	}
}
