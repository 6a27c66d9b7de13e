package runtime

import (
	"net"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// pool builds a backend state for balancer tests: weights of active
// servers, then backups.
func pool(algo rules.Algo, weights []int, backups int) *backendState {
	be := &rules.Backend{Name: "b", Balance: algo}
	for i, w := range weights {
		be.Servers = append(be.Servers, &rules.Server{Name: "a" + itoa(i), Index: i, ID: i + 1, Backend: be, Weight: w})
	}
	for i := 0; i < backups; i++ {
		n := len(be.Servers)
		be.Servers = append(be.Servers, &rules.Server{Name: "k" + itoa(i), Index: n, ID: n + 1, Backend: be, Weight: 1, Backup: true})
	}
	return newBackendState(be, nil, nil, false)
}

// srcKey is the hashing key of a client at address ip.
func srcKey(b *backendState, ip []byte) lbKey {
	if h, ok := b.bal.(*hashBalancer); ok {
		return h.key(ip, nil)
	}
	return lbKey{}
}

func names(b *backendState, n int, key lbKey) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		s := b.pick(key, nil)
		if s == nil {
			sb.WriteString("-")
			continue
		}
		sb.WriteString(s.cfg.Name)
		sb.WriteByte(' ')
	}
	return sb.String()
}

func TestBalancers(t *testing.T) {
	b := pool(rules.AlgoRoundRobin, []int{1, 1, 1}, 2)
	if got := names(b, 4, lbKey{}); got != "a0 a1 a2 a0 " {
		t.Fatalf("roundrobin: %s", got)
	}
	b.active[1].up.Store(false)
	if got := names(b, 4, lbKey{}); strings.Contains(got, "a1") {
		t.Fatalf("down server picked: %s", got)
	}
	b.active[0].up.Store(false)
	b.active[2].up.Store(false)
	if got := names(b, 3, lbKey{}); got != "k0 k0 k0 " {
		t.Fatalf("first backup only: %s", got)
	}
	if b.usable() != 1 { // haproxy's nbsrv: only the first backup takes traffic
		t.Fatalf("usable %d, want 1 backup", b.usable())
	}
	b.cfg.Options.AllBackups = true
	if b.usable() != 2 {
		t.Fatalf("allbackups: usable %d, want 2 backups", b.usable())
	}
	if got := names(b, 2, lbKey{}); got != "k0 k1 " && got != "k1 k0 " {
		t.Fatalf("allbackups: %s", got)
	}
	b.backup[0].admin.Store(uint32(AdminMaint))
	b.backup[1].up.Store(false)
	if s := b.pick(lbKey{}, nil); s != nil || b.usable() != 0 {
		t.Fatalf("picked %v with nothing usable", s)
	}

	lc := pool(rules.AlgoLeastConn, []int{1, 1, 1}, 0)
	lc.active[0].cur.Store(5)
	lc.active[1].cur.Store(1)
	lc.active[2].cur.Store(3)
	if s := lc.pick(lbKey{}, nil); s != lc.active[1] {
		t.Fatalf("leastconn picked %s", s.cfg.Name)
	}

	f := pool(rules.AlgoFirst, []int{1, 1}, 0)
	f.active[0].cfg.MaxConn = 2
	if s := f.pick(lbKey{}, nil); s != f.active[0] {
		t.Fatal("first: not the first")
	}
	f.active[0].cur.Store(2)
	if s := f.pick(lbKey{}, nil); s != f.active[1] {
		t.Fatal("first: full server picked")
	}

	src := pool(rules.AlgoSource, []int{1, 1, 1, 1}, 0)
	ip := []byte{10, 0, 0, 7}
	first := src.pick(srcKey(src, ip), nil)
	for i := 0; i < 10; i++ {
		if src.pick(srcKey(src, ip), nil) != first {
			t.Fatal("source: not sticky")
		}
	}
	seen := map[*serverState]bool{}
	for i := 0; i < 64; i++ {
		seen[src.pick(srcKey(src, []byte{10, 0, 0, byte(i)}), nil)] = true
	}
	if len(seen) < 3 {
		t.Fatalf("source spreads over %d servers", len(seen))
	}

	r := pool(rules.AlgoRandom, []int{1, 1}, 0)
	r.active[0].up.Store(false)
	for i := 0; i < 20; i++ {
		if r.pick(lbKey{}, nil) != r.active[1] {
			t.Fatal("random picked a down server")
		}
	}
	// avoid (redispatch) is honoured when another server is usable
	rr := pool(rules.AlgoRoundRobin, []int{1, 1}, 0)
	for i := 0; i < 4; i++ {
		if rr.pick(lbKey{}, rr.active[0]) != rr.active[1] {
			t.Fatal("avoid not honoured")
		}
	}
}

func TestPickAllocs(t *testing.T) {
	for _, a := range []rules.Algo{rules.AlgoRoundRobin, rules.AlgoLeastConn, rules.AlgoFirst, rules.AlgoSource, rules.AlgoRandom} {
		b := pool(a, []int{1, 2, 3}, 1)
		key := srcKey(b, []byte{1, 2, 3, 4})
		if n := testing.AllocsPerRun(100, func() { b.pick(key, nil) }); n != 0 {
			t.Errorf("%s: %v allocs per pick", a, n)
		}
	}
}

func TestStartBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := newGraph(rules.ModeHTTP)
	g.fe.Binds = append(g.fe.Binds, rules.Bind{Network: "tcp", Addr: ln.Addr().String(), FD: -1})
	e, err := New(Config{Graph: g.g})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start()
	if err == nil || !strings.Contains(err.Error(), "frontend fe") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Start error %v", err)
	}
	if len(e.Addrs("fe")) != 0 {
		t.Fatal("addresses kept after a failed start")
	}
	e.Close()
}

// TestRandomDraws: random(N) keeps the least loaded of N weighted draws,
// so a loaded server is chosen only when every draw lands on it.
func TestRandomDraws(t *testing.T) {
	be := &rules.Backend{Name: "b", Balance: rules.AlgoRandom, RandomDraws: 8}
	for i := 0; i < 2; i++ {
		be.Servers = append(be.Servers, &rules.Server{Name: "a" + itoa(i), Index: i, Backend: be, Weight: 1})
	}
	bs := newBackendState(be, nil, nil, false)
	bs.active[0].cur.Store(100)
	loaded := 0
	for i := 0; i < 400; i++ {
		if bs.pick(lbKey{}, nil) == bs.active[0] {
			loaded++
		}
	}
	// 1 in 256 per pick with 8 draws; one draw would give about 200.
	if loaded > 12 {
		t.Errorf("the loaded server was picked %d times of 400", loaded)
	}
	p, err := compileString("backend b\n    balance random(8)\n    server s 127.0.0.1:1\n")
	if err != nil || p.Graph.Backends[0].RandomDraws != 8 {
		t.Fatalf("random(8): %v %+v", err, p)
	}
	if _, err := compileString("backend b\n    balance random(0)\n"); err == nil {
		t.Error("random(0) accepted")
	}
}

// TestRoundRobinOrder: roundrobin serves servers in the order haproxy
// 2.6 does (recorded from it), also after a weight change.
func TestRoundRobinOrder(t *testing.T) {
	for _, c := range []struct {
		weights []int
		want    string
	}{
		{[]int{3, 1, 2}, "a0 a2 a0 a1 a0 a2 a0 a2 a0 a1 a0 a2 "},
		{[]int{10, 7, 3}, "a0 a1 a0 a1 a0 a2 a0 a1 a0 a1 a0 a2 a0 a1 a0 a1 a0 a0 a1 a2 "},
		{[]int{2, 1, 2, 1, 3}, "a4 a0 a2 a4 a1 a0 a4 a2 a3 a4 a0 a2 a4 a1 a0 a4 a2 a3 "},
	} {
		b := pool(rules.AlgoRoundRobin, c.weights, 0)
		if got := names(b, strings.Count(c.want, " "), lbKey{}); got != c.want {
			t.Errorf("weights %v: %s, want %s", c.weights, got, c.want)
		}
	}
	b := pool(rules.AlgoRoundRobin, []int{3, 1, 2}, 0)
	names(b, 7, lbKey{})
	b.active[1].weight.Store(4)
	if got, want := names(b, 20, lbKey{}), "a2 a0 a1 a0 a1 a2 a1 a0 a1 a2 a0 a1 a0 a1 a2 a1 a0 a1 a2 a0 "; got != want {
		t.Errorf("after set weight: %s, want %s", got, want)
	}
}

// TestRoundRobinLoop: the precomputed order, past its end, goes on as
// haproxy's algorithm run step by step.
func TestRoundRobinLoop(t *testing.T) {
	for _, w := range [][]int{{3, 1, 2}, {1, 1, 1, 1, 1}, {2, 1, 2, 1, 3}, {10, 7, 3}, {256, 3, 1}} {
		b := pool(rules.AlgoRoundRobin, w, 0)
		o := b.bal.(*roundRobin).active.cur.Load()
		g := o.start.clone()
		for k := range uint64(3*len(o.order) + 5) {
			if i := g.pick(); int32(i) != o.at(k) {
				t.Fatalf("weights %v: pick %d is a%d, want a%d", w, k, o.at(k), i)
			}
		}
	}
}
