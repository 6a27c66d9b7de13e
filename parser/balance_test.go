package parser

import (
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// TestBalanceHash checks the hashing arguments of "balance", "hash-type"
// and "hash-balance-factor", their inheritance from defaults, and the
// server ids consistent hashing places points from.
func TestBalanceHash(t *testing.T) {
	res, err := compileString(t, `
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    hash-type consistent
backend u
    balance uri whole len 12 depth 3 path-only
    server a 127.0.0.1:1 id 2
    server b 127.0.0.1:2
    server c 127.0.0.1:3
backend p
    balance url_param user
    hash-type map-based djb2 avalanche
    server a 127.0.0.1:1
backend h
    balance hdr(X-User) use_domain_only
    hash-type consistent crc32
    hash-balance-factor 150
    server a 127.0.0.1:1
`)
	if err != nil {
		t.Fatal(err)
	}
	be := map[string]*rules.Backend{}
	for _, b := range res.Graph.Backends {
		be[b.Name] = b
	}
	u := be["u"]
	want := rules.Hash{Consistent: true, Avalanche: true, URIWhole: true, URIPathOnly: true, URILen: 12, URIDepth: 3}
	if u.Balance != rules.AlgoURI || u.Hash.Consistent != want.Consistent || u.Hash.Avalanche != want.Avalanche ||
		u.Hash.URIWhole != want.URIWhole || !u.Hash.URIPathOnly || u.Hash.URILen != 12 || u.Hash.URIDepth != 3 {
		t.Errorf("uri: %v %+v", u.Balance, u.Hash)
	}
	var ids []int
	for _, s := range u.Servers {
		ids = append(ids, s.ID)
	}
	if ids[0] != 2 || ids[1] != 1 || ids[2] != 3 {
		t.Errorf("server ids %v, want [2 1 3]", ids)
	}
	if p := be["p"]; p.Balance != rules.AlgoURLParam || string(p.Hash.Param) != "user" || p.Hash.Consistent ||
		p.Hash.Func != rules.HashDJB2 || !p.Hash.Avalanche {
		t.Errorf("url_param: %v %+v", p.Balance, p.Hash)
	}
	if h := be["h"]; h.Balance != rules.AlgoHdr || string(h.Hash.Header) != "x-user" || !h.Hash.DomainOnly ||
		h.Hash.Func != rules.HashCRC32 || h.Hash.Avalanche || h.Hash.BalanceFactor != 150 {
		t.Errorf("hdr: %v %+v", h.Balance, h.Hash)
	}

	for _, c := range []struct{ cfg, err string }{
		{"balance uri len 0", "'len' expects a positive integer"},
		{"balance uri deep", "only 'len', 'depth', 'path-only' and 'whole'"},
		{"balance url_param", "parameter name is required"},
		{"balance url_param id check_post", "'check_post' (hashing a parameter of the request body) is not supported"},
		{"balance hdr()", "header field name is required"},
		{"balance hdr", "hdr requires"},
		{"balance hdr(Host) use_domain", "'use_domain_only'"},
		{"balance rdp-cookie", "'balance rdp-cookie' is not supported"},
		{"hash-type avalanche", "only supports 'consistent' and 'map-based'"},
		{"hash-type consistent md5", "hash functions"},
		{"hash-type consistent sdbm full", "only supports 'avalanche'"},
		{"hash-balance-factor 100", "greater than 100"},
		{"server a 127.0.0.1:1 id 1\n    server b 127.0.0.1:2 id 1", "id 1 is already used"},
		{"default-server id 3", "does not accept option 'id'"},
	} {
		_, err := compileString(t, "backend b\n    "+c.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want %q", c.cfg, err, c.err)
		}
	}
	res, err = compileString(t, "backend b\n    mode tcp\n    balance uri\n    server a 127.0.0.1:1\n")
	if err != nil || res.Graph.Backends[0].Balance != rules.AlgoRoundRobin || len(res.Warnings) == 0 {
		t.Errorf("uri in tcp mode: %v, want round robin with a warning", err)
	}
}
