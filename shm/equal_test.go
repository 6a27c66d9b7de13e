package shm

import (
	"path/filepath"
	"testing"
)

// storeWithMode opens a new store with the variable "mode" and returns
// its slot.
func storeWithMode(t *testing.T) (*Store, int) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "vars"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	slot, err := s.Resolve("mode")
	if err != nil {
		t.Fatal(err)
	}
	return s, slot
}

func TestEqual(t *testing.T) {
	s, slot := storeWithMode(t)
	if s.Equal(slot, []byte("true")) {
		t.Error("unset variable equals 'true'")
	}
	long := "a-value-longer-than-one-word-and-not-aligned"
	for _, v := range []string{"true", "false", "", "12345678", long, "true"} {
		if err := s.Set("mode", v); err != nil {
			t.Fatal(err)
		}
		for _, probe := range []string{"true", "false", "", "12345678", "1234567", "123456789", long, long[:len(long)-1], "tru"} {
			if got, want := s.Equal(slot, []byte(probe)), probe == v; got != want {
				t.Errorf("value %q: Equal(%q) = %v, want %v", v, probe, got, want)
			}
		}
	}
	if s.Equal(Slots, []byte("true")) || s.Equal(-1, nil) {
		t.Error("out-of-range slot compares equal")
	}
	p := []byte("true")
	if n := testing.AllocsPerRun(100, func() { s.Equal(slot, p) }); n != 0 {
		t.Errorf("Equal allocates %v", n)
	}
}

// TestSetSlot: set-var(proc.NAME) writes by slot; values the store cannot
// hold are dropped, and writing the current value again allocates nothing.
func TestSetSlot(t *testing.T) {
	s, slot := storeWithMode(t)
	s.SetSlot(slot, []byte("on"))
	if v, _ := s.Get("mode"); v != "on" {
		t.Fatalf("after SetSlot: %q", v)
	}
	for _, bad := range [][]byte{make([]byte, MaxValue+1), []byte("a\x00b")} {
		s.SetSlot(slot, bad)
		if v, _ := s.Get("mode"); v != "on" {
			t.Errorf("SetSlot(%q...) replaced the value: %q", bad[:3], v)
		}
	}
	s.SetSlot(Slots, []byte("x"))
	s.SetSlot(-1, []byte("x"))
	v := []byte("on")
	if n := testing.AllocsPerRun(100, func() { s.SetSlot(slot, v) }); n != 0 {
		t.Errorf("SetSlot of the current value allocates %v", n)
	}
	s.SetSlot(slot, nil)
	if v, _ := s.Get("mode"); v != "" {
		t.Errorf("after SetSlot(nil): %q", v)
	}
}
