package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Region is memory that gohap's worker processes share: the live state of
// servers, counters and balancers, which every worker reads and changes
// with atomic operations, so that N processes behave as the one haproxy
// process with N threads they stand in for. The first process creates a
// Region (NewRegion) and passes its file to the workers it starts, which
// map it (MapRegion); each then builds its state with Alloc in the same
// order, so the same configuration gives every process the same layout.
//
// A Region holds no Go pointers and no locks that a dead process could
// leave held; what lives in it is plain atomics. A nil *Region stands for
// process memory: Alloc then allocates on the heap.
type Region struct {
	mem  []byte
	next int // offset of the next allocation
	f    *os.File
	// sizing: mem is nil and Alloc only measures (Sizer).
	sizing bool
	// sig fingerprints the allocations made so far: types and order.
	sig uint64
	// overflow: an allocation did not fit; Seal and Check report it.
	overflow bool
}

// regionHeader starts every region; allocations follow it.
type regionHeader struct {
	magic  uint64
	size   uint64 // bytes allocated after the header
	sig    uint64 // layout fingerprint of the process that sealed it
	sealed atomic.Uint32
}

const (
	regionMagic      = 0x676f686170726731 // "gohaprg1"
	regionHeaderSize = 64
	align            = 64 // a cache line: objects of different kinds do not share one
)

var errNoRegion = errors.New("shm: region not mapped")

// Sizer returns a Region that maps nothing: Alloc gives heap memory and
// Size reports what a real region for the same allocations needs.
func Sizer() *Region { return &Region{sizing: true, sig: fnvOffset} }

// Size is the length a region needs for the allocations made so far.
func (r *Region) Size() int { return regionHeaderSize + r.next }

// NewRegion creates a shared memory region of size bytes (from Size) that
// no file name reaches: an anonymous memory file, passed to worker
// processes as an open descriptor. Only this process and the processes it
// gives the file to can map it.
func NewRegion(size int) (*Region, error) {
	fd, err := unix.MemfdCreate("gohap-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shm: creating shared state: %w", err)
	}
	f := os.NewFile(uintptr(fd), "gohap-state")
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: sizing shared state: %w", err)
	}
	r, err := mapRegion(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	h := r.header()
	h.magic, h.size = regionMagic, uint64(size-regionHeaderSize)
	return r, nil
}

// MapRegion maps the region in f, a file NewRegion created in another
// process, for Alloc to lay out again; it takes f over.
func MapRegion(f *os.File) (*Region, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shm: shared state: %w", err)
	}
	size := int(fi.Size())
	if size < regionHeaderSize {
		return nil, errors.New("shm: shared state too short")
	}
	r, err := mapRegion(f, size)
	if err != nil {
		return nil, err
	}
	if h := r.header(); h.magic != regionMagic || int(h.size) != size-regionHeaderSize {
		r.Close()
		return nil, errors.New("shm: not a gohap shared state region")
	}
	return r, nil
}

func mapRegion(f *os.File, size int) (*Region, error) {
	mem, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("shm: mapping shared state: %w", err)
	}
	return &Region{mem: mem, f: f, sig: fnvOffset}, nil
}

// HeapRegion returns a region of size bytes in process memory, laid out
// as a shared one: tests use it to run several engines over one state.
func HeapRegion(size int) *Region {
	words := make([]uint64, (size+7)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), size)
	r := &Region{mem: mem, sig: fnvOffset}
	h := r.header()
	h.magic, h.size = regionMagic, uint64(size-regionHeaderSize)
	return r
}

// Attach returns a fresh view of the same memory, with nothing allocated
// yet: what a second process gets from MapRegion.
func (r *Region) Attach() *Region {
	return &Region{mem: r.mem, sig: fnvOffset}
}

// File is the region's memory file, to hand to worker processes; nil for
// heap memory.
func (r *Region) File() *os.File { return r.f }

// Close unmaps the region and closes its file. Memory from Alloc must not
// be used after it.
func (r *Region) Close() error {
	if r == nil || r.f == nil {
		return nil
	}
	err := unmap(r.mem)
	r.mem = nil
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *Region) header() *regionHeader {
	return (*regionHeader)(unsafe.Pointer(&r.mem[0]))
}

// Seal records the layout the allocations made, for Check in the other
// processes. It fails if an allocation did not fit.
func (r *Region) Seal() error {
	if r == nil || r.sizing {
		return nil
	}
	if r.overflow {
		return fmt.Errorf("shm: shared state needs more than its %d bytes", len(r.mem))
	}
	h := r.header()
	h.sig = r.sig
	h.sealed.Store(1)
	return nil
}

// Check reports whether this process laid the region out as the process
// that sealed it did: same types in the same order. A difference means the
// two built their state from different configurations.
func (r *Region) Check() error {
	if r == nil || r.sizing {
		return nil
	}
	h := r.header()
	switch {
	case r.mem == nil:
		return errNoRegion
	case h.sealed.Load() == 0:
		return errors.New("shm: shared state was never sealed")
	case r.overflow, h.sig != r.sig, int(h.size) != r.next:
		return errors.New("shm: this process laid out the shared state differently: the configuration changed since the first process read it")
	}
	return nil
}

const fnvOffset = 14695981039346656037

// Alloc returns a zeroed T placed in r, or on the heap when r is nil.
// T must hold no Go pointers: the memory is mapped in other processes
// and not scanned by the garbage collector.
func Alloc[T any](r *Region) *T {
	if r == nil {
		return new(T)
	}
	t := reflect.TypeFor[T]()
	if !pointerFree(t) {
		panic("shm: Alloc of " + t.String() + ", which holds pointers")
	}
	size := (int(t.Size()) + align - 1) &^ (align - 1)
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], r.sig)
	h.Write(b[:])
	h.Write([]byte(t.String()))
	binary.LittleEndian.PutUint64(b[:], uint64(t.Size()))
	h.Write(b[:])
	r.sig = h.Sum64()
	off := regionHeaderSize + r.next
	r.next += size
	if r.sizing || off+size > len(r.mem) {
		r.overflow = r.overflow || !r.sizing
		return new(T)
	}
	return (*T)(unsafe.Pointer(&r.mem[off]))
}

// pointerFree reports whether values of t hold no pointers.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return t.Len() == 0 || pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}
