package runtime

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"gohap/runtime/rules"
)

// dnsServer is a tiny DNS server on loopback UDP whose answers the test
// changes: A records by name, SRV records by name (with their targets' A
// records as additionals). Names without records get NXDOMAIN.
type dnsServer struct {
	pc      net.PacketConn
	mu      sync.Mutex
	a       map[string][]netip.Addr
	srv     map[string][]dnsmessage.SRVResource
	queries int
}

func newDNSServer(t *testing.T) *dnsServer {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{pc: pc, a: map[string][]netip.Addr{}, srv: map[string][]dnsmessage.SRVResource{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := d.answer(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return d
}

func (d *dnsServer) addr() string { return d.pc.LocalAddr().String() }

func (d *dnsServer) setA(name string, ips ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.a[name] = nil
	for _, ip := range ips {
		d.a[name] = append(d.a[name], netip.MustParseAddr(ip))
	}
}

func (d *dnsServer) setSRV(name string, recs ...dnsmessage.SRVResource) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srv[name] = recs
}

func (d *dnsServer) answer(q []byte) []byte {
	var m dnsmessage.Message
	if m.Unpack(q) != nil || len(m.Questions) != 1 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries++
	qq := m.Questions[0]
	name := strings.TrimSuffix(qq.Name.String(), ".")
	resp := dnsmessage.Message{Header: dnsmessage.Header{ID: m.Header.ID, Response: true, Authoritative: true},
		Questions: m.Questions}
	hdr := func(n string, t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(n + "."), Type: t, Class: dnsmessage.ClassINET, TTL: 1}
	}
	ips, hasA := d.a[name]
	recs, hasSRV := d.srv[name]
	switch {
	case qq.Type == dnsmessage.TypeA && hasA:
		for _, ip := range ips {
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeA), Body: &dnsmessage.AResource{A: ip.As4()}})
		}
	case qq.Type == dnsmessage.TypeSRV && hasSRV:
		for i := range recs {
			r := recs[i]
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeSRV), Body: &r})
			target := strings.TrimSuffix(r.Target.String(), ".")
			for _, ip := range d.a[target] {
				resp.Additionals = append(resp.Additionals, dnsmessage.Resource{Header: hdr(target, dnsmessage.TypeA), Body: &dnsmessage.AResource{A: ip.As4()}})
			}
		}
	case hasA || hasSRV: // the name exists, without records of that type
	default:
		resp.Header.RCode = dnsmessage.RCodeNameError
	}
	out, _ := resp.Pack()
	return out
}

// srvRec is an SRV record for target:port with weight.
func srvRec(target string, port, weight int) dnsmessage.SRVResource {
	return dnsmessage.SRVResource{Target: dnsmessage.MustNewName(target + "."), Port: uint16(port), Weight: uint16(weight)}
}

// fastResolvers is a resolvers section at dns that resolves every few
// milliseconds and keeps nothing after a failure.
func fastResolvers(dns string) *rules.Resolvers {
	r := rules.NewResolvers("r", "test")
	r.Nameservers = []string{dns}
	r.Resolve, r.Retry = 5*time.Millisecond, 200*time.Millisecond
	r.Hold = rules.Hold{Valid: 5 * time.Millisecond}
	return r
}

// TestResolversHostname: a server named by DNS starts in maintenance
// ("init-addr none"), takes the address DNS gives, follows a change, and
// goes back to maintenance when the name vanishes.
func TestResolversHostname(t *testing.T) {
	dns := newDNSServer(t)
	okSrv := okServer(t)
	_, port, _ := net.SplitHostPort(okSrv.addr())
	g := newGraph(rules.ModeHTTP)
	be := g.backend("b", "app.test:"+port)
	s := be.Servers[0]
	s.Resolvers, s.Hostname, s.ResolvePrefer = fastResolvers(dns.addr()), "app.test", "ipv4"
	s.InitAddr = []rules.InitAddr{{Method: "none"}}
	e, addr, _ := start(t, g)
	ss := e.gen.Load().backends[0].servers[0]
	if !ss.live.Load().none {
		t.Fatal("init-addr none: the server must start without an address")
	}
	followName(t, dns, port, addr, ss)
}

// followName runs a name through its life at dns while the frontend at
// addr sends its requests to ss, a server named app.test (port port)
// with init-addr none: no address (503), an address, another one (200),
// and no name any more (503).
func followName(t *testing.T, dns *dnsServer, port, addr string, ss *serverState) {
	t.Helper()
	if st, _ := status(t, addr, "/"); st != 503 {
		t.Fatalf("no address yet: status %d, want 503", st)
	}
	dns.setA("app.test", "127.0.0.2")
	waitFor(t, func() bool { return ss.live.Load().addr == "127.0.0.2:"+port })
	dns.setA("app.test", "127.0.0.1")
	waitFor(t, func() bool { return ss.live.Load().addr == "127.0.0.1:"+port && ss.running() })
	if st, _ := status(t, addr, "/"); st != 200 {
		t.Fatalf("resolved: status %d, want 200", st)
	}
	dns.mu.Lock()
	delete(dns.a, "app.test")
	dns.mu.Unlock()
	waitFor(t, func() bool { return ss.live.Load().none })
	if st, _ := status(t, addr, "/"); st != 503 {
		t.Fatalf("name gone: status %d, want 503", st)
	}
}

// TestResolversSRV: a server-template on an SRV name fills its servers
// from the records (target address, port, weight); a record that
// vanishes puts its server in maintenance and a new one takes a free
// server.
func TestResolversSRV(t *testing.T) {
	dns := newDNSServer(t)
	srvs := make([]*rawServer, 3)
	ports := make([]int, 3)
	for i := range srvs {
		body := "s" + strconv.Itoa(i)
		srvs[i] = newRawServer(t, func(string, []byte) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body
		})
		_, p, _ := net.SplitHostPort(srvs[i].addr())
		ports[i], _ = strconv.Atoi(p)
	}
	g := newGraph(rules.ModeHTTP)
	be := g.backend("b", "", "", "")
	r := fastResolvers(dns.addr())
	for _, s := range be.Servers {
		s.Resolvers, s.SRVName, s.ResolvePrefer = r, "_http._tcp.svc.test", "ipv4"
	}
	dns.setA("a.test", "127.0.0.1")
	dns.setA("b.test", "127.0.0.1")
	dns.setSRV("_http._tcp.svc.test", srvRec("a.test", ports[0], 512), srvRec("b.test", ports[1], 1))
	e, addr, _ := start(t, g)
	bs := e.gen.Load().backends[0]
	live := func() string {
		var out []string
		for _, ss := range bs.servers {
			la := ss.live.Load()
			if la.none {
				out = append(out, "-")
			} else {
				out = append(out, la.addr+"/"+strconv.Itoa(int(ss.weight.Load())))
			}
		}
		return strings.Join(out, " ")
	}
	a, b, c := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1]), "127.0.0.1:"+strconv.Itoa(ports[2])
	waitFor(t, func() bool { return live() == a+"/2 "+b+"/1 -" })
	if st, body := status(t, addr, "/"); st != 200 || (body != "s0" && body != "s1") {
		t.Fatalf("status %d body %q", st, body)
	}
	dns.setSRV("_http._tcp.svc.test", srvRec("b.test", ports[1], 1), srvRec("a.test", ports[2], 256))
	waitFor(t, func() bool { return live() == c+"/1 "+b+"/1 -" })
	dns.setSRV("_http._tcp.svc.test")
	waitFor(t, func() bool { return live() == "- - -" })
	if st, _ := status(t, addr, "/"); st != 503 {
		t.Fatalf("no record: status %d, want 503", st)
	}
}

// TestResolversDistinctIPs: servers of a backend that share a host name
// (a server-template) take different addresses while DNS has enough.
func TestResolversDistinctIPs(t *testing.T) {
	dns := newDNSServer(t)
	g := newGraph(rules.ModeHTTP)
	be := g.backend("b", "app.test:80", "app.test:80", "app.test:80")
	r := fastResolvers(dns.addr())
	for _, s := range be.Servers {
		s.Resolvers, s.Hostname, s.ResolvePrefer = r, "app.test", "ipv4"
		s.InitAddr = []rules.InitAddr{{Method: "ip", IP: "127.0.0.9"}}
	}
	dns.setA("app.test", "127.0.0.1", "127.0.0.2")
	e, _, _ := start(t, g)
	bs := e.gen.Load().backends[0]
	addrs := func() string {
		var out []string
		for _, ss := range bs.servers {
			out = append(out, ss.live.Load().addr)
		}
		return strings.Join(out, " ")
	}
	waitFor(t, func() bool { return addrs() == "127.0.0.1:80 127.0.0.2:80 127.0.0.1:80" })
}
