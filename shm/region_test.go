package shm

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

type regionCounters struct {
	hits atomic.Int64
	up   atomic.Bool
	vals [3]atomic.Uint32
}

type regionOther struct{ n atomic.Int32 }

// layout allocates what a process's state would: the same calls in every
// process that shares the region.
func layout(r *Region) (*regionCounters, *regionOther) {
	a := Alloc[regionCounters](r)
	b := Alloc[regionOther](r)
	return a, b
}

func TestRegionSharedBetweenMappings(t *testing.T) {
	s := Sizer()
	layout(s)
	r, err := NewRegion(s.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, b := layout(r)
	if err := r.Seal(); err != nil {
		t.Fatal(err)
	}
	// A second mapping of the same file, as a worker process makes it.
	dup, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(r.File().Fd())))
	if err != nil {
		t.Fatal(err)
	}
	f2, err := os.OpenFile(dup.Name(), os.O_RDWR, 0)
	dup.Close()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := MapRegion(f2)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	a2, b2 := layout(r2)
	if err := r2.Check(); err != nil {
		t.Fatal(err)
	}
	a.hits.Add(5)
	a2.hits.Add(2)
	b2.n.Store(-3)
	a.vals[2].Store(9)
	if a2.hits.Load() != 7 || a.hits.Load() != 7 || b.n.Load() != -3 || a2.vals[2].Load() != 9 {
		t.Fatalf("the mappings do not share memory: %d %d %d %d", a.hits.Load(), a2.hits.Load(), b.n.Load(), a2.vals[2].Load())
	}
	fi, err := r.File().Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(s.Size()) {
		t.Fatalf("region is %d bytes, sizer said %d", fi.Size(), s.Size())
	}
}

func TestRegionCheckRefusesOtherLayout(t *testing.T) {
	s := Sizer()
	layout(s)
	r := HeapRegion(s.Size())
	layout(r)
	if err := r.Seal(); err != nil {
		t.Fatal(err)
	}
	// Same size, different order: another configuration.
	v := r.Attach()
	Alloc[regionOther](v)
	Alloc[regionCounters](v)
	if err := v.Check(); err == nil || !strings.Contains(err.Error(), "differently") {
		t.Fatalf("Check = %v, want a layout error", err)
	}
	w := r.Attach()
	layout(w)
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestRegionOverflow(t *testing.T) {
	r := HeapRegion(regionHeaderSize + 64)
	a, _ := layout(r) // the second allocation does not fit
	a.hits.Add(1)
	if err := r.Seal(); err == nil {
		t.Fatal("Seal accepted a region too small for its allocations")
	}
}

func TestAllocNilRegionIsHeap(t *testing.T) {
	a, b := layout(nil)
	a.hits.Add(1)
	b.n.Add(1)
	if a.hits.Load() != 1 || b.n.Load() != 1 {
		t.Fatal("heap allocation broken")
	}
}

func TestAllocRefusesPointers(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Alloc placed a type with pointers in shared memory")
		}
	}()
	Alloc[atomic.Pointer[int]](HeapRegion(4096))
}
