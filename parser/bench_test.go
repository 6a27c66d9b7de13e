package parser

import (
	"testing"

	"gohap/runtime/rules"
)

// BenchmarkVariableACL measures one maintenance_mode check: the compiled
// "acl variable" read from the shared-memory store and matched.
func BenchmarkVariableACL(b *testing.B) {
	store := openStore(b)
	g := compileSite(b, store)
	store.Set("maintenance_mode", "false")
	var acl *rules.Cond
	for _, sw := range g.Frontends[0].Switching {
		if sw.Backend.Name == "maintenance" {
			acl = sw.Cond
		}
	}
	tx := newTxn("GET", "/", store, fakeState{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if acl.Eval(tx) {
			b.Fatal("maintenance should be off")
		}
	}
}

// BenchmarkFrontendRules evaluates the whole scenario frontend for one
// request: http-request rules then use_backend rules.
func BenchmarkFrontendRules(b *testing.B) {
	store := openStore(b)
	g := compileSite(b, store)
	store.Set("maintenance_mode", "false")
	fe := g.Frontends[0]
	tx := newTxn("GET", "/static/app.css", store, fakeState{}, "Host", "www.example.com", "User-Agent", "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if got := pickBackend(fe, tx); got != "static" {
			b.Fatal(got)
		}
	}
}

func TestRulesAllocateNothing(t *testing.T) {
	store := openStore(t)
	g := compileSite(t, store)
	store.Set("maintenance_mode", "true")
	fe := g.Frontends[0]
	for _, uri := range []string{"/static/app.css", "/", "/admin"} {
		tx := newTxn("GET", uri, store, fakeState{}, "Host", "api.example.com", "X-Api", "1")
		if n := testing.AllocsPerRun(100, func() { pickBackend(fe, tx) }); n != 0 {
			t.Errorf("%s: %v allocations per request", uri, n)
		}
	}
}
