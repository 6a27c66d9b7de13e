package runtime

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// workerPair runs src as a leader and a follower sharing their state
// (workerEngines).
func workerPair(t *testing.T, src string) (leader, follower *Engine) {
	t.Helper()
	engs := workerEngines(t, src, 2)
	return engs[0], engs[1]
}

// eventually polls cond until it holds, for up to two seconds.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var ok bool
		if ok, got = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: %s", what, got)
}

// TestWorkersShareConnCounts: the connections a follower holds open, idle
// or waiting for their first request, show in the leader's "show info",
// "show stat" and Prometheus figures, and the leader's on the
// follower's statistics page, as one haproxy process shows those of all
// its threads.
func TestWorkersShareConnCounts(t *testing.T) {
	// Each worker process runs one Go processor; the proxy's thread count
	// is the workers'.
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	leader, follower := workerPair(t, testDefaults+`frontend fe
    bind 127.0.0.1:0
    stats enable
    stats uri /stats
    http-request use-service prometheus-exporter if { path /metrics }
    http-request return status 200 content-type text/plain string ok if { path / }
`)
	fAddr := follower.Addrs("fe")[0].String()
	lAddr := leader.Addrs("fe")[0].String()

	// Three connections to the follower: two idle after a request, one
	// that has sent nothing yet.
	for i := range 3 {
		c := dial(t, fAddr)
		t.Cleanup(func() { c.c.Close() })
		if i < 2 {
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, code, _ := c.response("GET"); code != 200 {
				t.Fatalf("request %d: %d", i, code)
			}
		}
	}
	eventually(t, "leader's show info", func() (bool, string) {
		in := leader.Info()
		return in.CurrConns == 3, fmt.Sprintf("CurrConns %d, want 3", in.CurrConns)
	})
	var b bytes.Buffer
	leader.WriteStats(&b)
	if !strings.Contains(b.String(), "\nfe,FRONTEND,,,3,,,3,") {
		t.Errorf("leader's show stat, want scur 3 stot 3:\n%s", b.String())
	}
	// The scrape's own connection makes four.
	_, body := statsGet(t, lAddr, "/metrics", "")
	for _, want := range []string{
		"\nhaproxy_frontend_current_sessions{proxy=\"fe\"} 4\n",
		"\nhaproxy_process_current_connections 4\n",
		"\nhaproxy_process_nbthread 2\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("leader's metrics lack %q", strings.TrimSpace(want))
		}
	}

	// Two more held by the leader show on the follower's page, with the
	// page's own connection and the three before.
	for range 2 {
		c := dial(t, lAddr)
		t.Cleanup(func() { c.c.Close() })
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.response("GET")
	}
	eventually(t, "follower's stats page", func() (bool, string) {
		_, body := statsGet(t, fAddr, "/stats;csv", "")
		return strings.Contains(body, "\nfe,FRONTEND,,,6,"), body
	})
	if in := follower.Info(); in.Threads != 2 {
		t.Errorf("follower's threads: %d, want 2", in.Threads)
	}
}

// TestWorkersShareStart: a follower reports the leader's start as the
// proxy's, and the configuration's.
func TestWorkersShareStart(t *testing.T) {
	leader, follower := workerPair(t, testDefaults+`frontend fe
    bind 127.0.0.1:0
    http-request return status 200 content-type text/plain string ok
`)
	if l, f := leader.Info().Start, follower.Info().Start; !l.Equal(f) || l.IsZero() {
		t.Errorf("start: leader %v, follower %v", l, f)
	}
	if l, f := leader.gen.Load().start, follower.gen.Load().start; !l.Equal(f) {
		t.Errorf("configuration start: leader %v, follower %v", l, f)
	}
}

// TestWorkersShareTicketKeys: a TLS session made with one worker resumes
// on the other, as on any two threads of haproxy: they share the key
// that encrypts session tickets. no-tls-tickets turns tickets off.
func TestWorkersShareTicketKeys(t *testing.T) {
	cert, x := writeCert(t, t.TempDir(), "a.example")
	pool := x509.NewCertPool()
	pool.AddCert(x)
	for _, tc := range []struct {
		name    string
		version uint16
		bind    string
		resume  bool
	}{
		{"TLS 1.3", tls.VersionTLS13, "", true},
		{"TLS 1.2", tls.VersionTLS12, "", true},
		{"no-tls-tickets", tls.VersionTLS12, " no-tls-tickets", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader, follower := workerPair(t, testDefaults+`frontend fe
    bind 127.0.0.1:0 ssl crt `+cert+tc.bind+`
    http-request return status 200 content-type text/plain string ok
`)
			cfg := &tls.Config{ServerName: "a.example", RootCAs: pool, MaxVersion: tc.version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			get := func(e *Engine) bool {
				c, err := tls.Dial("tcp", e.Addrs("fe")[0].String(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// The response also brings TLS 1.3's ticket.
				fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if _, err := io.ReadAll(c); err != nil {
					t.Fatal(err)
				}
				return c.ConnectionState().DidResume
			}
			if get(leader) {
				t.Fatal("the first connection resumed")
			}
			if got := get(follower); got != tc.resume {
				t.Errorf("resumed on the follower: %v, want %v", got, tc.resume)
			}
			if got := get(leader); got != tc.resume {
				t.Errorf("resumed on the leader again: %v, want %v", got, tc.resume)
			}
		})
	}
}

// TestConnCountAcrossReload: a connection counts in the configuration
// it serves a request under, or was parked idle under, and leaves no
// count behind when it closes.
func TestConnCountAcrossReload(t *testing.T) {
	var (
		eng  atomic.Pointer[Engine]
		seen atomic.Int64 // open connections of the running configuration, seen from the request
	)
	ok := newRawServer(t, func(string, []byte) string {
		if e := eng.Load(); e != nil {
			seen.Store(frontendConns(e.gen.Load())[0])
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	a := newGraph(rules.ModeHTTP)
	a.backend("b", ok.addr())
	e, addr, _ := start(t, a)
	eng.Store(e)
	old := e.gen.Load()
	counts := func() string {
		o, n := old.frontends[0], e.gen.Load().frontends[0]
		return fmt.Sprintf("old %d served + %d idle, new %d+%d", o.cur.Load(), o.idle.Load(), n.cur.Load(), n.idle.Load())
	}

	// Two connections idle after a request, one waiting for its first.
	moved, idle, fresh := dial(t, addr), dial(t, addr), dial(t, addr)
	moved.get("/")
	idle.get("/")
	eventually(t, "before the reload", func() (bool, string) {
		return old.frontends[0].idle.Load() == 2 && old.frontends[0].cur.Load() == 1, counts()
	})

	b := newGraph(rules.ModeHTTP)
	b.fe.Binds = []rules.Bind{{Network: "tcp", Addr: addr, FD: -1}}
	b.backend("b", ok.addr())
	if err := e.Reload(b.g); err != nil {
		t.Fatal(err)
	}
	next := e.gen.Load()
	// The connection that waited across the reload moves to the new
	// configuration with its request; the one idle moves when it wakes.
	fresh.get("/")
	if n := seen.Load(); n != 1 {
		t.Errorf("during the first request after the reload: %d open, want 1 (%s)", n, counts())
	}
	moved.get("/")
	if n := seen.Load(); n != 2 {
		t.Errorf("during the second request after the reload: %d open, want 2 (%s)", n, counts())
	}
	eventually(t, "after the requests", func() (bool, string) {
		return frontendConns(old)[0] == 1 && frontendConns(next)[0] == 2, counts()
	})
	if in := e.Info(); in.CurrConns != 2 {
		t.Errorf("show info: CurrConns %d, want 2", in.CurrConns)
	}
	for _, c := range []*client{moved, idle, fresh} {
		c.c.Close()
	}
	eventually(t, "closed", func() (bool, string) {
		o, n := old.frontends[0], next.frontends[0]
		return o.cur.Load() == 0 && o.idle.Load() == 0 && n.cur.Load() == 0 && n.idle.Load() == 0, counts()
	})
}

// TestShareable lists what keeps a configuration in one process, and
// checks that the plain maintenance scenario runs in workers.
func TestShareable(t *testing.T) {
	const base = testDefaults + `frontend fe
    bind 127.0.0.1:0
    default_backend be
`
	for _, tc := range []struct{ name, cfg, want string }{
		{"plain", base + `backend be
    balance roundrobin
    server s1 127.0.0.1:1 check
    server s2 127.0.0.1:2 check weight 3
`, ""},
		{"stick table", base + `backend be
    stick-table type ip size 10
    server s1 127.0.0.1:1
`, "stick-table be keeps its entries"},
		{"server maxconn", base + `backend be
    server s1 127.0.0.1:1 maxconn 10
`, ""},
		{"shutdown sessions", base + `backend be
    server s1 127.0.0.1:1 check on-marked-down shutdown-sessions
`, ""},
		{"rate limit", testDefaults + `frontend fe
    bind 127.0.0.1:0
    rate-limit sessions 10
    default_backend be
backend be
    server s1 127.0.0.1:1
`, ""},
	} {
		res, err := compileString(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = Shareable(res.Graph)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want workers", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestConnLimitSplit(t *testing.T) {
	var alone *Workers
	if got := alone.connLimit(9000); got != 9000 {
		t.Errorf("one process: %d", got)
	}
	w := &Workers{Count: 2}
	if got := w.connLimit(9001); got != 4501 {
		t.Errorf("two processes, 9001: %d each", got)
	}
	if got := w.connLimit(0); got != 0 {
		t.Errorf("no limit: %d", got)
	}
}

// TestQueueAcrossWorkers queues a request in the follower behind a slot
// the leader holds: when the leader's request ends, the follower's gets
// the slot, though nothing in its own process freed it.
func TestQueueAcrossWorkers(t *testing.T) {
	leader, follower, release := maxconnPair(t, "5s")
	first := make(chan int, 1)
	go func() {
		code, _ := status(t, leader.Addrs("fe")[0].String(), "/first")
		first <- code
	}()
	// Wait until the leader's request holds the slot.
	bs := leader.gen.Load().backends[0]
	for bs.servers[0].cur.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan int, 1)
	go func() {
		code, _ := status(t, follower.Addrs("fe")[0].String(), "/second")
		second <- code
	}()
	fq := follower.gen.Load().backends[0]
	for fq.queued.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if code := <-second; code != 200 {
		t.Fatalf("queued request in the other process: %d, want 200", code)
	}
}

// TestWorkerGoneGivesSlotsBack: the connections a follower held on a
// server at its maxconn leave the shared count when the follower dies
// (here: when the leader is told so), and the server takes requests again.
func TestWorkerGoneGivesSlotsBack(t *testing.T) {
	leader, follower, release := maxconnPair(t, "100ms")
	defer close(release)
	held := dial(t, follower.Addrs("fe")[0].String())
	held.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
	s1 := leader.gen.Load().backends[0].servers[0]
	for s1.cur.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if code, _ := status(t, leader.Addrs("fe")[0].String(), "/queued"); code != 503 {
		t.Fatalf("server full: %d, want 503 after timeout queue", code)
	}
	leader.WorkerGone(1)
	if n := s1.cur.Load(); n != 0 {
		t.Fatalf("server connections after the follower died: %d, want 0", n)
	}
	if code, _ := status(t, leader.Addrs("fe")[0].String(), "/after"); code != 200 {
		t.Fatalf("after the follower died: %d, want 200", code)
	}
}

// maxconnPair runs a leader and a follower in front of one server of
// maxconn 1, with timeout queue queue; the server holds its first request
// until release closes.
func maxconnPair(t *testing.T, queue string) (leader, follower *Engine, release chan struct{}) {
	release = make(chan struct{})
	var hits atomic.Int32
	srv := newRawServer(t, func(string, []byte) string {
		if hits.Add(1) == 1 {
			<-release
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	leader, follower = workerPair(t, fmt.Sprintf(testDefaults+`frontend fe
    bind 127.0.0.1:0
    default_backend be
backend be
    timeout queue %s
    server s1 %s maxconn 1
`, queue, srv.addr()))
	return leader, follower, release
}

// TestShutdownSessionsInFollower: the leader's check marks a server with
// "on-marked-down shutdown-sessions" down, and the follower closes the
// tunnel it holds to it; a tunnel to a server without the option lives on.
func TestShutdownSessionsInFollower(t *testing.T) {
	shutdownOnDown(t, func(cfg string) (serving, checking *Engine) {
		leader, follower := workerPair(t, cfg)
		return follower, leader
	})
}

// TestResolversAcrossWorkers: the leader resolves a server's name, and
// the follower sends its requests to the address the leader got, follows
// a change, and puts the server in maintenance when the name vanishes.
func TestResolversAcrossWorkers(t *testing.T) {
	dns := newDNSServer(t)
	okSrv := okServer(t)
	_, port, _ := net.SplitHostPort(okSrv.addr())
	leader, follower := workerPair(t, fmt.Sprintf(testDefaults+`resolvers r
    nameserver ns %s
    timeout resolve 5ms
    timeout retry 200ms
    hold valid 5ms
    hold nx 5ms
    hold obsolete 5ms
    hold other 5ms
    hold refused 5ms
    hold timeout 5ms
frontend fe
    bind 127.0.0.1:0
    default_backend b
backend b
    server s app.test:%s resolvers r resolve-prefer ipv4 init-addr none
`, dns.addr(), port))
	// The follower sends its requests where the leader's resolution says.
	followName(t, dns, port, follower.Addrs("fe")[0].String(), follower.gen.Load().backends[0].servers[0])
	if !leader.gen.Load().backends[0].servers[0].live.Load().none {
		t.Error("the leader still has an address for a name gone")
	}
}
