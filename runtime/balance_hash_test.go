package runtime

import (
	"fmt"
	"testing"

	"gohap/runtime/rules"
)

func TestHashFuncs(t *testing.T) {
	in := []byte("123456789")
	for _, c := range []struct {
		f    rules.HashFunc
		want uint32
	}{
		{rules.HashCRC32, 0xcbf43926}, // the CRC-32 check value
		{rules.HashSDBM, hashSDBMRef(in)},
		{rules.HashDJB2, djb2Ref(in)},
	} {
		if got := hashKey(&rules.Hash{Func: c.f}, in); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.f, got, c.want)
		}
	}
	if hashWT6(nil) != 0xa53c965a^0x5ca6953a || hashWT6(in) == hashWT6([]byte("123456788")) {
		t.Error("wt6")
	}
	// full_hash is a bijection: no two of many inputs collide.
	seen := map[uint32]bool{}
	for i := uint32(0); i < 1<<16; i++ {
		seen[fullHash(i*chRange)] = true
	}
	if len(seen) != 1<<16 {
		t.Errorf("full_hash collides: %d distinct of %d", len(seen), 1<<16)
	}
}

// hashSDBMRef is sdbm as usually written: h*65599 + c.
func hashSDBMRef(b []byte) uint32 {
	var h uint32
	for _, c := range b {
		h = h*65599 + uint32(c)
	}
	return h
}

// djb2Ref is djb2 as usually written: h*33 + c from 5381.
func djb2Ref(b []byte) uint32 {
	h := uint32(5381)
	for _, c := range b {
		h = h*33 + uint32(c)
	}
	return h
}

func TestHashKeys(t *testing.T) {
	h := &rules.Hash{}
	same := func(what string, k lbKey, key string) {
		t.Helper()
		if !k.ok || k.hash != hashSDBM([]byte(key)) {
			t.Errorf("%s: %+v, want the hash of %q", what, k, key)
		}
	}
	same("uri", uriKey(h, []byte("/a/b?c")), "/a/b")
	h.URIWhole = true
	same("uri whole", uriKey(h, []byte("/a/b?c")), "/a/b?c")
	h.URIDepth = 1
	same("uri depth 1", uriKey(h, []byte("/a/b?c")), "/a")
	h.URIDepth, h.URILen = 0, 3
	same("uri len 3", uriKey(h, []byte("/a/b?c")), "/a/")
	h.URILen, h.URIPathOnly = 0, true
	same("path-only", uriKey(h, []byte("http://h:80/x?y")), "/x?y")
	same("path-only, no path", uriKey(h, []byte("http://h")), "")
	same("path-only, *", uriKey(h, []byte("*")), "")

	h = &rules.Hash{Param: []byte("id")}
	same("param", paramKey(h, []byte("/p?a=1&id=42&b")), "42")
	same("param empty", paramKey(h, []byte("/p?id=")), "")
	for _, u := range []string{"/p", "/p?id", "/p?xid=1", "/p?ID=1", "/p?a=id=1"} {
		if k := paramKey(h, []byte(u)); k.ok {
			t.Errorf("param in %q: %+v, want none", u, k)
		}
	}

	h = &rules.Hash{Header: []byte("x-user")}
	hdr := func(v ...string) []rules.Header {
		var hs []rules.Header
		for _, s := range v {
			hs = append(hs, rules.Header{Name: []byte("X-User"), Value: []byte(s)})
		}
		return hs
	}
	same("hdr", hdrKey(h, hdr(" a , b", "c")), "a")
	if k := hdrKey(h, hdr(" ")); k.ok {
		t.Error("empty header has a key")
	}
	h.DomainOnly = true
	for in, want := range map[string]string{"haproxy.1wt.eu": "1wt", "1wt.eu": "1wt", "local": "local", ".x": ".x", "x.": "x"} {
		same("domain "+in, hdrKey(h, hdr(in)), want)
	}
}

// hashPool is a hashing backend of servers with the given weights.
func hashPool(algo rules.Algo, hc rules.Hash, weights ...int) *backendState {
	be := &rules.Backend{Name: "b", Balance: algo, Hash: hc}
	for i, w := range weights {
		be.Servers = append(be.Servers, &rules.Server{Name: "s" + itoa(i+1), Index: i, ID: i + 1, Backend: be, Weight: w})
	}
	return newBackendState(be, nil, nil, false)
}

// spread returns the server each of n keys goes to.
func spread(b *backendState, n int) []*serverState {
	out := make([]*serverState, n)
	for i := range out {
		out[i] = b.pick(lbKey{hash: fullHash(uint32(i)), ok: true}, nil)
	}
	return out
}

// TestHashRedistribution: when a server goes down, consistent hashing
// moves only its keys, and back up they return; map-based hashing
// rebuilds its table over the servers left.
func TestHashRedistribution(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		b := hashPool(rules.AlgoSource, rules.Hash{Consistent: consistent}, 1, 2, 1, 1)
		before := spread(b, 2000)
		b.servers[1].up.Store(false)
		after := spread(b, 2000)
		movedOther := 0
		for i := range before {
			if after[i] == b.servers[1] {
				t.Fatalf("consistent=%v: key %d on a down server", consistent, i)
			}
			if before[i] != after[i] && before[i] != b.servers[1] {
				movedOther++
			}
		}
		if consistent && movedOther != 0 {
			t.Errorf("consistent: %d keys of up servers moved", movedOther)
		}
		if !consistent && movedOther == 0 {
			t.Errorf("map-based: no key of an up server moved (the table is not rebuilt)")
		}
		b.servers[1].up.Store(true)
		for i, s := range spread(b, 2000) {
			if s != before[i] {
				t.Fatalf("consistent=%v: key %d not back on %s after the server came back", consistent, i, before[i].cfg.Name)
			}
		}
	}
}

// TestHashMapTable: recalc_server_map's interleaving of weights 1, 2, 3
// (the first declared wins ties), scaled down by their GCD.
func TestHashMapTable(t *testing.T) {
	b := hashPool(rules.AlgoSource, rules.Hash{}, 10, 20, 30)
	tab := b.bal.(*hashBalancer).current()
	got := ""
	for _, s := range tab.slots {
		got += s.cfg.Name + " "
	}
	if got != "s1 s3 s2 s3 s2 s3 " {
		t.Errorf("map %s", got)
	}
	b.servers[0].weight.Store(20) // static: no rebuild while usable
	if tab2 := b.bal.(*hashBalancer).current(); tab2 != tab {
		t.Error("map-based table rebuilt for a weight change")
	}
	b.servers[0].weight.Store(10)
	b.servers[2].weight.Store(0) // weight 0: out of the table
	tab = b.bal.(*hashBalancer).current()
	if len(tab.slots) != 3 || tab.tot != 3 {
		t.Errorf("without s3: %d slots", len(tab.slots))
	}
}

// TestHashNoKey: without a key the request goes round robin over the
// table; with a single usable server every request goes to it.
func TestHashNoKey(t *testing.T) {
	b := hashPool(rules.AlgoHdr, rules.Hash{}, 1, 2)
	if got := names(b, 6, lbKey{}); got != "s1 s2 s2 s1 s2 s2 " {
		t.Errorf("map round robin: %s", got)
	}
	c := hashPool(rules.AlgoHdr, rules.Hash{Consistent: true}, 1, 1)
	seen := map[*serverState]int{}
	for range 64 {
		seen[c.pick(lbKey{}, nil)]++
	}
	if len(seen) != 2 {
		t.Errorf("ring round robin reached %d servers", len(seen))
	}
}

// TestHashBalanceFactor: with a bound, a server over its share of the
// load passes the request to the next point's server.
func TestHashBalanceFactor(t *testing.T) {
	b := hashPool(rules.AlgoURI, rules.Hash{Consistent: true, BalanceFactor: 125}, 1, 1, 1)
	key := lbKey{hash: 12345, ok: true}
	first := b.pick(key, nil)
	first.cur.Store(10)
	if s := b.pick(key, nil); s == first || s == nil {
		t.Errorf("overloaded %s still picked", first.cfg.Name)
	}
	first.cur.Store(0)
	if s := b.pick(key, first); s == first {
		t.Error("avoid not honoured on the ring")
	}
}

func TestHashPickAllocs(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		for _, a := range []rules.Algo{rules.AlgoSource, rules.AlgoURI, rules.AlgoURLParam, rules.AlgoHdr} {
			b := hashPool(a, rules.Hash{Consistent: consistent, Param: []byte("id"), Header: []byte("x-id")}, 1, 2, 3)
			h := b.bal.(*hashBalancer)
			req := &rules.Request{URI: []byte("/a/b?id=7"), Headers: []rules.Header{{Name: []byte("X-Id"), Value: []byte("u1")}}}
			ip := []byte{10, 1, 2, 3}
			if n := testing.AllocsPerRun(100, func() { b.pick(h.key(ip, req), nil) }); n != 0 {
				t.Errorf("%s consistent=%v: %v allocs per pick", a, consistent, n)
			}
		}
	}
}

func BenchmarkHashPick(b *testing.B) {
	for _, consistent := range []bool{false, true} {
		bs := hashPool(rules.AlgoURI, rules.Hash{Consistent: consistent}, 1, 2, 3, 4, 5, 6, 7, 8)
		h := bs.bal.(*hashBalancer)
		req := &rules.Request{URI: []byte("/static/img/logo.png?v=3")}
		b.Run(fmt.Sprintf("consistent=%v", consistent), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				bs.pick(h.key(nil, req), nil)
			}
		})
	}
}
