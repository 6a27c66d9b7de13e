package runtime

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gohap/runtime/rules"
)

// proxyV2Sig is the signature that starts a PROXY protocol v2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// appendProxyHeader appends the PROXY protocol header (version 1 or 2)
// that tells a server the client's address src and the address dst it
// connected to, as haproxy's send-proxy and send-proxy-v2 do.
func appendProxyHeader(b []byte, version int, src, dst netip.AddrPort) []byte {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if version == 2 {
		b = append(b, proxyV2Sig...)
		switch {
		case s.Is4() && d.Is4():
			b = append(b, 0x21, 0x11, 0, 12)
			b = append(b, s.AsSlice()...)
			b = append(b, d.AsSlice()...)
		case s.IsValid() && d.IsValid():
			s16, d16 := src.Addr().As16(), dst.Addr().As16()
			b = append(b, 0x21, 0x21, 0, 36)
			b = append(b, s16[:]...)
			b = append(b, d16[:]...)
		default:
			return append(b, 0x20, 0x00, 0, 0) // LOCAL: no address to tell
		}
		b = binary.BigEndian.AppendUint16(b, src.Port())
		return binary.BigEndian.AppendUint16(b, dst.Port())
	}
	switch {
	case s.Is4() && d.Is4():
		b = append(b, "PROXY TCP4 "...)
	case s.IsValid() && d.IsValid():
		b = append(b, "PROXY TCP6 "...)
		s, d = src.Addr(), dst.Addr()
	default:
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	b = s.AppendTo(b)
	b = append(b, ' ')
	b = d.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// writeProxyHeader sends the PROXY header on a new server connection.
func writeProxyHeader(c net.Conn, version int, src, dst netip.AddrPort) error {
	var buf [64]byte
	_, err := c.Write(appendProxyHeader(buf[:0], version, src, dst))
	return err
}

// parseProxyHeader reads a PROXY protocol header (v1 text or v2 binary)
// at the start of p. It returns the header's length and the addresses it
// gives (zero for UNKNOWN or LOCAL), ok when p holds a whole valid
// header, more when p is a valid beginning that needs more bytes.
func parseProxyHeader(p []byte) (n int, src, dst netip.AddrPort, ok, more bool) {
	const v1 = "PROXY "
	switch {
	case len(p) < len(v1) && string(p) == v1[:len(p)],
		len(p) < len(proxyV2Sig) && string(p) == string(proxyV2Sig[:len(p)]):
		return 0, src, dst, false, true
	case strings.HasPrefix(string(p[:min(len(p), len(v1))]), v1):
		end := strings.Index(string(p[:min(len(p), 107)]), "\r\n")
		if end < 0 {
			return 0, src, dst, false, len(p) < 107
		}
		f := strings.Fields(string(p[len(v1):end]))
		if len(f) >= 1 && f[0] == "UNKNOWN" {
			return end + 2, src, dst, true, false
		}
		if len(f) != 5 || (f[0] != "TCP4" && f[0] != "TCP6") {
			return 0, src, dst, false, false
		}
		s, err1 := netip.ParseAddrPort(net.JoinHostPort(f[1], f[3]))
		d, err2 := netip.ParseAddrPort(net.JoinHostPort(f[2], f[4]))
		if err1 != nil || err2 != nil {
			return 0, src, dst, false, false
		}
		return end + 2, s, d, true, false
	case len(p) >= len(proxyV2Sig) && string(p[:len(proxyV2Sig)]) == string(proxyV2Sig):
		if len(p) < 16 {
			return 0, src, dst, false, true
		}
		n = 16 + int(binary.BigEndian.Uint16(p[14:16]))
		if len(p) < n {
			return 0, src, dst, false, true
		}
		if p[12]>>4 != 2 {
			return 0, src, dst, false, false
		}
		a := p[16:n]
		switch {
		case p[12]&0xf == 0: // LOCAL: the connection's own addresses
		case p[13] == 0x11 && len(a) >= 12:
			src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
		case p[13] == 0x21 && len(a) >= 36:
			src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
			dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
		}
		return n, src, dst, true, false
	}
	return 0, src, dst, false, false
}

// acceptProxy reads the PROXY header that starts a connection of an
// "accept-proxy" bind, within the client timeout (5 s without one), takes
// the client's addresses from it, then starts TLS when the bind has it.
// It reports false on a missing or malformed header.
func (s *session) acceptProxy(cfg *tls.Config, fe *rules.Frontend) bool {
	d := 5 * time.Second
	if fe != nil && fe.Timeouts.Client > 0 {
		d = fe.Timeouts.Client
	}
	s.c.SetReadDeadline(time.Now().Add(d))
	defer s.c.SetReadDeadline(time.Time{})
	for {
		n, src, dst, ok, more := parseProxyHeader(s.in.data())
		if ok {
			s.in.discard(n)
			if src.IsValid() {
				s.setAddrs(src, dst)
			}
			break
		}
		if !more {
			return false
		}
		if _, err := s.in.fill(); err != nil {
			return false
		}
	}
	if cfg != nil {
		// The bytes read past the header begin the TLS handshake.
		pre := append([]byte(nil), s.in.data()...)
		tc := tls.Server(&prefixConn{Conn: s.c, pre: pre}, cfg)
		s.reset(tc, &s.e.bufs, clientIn, clientOut)
		s.in.flush, s.tls = s.out, tc
	}
	return true
}

// prefixConn is a connection whose first reads return pre.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
