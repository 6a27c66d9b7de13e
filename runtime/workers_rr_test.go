package runtime

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"gohap/runtime/rules"
	"gohap/shm"
)

// regionChain hands the regions a leader engine asks for (its process
// state, then one per generation) to a follower engine in the same order,
// as attached views: what the follower processes get from MapRegion.
type regionChain struct {
	mu   sync.Mutex
	made []*shm.Region
	next int
}

func (c *regionChain) leader(size int) (*shm.Region, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := shm.HeapRegion(size)
	c.made = append(c.made, r)
	return r, nil
}

func (c *regionChain) follower(int) (*shm.Region, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next >= len(c.made) {
		return nil, fmt.Errorf("the leader made %d regions", len(c.made))
	}
	c.next++
	return c.made[c.next-1].Attach(), nil
}

// rrConfig is a roundrobin (or static-rr) backend of servers a0.. with
// weights, behind frontend fe.
func rrConfig(algo string, addrs []string, weights []int) string {
	var sb strings.Builder
	sb.WriteString("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
	sb.WriteString("frontend fe\n    bind 127.0.0.1:0\n    default_backend b\n")
	sb.WriteString("backend b\n    balance " + algo + "\n")
	for i, a := range addrs {
		fmt.Fprintf(&sb, "    server a%d %s weight %d\n", i, a, weights[i])
	}
	return sb.String()
}

// namedServers starts n backends that answer with their name, a0...
func namedServers(t *testing.T, n int) []string {
	var addrs []string
	for i := range n {
		name := "a" + itoa(i)
		s := newRawServer(t, func(string, []byte) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(name)) + "\r\n\r\n" + name
		})
		addrs = append(addrs, s.addr())
	}
	return addrs
}

// workerEngines starts count engines on src as the workers of one proxy
// over one shared region: a leader, then followers. Each process reads
// the configuration itself, and each follower has listening sockets of
// its own (one per bind, on port 0) so that a test chooses which engine
// serves a connection.
func workerEngines(t *testing.T, src string, count int) []*Engine {
	t.Helper()
	slots := make([]int, count)
	for i := range slots {
		slots[i] = i
	}
	return workerEnginesAt(t, src, slots)
}

// workerEnginesAt is workerEngines with the followers in the given slots
// (slots[0] is the leader's, 0): a reload's followers take slots above
// the count of processes.
func workerEnginesAt(t *testing.T, src string, slots []int) []*Engine {
	t.Helper()
	chain := &regionChain{}
	var engs []*Engine
	binds := 0
	for i, slot := range slots {
		res, err := compileString(src)
		if err != nil {
			t.Fatal(err)
		}
		w := &Workers{Count: len(slots), Index: slot, Region: chain.leader}
		if i > 0 {
			w.Region, w.LeaderPID = chain.follower, os.Getpid()
			for range binds {
				f := listenerFile(t)
				t.Cleanup(func() { f.Close() })
				w.Listeners = append(w.Listeners, f)
			}
		}
		e, err := New(Config{Graph: res.Graph, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		if i == 0 {
			lns, err := e.ListenerFiles()
			if err != nil {
				t.Fatal(err)
			}
			binds = len(lns)
			closeFiles(lns)
		}
		engs = append(engs, e)
	}
	return engs
}

// served sends one request to the engine's frontend and returns the
// name of the server that answered.
func served(t *testing.T, e *Engine) string {
	t.Helper()
	c := dial(t, e.Addrs("fe")[0].String())
	defer c.c.Close()
	_, body := c.get("/")
	return body
}

// rrStep is a part of a roundrobin script: picks requests, then change
// applied through the leader's runtime API.
type rrStep struct {
	picks  int
	change func(t *testing.T, e *Engine)
}

func setWeight(srv string, w int) func(*testing.T, *Engine) {
	return func(t *testing.T, e *Engine) {
		sv, err := e.Server("b", srv)
		if err == nil {
			err = sv.SetWeight(w)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func setAdmin(srv string, st AdminState) func(*testing.T, *Engine) {
	return func(t *testing.T, e *Engine) {
		sv, err := e.Server("b", srv)
		if err != nil {
			t.Fatal(err)
		}
		sv.SetAdmin(st)
	}
}

// runScript plays steps on engs (engs[0] is the leader), sending each
// request to the engine who(k) names for the k-th request, and returns
// the servers in the order they answered.
func runScript(t *testing.T, engs []*Engine, steps []rrStep, who func(k int) int) string {
	t.Helper()
	var got []string
	for _, st := range steps {
		for range st.picks {
			got = append(got, served(t, engs[who(len(got))]))
		}
		if st.change != nil {
			st.change(t, engs[0])
		}
	}
	return strings.Join(got, " ")
}

// TestWorkersRoundRobinOneOrder: a leader and a follower serving one
// configuration serve together the order one process serves, across
// weight and admin changes made on the leader: their pick counter and
// the order's rebuilds are shared.
func TestWorkersRoundRobinOneOrder(t *testing.T) {
	addrs := namedServers(t, 4)
	for _, algo := range []string{"roundrobin", "static-rr"} {
		src := rrConfig(algo, addrs, []int{3, 1, 2, 2})
		steps := []rrStep{
			{picks: 7, change: setAdmin("a2", AdminMaint)},
			{picks: 5, change: setAdmin("a2", AdminReady)},
			{picks: 9, change: setWeight("a3", 0)},
			{picks: 4, change: setWeight("a3", 2)},
			{picks: 10},
		}
		if algo == "roundrobin" {
			steps = append([]rrStep{{picks: 12, change: setWeight("a1", 4)}}, steps...)
		}
		want := runScript(t, workerEngines(t, src, 1), steps, func(int) int { return 0 })
		if first := names(pool(rules.AlgoRoundRobin, []int{3, 1, 2, 2}, 0), 12, lbKey{}); algo == "roundrobin" && !strings.HasPrefix(want, first) {
			t.Fatalf("%s: one process serves %s, want %s first", algo, want, first)
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		for name, who := range map[string]func(int) int{
			"alternate": func(k int) int { return k % 2 },
			"random":    func(int) int { return rnd.IntN(2) },
		} {
			if got := runScript(t, workerEngines(t, src, 2), steps, who); got != want {
				t.Errorf("%s, %s: two workers serve\n%s\nwant\n%s", algo, name, got, want)
			}
		}
		// A reload's follower, in a slot above the number of processes.
		if got := runScript(t, workerEnginesAt(t, src, []int{0, MaxWorkers - 1}), steps, func(k int) int { return k % 2 }); got != want {
			t.Errorf("%s, follower in slot %d: two workers serve\n%s\nwant\n%s", algo, MaxWorkers-1, got, want)
		}
	}
}

// TestWorkersRoundRobinCatchUp: a follower that took no pick while the
// leader served across two changes goes on with the leader's order, as
// does one when nobody picked between the changes.
func TestWorkersRoundRobinCatchUp(t *testing.T) {
	addrs := namedServers(t, 4)
	for _, algo := range []string{"roundrobin", "static-rr"} {
		src := rrConfig(algo, addrs, []int{3, 1, 2, 2})
		steps := []rrStep{
			{picks: 5, change: setAdmin("a0", AdminMaint)},
			{picks: 6, change: setWeight("a3", 0)},
			{picks: 3, change: setAdmin("a0", AdminReady)},
			{change: setWeight("a3", 2)},
			{picks: 12},
		}
		want := runScript(t, workerEngines(t, src, 1), steps, func(int) int { return 0 })
		// The follower takes none of the first 14 picks, across three
		// changes; then it serves every other request, from the 15th
		// (it finds the last two changes first) or the 16th (the
		// leader published the order after them).
		for first := 14; first <= 15; first++ {
			who := func(k int) int {
				if k < first {
					return 0
				}
				return 1 - (k-first)%2
			}
			if got := runScript(t, workerEngines(t, src, 2), steps, who); got != want {
				t.Errorf("%s, follower from pick %d: two workers serve\n%s\nwant\n%s", algo, first, got, want)
			}
		}
	}
}

// sharedPools builds one backend, roundrobin or static-rr, in n worker
// processes' views of one region: pools[0] is the leader's.
func sharedPools(algo rules.Algo, weights []int, n int) ([]*backendState, *shm.Region) {
	be := &rules.Backend{Name: "b", Balance: algo}
	for i, w := range weights {
		be.Servers = append(be.Servers, &rules.Server{Name: "a" + itoa(i), Index: i, ID: i + 1, Backend: be, Weight: w})
	}
	size := shm.Sizer()
	newBackendState(be, size, &Workers{Count: n}, false)
	r := shm.HeapRegion(size.Size())
	pools := []*backendState{newBackendState(be, r, &Workers{Count: n}, false)}
	for i := 1; i < n; i++ {
		pools = append(pools, attachPool(pools[0], r, n, i))
	}
	return pools, r
}

// attachPool builds the backend of leader as worker i of n finds it in
// region r: a follower, or one started in place of a worker that died.
func attachPool(leader *backendState, r *shm.Region, n, i int) *backendState {
	return newBackendState(leader.cfg, r.Attach(), &Workers{Count: n, Index: i}, true)
}

// TestWorkersRoundRobinRestart: a worker started in place of one that
// died, even while it wrote a record, serves the one order with the
// others.
func TestWorkersRoundRobinRestart(t *testing.T) {
	weights := []int{3, 1, 2, 5}
	one := pool(rules.AlgoRoundRobin, weights, 0)
	pools, r := sharedPools(rules.AlgoRoundRobin, weights, 2)
	var want, got []string
	pick := func(b *backendState, into *[]string) {
		*into = append(*into, b.pick(lbKey{}, nil).cfg.Name)
	}
	change := func(i int, w int32) {
		one.servers[i].weight.Store(w)
		pools[0].servers[i].weight.Store(w)
	}
	for k := range 5 {
		pick(one, &want)
		pick(pools[k%2], &got)
	}
	change(1, 4)
	pick(one, &want)
	pick(pools[1], &got) // the follower publishes the order after the change
	// It dies while it writes its next record, and comes back.
	rr := pools[1].bal.(*roundRobin)
	rr.active.recs[2*1+1-rr.active.last%2].head.seq.Store(7)
	named := rrArea(rrTag(rr.active.ctr.Load()))
	pools[1] = attachPool(pools[0], r, 2, 1)
	// It writes its next record where the one the counter names is not.
	if last := pools[1].bal.(*roundRobin).active.last; last != named {
		t.Errorf("the worker that came back takes area %d as its last, the counter names %d", last, named)
	}
	for k := range 6 {
		pick(one, &want)
		pick(pools[k%2], &got)
	}
	change(2, 6)
	for k := range 9 {
		pick(one, &want)
		pick(pools[1-k%2], &got)
	}
	if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
		t.Errorf("with a worker that came back:\n%s\nwant\n%s", g, w)
	}
}

// TestWorkersRoundRobinConcurrent: workers picking at once take each
// position of the one order once, as threads do haproxy's.
func TestWorkersRoundRobinConcurrent(t *testing.T) {
	weights := []int{3, 1, 2, 5}
	for _, algo := range []rules.Algo{rules.AlgoRoundRobin, rules.AlgoStaticRR} {
		const perWorker = 2000
		pools, _ := sharedPools(algo, weights, 3)
		want := map[string]int{}
		one := pool(algo, weights, 0)
		for range perWorker * len(pools) {
			want[one.pick(lbKey{}, nil).cfg.Name]++
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for _, p := range pools {
			for range 2 { // two goroutines per worker
				wg.Add(1)
				go func() {
					defer wg.Done()
					mine := map[string]int{}
					for range perWorker / 2 {
						mine[p.pick(lbKey{}, nil).cfg.Name]++
					}
					mu.Lock()
					for k, v := range mine {
						got[k] += v
					}
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: picks %v, want %v", algo, got, want)
		}
	}
}

// TestWorkersRoundRobinRacingChanges: workers rebuilding at once while
// weights change keep to one order: once the changes stop, every worker
// serves the next picks of the same order.
func TestWorkersRoundRobinRacingChanges(t *testing.T) {
	pools, _ := sharedPools(rules.AlgoRoundRobin, []int{3, 1, 2, 5}, 3)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					p.pick(lbKey{}, nil)
				}
			}
		}()
	}
	for i := range 200 {
		s := pools[i%3].servers[i%4]
		s.weight.Store(int32(1 + i%7))
		if i%5 == 0 {
			s.bounces.Add(1)
		}
	}
	close(stop)
	wg.Wait()
	// Each worker's next picks, in turn, continue one order.
	for _, p := range pools {
		p.pick(lbKey{}, nil)
	}
	rr := pools[0].bal.(*roundRobin)
	o := rr.active.cur.Load()
	k := rrPos(rr.active.ctr.Load())
	for j := range 30 {
		want := pools[0].servers[o.at(k+uint64(j))].cfg.Name
		if got := pools[j%3].pick(lbKey{}, nil).cfg.Name; got != want {
			t.Fatalf("pick %d: worker %d picked %s, want %s", j, j%3, got, want)
		}
	}
}
