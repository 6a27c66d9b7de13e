package shm

import (
	"path/filepath"
	"testing"
)

func TestEqual(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "vars"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slot, err := s.Resolve("mode")
	if err != nil {
		t.Fatal(err)
	}
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
