package shm

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// selfValue is a value that checks itself: L copies of byte(L). A torn read
// (length of one value with bytes of another, or bytes of two values) fails
// checkValue.
func selfValue(l int) string { return strings.Repeat(string([]byte{byte(l)}), l) }

func checkValue(v []byte) error {
	for i, c := range v {
		if c != byte(len(v)) {
			return fmt.Errorf("torn value: length %d but byte %d is %d: %q", len(v), i, c, v)
		}
	}
	return nil
}

// TestConcurrentWritersAndReaders runs writers on two Store handles of one
// file (separate mappings and flock descriptions) and on several goroutines
// per handle, with readers on both handles checking every value they load.
func TestConcurrentWritersAndReaders(t *testing.T) {
	path := tempPath(t)
	stores := []*Store{mustOpen(t, path), mustOpen(t, path)}
	names := []string{"v0", "v1", "v2"}

	// Racing allocations from both handles agree on one slot per name.
	var wg sync.WaitGroup
	got := make([][]int, 8)
	for g := range got {
		wg.Go(func() {
			for _, n := range names {
				i, err := stores[g%2].Resolve(n)
				if err != nil {
					t.Error(err)
				}
				got[g] = append(got[g], i)
			}
		})
	}
	wg.Wait()
	for g := range got {
		if fmt.Sprint(got[g]) != "[0 1 2]" {
			t.Fatalf("goroutine %d resolved %v, want [0 1 2]", g, got[g])
		}
	}

	const (
		writersPerStore = 3
		setsPerWriter   = 1000
		readers         = 4
	)
	var stop atomic.Bool
	var loads, changes atomic.Int64
	var rg sync.WaitGroup
	for r := range readers {
		rg.Go(func() {
			s := stores[r%2]
			buf := make([]byte, 0, MaxValue)
			last := make([]int, len(names))
			for !stop.Load() {
				for slot := range names {
					buf = s.Load(slot, buf)
					if err := checkValue(buf); err != nil {
						t.Error(err)
						stop.Store(true)
						return
					}
					if len(buf) != last[slot] {
						changes.Add(1)
						last[slot] = len(buf)
					}
					loads.Add(1)
				}
			}
		})
	}
	for si, s := range stores {
		for w := range writersPerStore {
			wg.Go(func() {
				for i := range setsPerWriter {
					l := 1 + (si*writersPerStore+w+i*37)%MaxValue
					if err := s.Set(names[i%len(names)], selfValue(l)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	t.Logf("%d loads saw %d changes", loads.Load(), changes.Load())
	if loads.Load() == 0 || changes.Load() < 2 {
		t.Fatalf("readers saw too little: %d loads, %d changes", loads.Load(), changes.Load())
	}
	for _, s := range stores {
		for _, v := range s.Vars() {
			if err := checkValue([]byte(v.Value)); err != nil || v.Value == "" {
				t.Fatalf("final %s = %q: %v", v.Name, v.Value, err)
			}
		}
	}
}
