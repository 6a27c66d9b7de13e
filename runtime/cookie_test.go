package runtime

import (
	"strings"
	"testing"

	"gohap/runtime/rules"
)

// TestCacheable replays what haproxy 2.6 did with "cookie S insert
// nocache" for responses with these headers: "private" was added only
// where want is true.
func TestCacheable(t *testing.T) {
	cases := []struct {
		method string
		status int
		hdrs   string
		want   bool
	}{
		{"GET", 200, "cache-control: max-age=60", true},
		{"GET", 200, "cache-control: public", false},
		{"GET", 200, "expires: Thu, 01 Dec 2094 16:00:00 GMT", true},
		{"GET", 200, "last-modified: Wed, 21 Oct 2015 07:28:00 GMT", true},
		{"GET", 200, "", false},
		{"GET", 200, "cache-control: no-cache", false},
		{"POST", 200, "cache-control: max-age=60", false},
		{"GET", 302, "cache-control: max-age=60", false},
	}
	for _, c := range cases {
		var hdrs []rules.Header
		if c.hdrs != "" {
			n, v, _ := strings.Cut(c.hdrs, ": ")
			hdrs = append(hdrs, rules.Header{Name: []byte(n), Value: []byte(v)})
		}
		req := &rules.Request{Method: []byte(c.method)}
		if got := cacheable(req, c.status, hdrs); got != c.want {
			t.Errorf("%s %d %q: cacheable %v, want %v", c.method, c.status, c.hdrs, got, c.want)
		}
	}
}

func TestCacheableAllocatesNothing(t *testing.T) {
	req := &rules.Request{Method: []byte("GET")}
	hdrs := []rules.Header{{Name: []byte("Cache-Control"), Value: []byte("Max-Age=60, must-revalidate")}}
	if !cacheable(req, 200, hdrs) {
		t.Fatal("max-age=60 (any case) is cacheable")
	}
	if n := testing.AllocsPerRun(100, func() { cacheable(req, 200, hdrs) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
