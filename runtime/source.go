package runtime

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// Socket options "source" needs that package syscall does not name.
const (
	ipBindAddressNoPort = 24 // IP_BIND_ADDRESS_NO_PORT, Linux 4.2
	ipv6Transparent     = 75 // IPV6_TRANSPARENT
)

// source returns where connections to srv come from: its own "source",
// else its backend's; nil: the system's choice.
func (ss *serverState) source() *rules.Source {
	if ss.cfg.Source != nil {
		return ss.cfg.Source
	}
	return ss.be.cfg.Source
}

// transparent reports whether connections to ss are bound to an address
// that depends on the client ("usesrc client", "clientip", "hdr_ip"):
// they must not serve other clients.
func (ss *serverState) transparent() bool {
	src := ss.source()
	return src != nil && src.UseSrc >= rules.UseSrcClient
}

// localFor returns the address a connection to ss binds for the current
// request, and whether it is bound transparently (usesrc); ok is false
// when "usesrc hdr_ip" finds no address in the request.
func (s *session) localFor(ss *serverState) (local netip.AddrPort, transparent, ok bool) {
	src := ss.source()
	if src == nil {
		return netip.AddrPort{}, false, true
	}
	switch src.UseSrc {
	case rules.UseSrcAddr:
		return src.UseAddr, true, true
	case rules.UseSrcClient:
		return netip.AddrPortFrom(s.src.Addr().Unmap(), s.src.Port()), true, true
	case rules.UseSrcClientIP:
		return netip.AddrPortFrom(s.src.Addr().Unmap(), 0), true, true
	case rules.UseSrcHdr:
		a, found := hdrIP(&s.txn.Req, src.HdrName, src.HdrOcc)
		return netip.AddrPortFrom(a, 0), true, found
	}
	return netip.AddrPortFrom(src.Addr, src.PortLo), false, true
}

// hdrIP returns the address in occurrence occ of header name (values
// split at commas; from 1, or from -1 for the last; 0: none).
func hdrIP(req *rules.Request, name []byte, occ int) (netip.Addr, bool) {
	var vals [][]byte // rarely more than a few
	var buf [8][]byte
	vals = buf[:0]
	for i := req.Header(name, 0); i >= 0; i = req.Header(name, i+1) {
		for rest := req.Headers[i].Value; len(rest) > 0; {
			var v []byte
			v, rest = nextToken(rest)
			vals = append(vals, v)
		}
	}
	switch {
	case occ > 0 && occ <= len(vals):
		occ--
	case occ < 0 && -occ <= len(vals):
		occ += len(vals)
	default:
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(bytes.TrimSpace(vals[occ])))
	return a.Unmap(), err == nil
}

// dialServer connects to ss for the session's current request, from its
// source, with TCP keep-alive when keepAlive.
func (s *session) dialServer(ss *serverState, timeout time.Duration, keepAlive bool) (net.Conn, error) {
	network, addr := ss.dialAddr(s.dst)
	d := serverDialer(timeout, keepAlive)
	src := ss.source()
	if src == nil || network == "unix" {
		return d.Dial(network, addr)
	}
	local, transparent, ok := s.localFor(ss)
	if !ok {
		return nil, errNoSource
	}
	if transparent || src.PortLo == src.PortHi {
		setSource(&d, src, local, transparent)
		return d.Dial(network, addr)
	}
	// A port range: the next free port, from where the last one left.
	n := uint32(src.PortHi-src.PortLo) + 1
	start := ss.srcPort.Add(1)
	var err error
	for i := range n {
		port := src.PortLo + uint16((start+i)%n)
		setSource(&d, src, netip.AddrPortFrom(src.Addr, port), false)
		var c net.Conn
		if c, err = d.Dial(network, addr); err == nil {
			ss.srcPort.Store(start + i)
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			break
		}
	}
	return nil, err
}

// setSource makes d bind to local (zero parts: the system's choice),
// transparently if asked, on src's interface.
func setSource(d *net.Dialer, src *rules.Source, local netip.AddrPort, transparent bool) {
	d.LocalAddr = nil
	if local.Addr().IsValid() || local.Port() != 0 {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
	}
	o := &sockOpts{transparent: transparent, noPort: local.Port() == 0, iface: src.Interface}
	d.Control = o.control
}

// sockOpts are the options set on a server socket before it binds.
type sockOpts struct {
	transparent bool
	noPort      bool
	iface       string
}

func (o *sockOpts) control(network, _ string, rc syscall.RawConn) error {
	var err error
	cerr := rc.Control(func(fd uintptr) {
		f := int(fd)
		// As haproxy: the address may be in use by another connection.
		err = syscall.SetsockoptInt(f, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		if err == nil && o.noPort {
			// Pick the port at connect time, per destination.
			syscall.SetsockoptInt(f, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		}
		if err == nil && o.transparent {
			if network == "tcp6" {
				err = syscall.SetsockoptInt(f, syscall.IPPROTO_IPV6, ipv6Transparent, 1)
			} else {
				err = syscall.SetsockoptInt(f, syscall.IPPROTO_IP, syscall.IP_TRANSPARENT, 1)
			}
		}
		if err == nil && o.iface != "" {
			err = syscall.BindToDevice(f, o.iface)
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// checkDialer returns the dialer of a health check of ss: from the
// source address, never transparently.
func (ss *serverState) checkDialer(deadline time.Time) net.Dialer {
	d := net.Dialer{Deadline: deadline, KeepAlive: -1}
	if src := ss.source(); src != nil {
		setSource(&d, src, netip.AddrPortFrom(src.Addr, src.PortLo), false)
	}
	return d
}

// sameSource reports whether sc, kept by the session, was bound to the
// address the current request would bind (usesrc hdr_ip can change it).
func (s *session) sameSource(sc *srvConn) bool {
	want, _, _ := s.localFor(sc.s)
	got := addrPort(sc.c.LocalAddr())
	return want.Addr() == got.Addr().Unmap() && (want.Port() == 0 || want.Port() == got.Port())
}
