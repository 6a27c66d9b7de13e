package rules

import (
	"net/netip"
	"testing"
)

// TestXXH64 checks the published XXH64 test vectors (seed 0).
func TestXXH64(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"Nobody inspects the spammish repetition", 0xfbcea83c8a378bf1},
	} {
		if got := xxh64([]byte(c.in), 0); got != c.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestCookieDate(t *testing.T) {
	b := AppendCookieDate(nil, 1700000000)
	if len(b) != 5 {
		t.Fatalf("%q: want 5 characters", b)
	}
	got, ok := ParseCookieDate(b)
	if !ok || got != (1700000000+3)/4*4 {
		t.Errorf("ParseCookieDate(%q) = %d, %v", b, got, ok)
	}
	if _, ok := ParseCookieDate([]byte("ab~cd")); ok {
		t.Error("'~' is not a base64 digit")
	}
}

func TestDynamicCookie(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:8080")
	c := DynamicCookie("dummy", ap)
	if len(c) != 16 || c != DynamicCookie("dummy", ap) || c == DynamicCookie("other", ap) {
		t.Errorf("DynamicCookie = %q", c)
	}
	if DynamicCookie("k", netip.AddrPort{}) != "" {
		t.Error("no address, no cookie")
	}
}

// TestCookieDateOracle is what haproxy 2.6 sent at Unix time 1795480694
// for "cookie SRV insert maxidle 30m maxlife 8h": "SRV=s1|awTce|awTce".
func TestCookieDateOracle(t *testing.T) {
	if got := string(AppendCookieDate(nil, 1795480694)); got != "awTce" {
		t.Errorf("AppendCookieDate = %q, want awTce", got)
	}
}
