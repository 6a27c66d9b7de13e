package rules

import (
	"testing"
	"time"
)

// TestStickServerExpiry: a stored server is found until the entry
// expires; a match refreshes the expiry, as haproxy's touch does, and a
// store overwrites the server.
func TestStickServerExpiry(t *testing.T) {
	now := int64(t0)
	tb := testTable(KeyString, 10, &now)
	tb.Expire = 10 * time.Second
	key := []byte("u1")
	if _, ok := tb.StickServer(key); ok {
		t.Fatal("empty table: entry found")
	}
	tb.SetServer(key, "s1")
	now += 9000
	if name, ok := tb.StickServer(key); !ok || name != "s1" {
		t.Fatalf("after 9s: %q %v, want s1", name, ok)
	}
	now += 9000 // 18s after the store, 9s after the match
	if name, ok := tb.StickServer(key); !ok || name != "s1" {
		t.Fatalf("9s after a match: %q %v, want s1", name, ok)
	}
	tb.SetServer(key, "s2")
	if name, _ := tb.StickServer(key); name != "s2" {
		t.Fatalf("after a store: %q, want s2", name)
	}
	now += 10000
	if _, ok := tb.StickServer(key); ok {
		t.Fatal("10s idle: entry still found")
	}
	if tb.Len() != 0 {
		t.Fatalf("%d entries, want 0", tb.Len())
	}
}
