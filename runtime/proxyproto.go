package runtime

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
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
