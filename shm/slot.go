package shm

import (
	"encoding/binary"
	"runtime"
)

const (
	// loadSpins is how many times load retries at once before it yields.
	loadSpins = 8
	// loadTries bounds load's retries. A retry happens only when a writer
	// published a new value while load was copying, and writers are
	// serialised by a lock and a syscall per Set, so running out means the
	// reader was starved by thousands of back-to-back writes.
	loadTries = 1 << 12
)

// inUse reports whether the slot holds a variable. Once true, the name is
// complete and never changes.
func (sl *slot) inUse() bool { return sl.used.Load() == 1 }

// word packs up to 8 bytes of s starting at off into a little-endian word,
// zero-padded past the end of s.
func word(s string, off int) uint64 {
	var w uint64
	for i := 7; i >= 0; i-- {
		w <<= 8
		if off+i < len(s) {
			w |= uint64(s[off+i])
		}
	}
	return w
}

// nameIs reports whether the slot's name is name. The caller has checked
// inUse, or holds the writer lock.
func (sl *slot) nameIs(name string) bool {
	if int(sl.nameLen.Load()) != len(name) {
		return false
	}
	for i := 0; i*8 < len(name); i++ {
		if sl.name[i].Load() != word(name, i*8) {
			return false
		}
	}
	return true
}

// nameString returns the slot's name. The caller has checked inUse.
func (sl *slot) nameString() string {
	n := min(int(sl.nameLen.Load()), MaxName)
	b := make([]byte, 0, nameWords*8)
	for i := 0; i*8 < n; i++ {
		b = binary.LittleEndian.AppendUint64(b, sl.name[i].Load())
	}
	return string(b[:n])
}

// claim writes name into a free slot and then publishes it. The caller holds
// the writer lock. A writer that dies before the final store leaves the slot
// free, and the next claim overwrites the name.
func (sl *slot) claim(name string) {
	for i := range sl.name {
		sl.name[i].Store(word(name, i*8))
	}
	sl.nameLen.Store(uint32(len(name)))
	sl.used.Store(1)
}

// load appends the published value to dst[:0]. It is lock-free and makes no
// syscalls; it allocates only if cap(dst) < MaxValue. If a consistent copy
// cannot be made in loadTries attempts it returns dst[:0].
func (sl *slot) load(dst []byte) []byte {
	for try := 0; try < loadTries; try++ {
		seq := sl.seq.Load()
		buf := &sl.val[seq&1]
		n := min(int(sl.vlen[seq&1].Load()), MaxValue)
		dst = dst[:0]
		for i := 0; i*8 < n; i++ {
			dst = binary.LittleEndian.AppendUint64(dst, buf[i].Load())
		}
		dst = dst[:n]
		if sl.seq.Load() == seq {
			return dst
		}
		if try >= loadSpins {
			runtime.Gosched()
		}
	}
	return dst[:0]
}

// store publishes value. The caller holds the writer lock and has checked
// ValidValue. Only the inactive buffer is written before seq is bumped, so a
// writer killed at any point leaves the published value intact. midWrite, if
// non-nil, runs after half of the value's words are written and before the
// length and seq are stored; tests use it to kill a writer mid-write.
func (sl *slot) store(value []byte, midWrite func()) {
	seq := sl.seq.Load()
	next := seq + 1
	buf := &sl.val[next&1]
	words := (len(value) + 7) / 8
	for i := 0; i < words; i++ {
		if i == words/2 && midWrite != nil {
			midWrite()
		}
		buf[i].Store(wordOf(value, i*8))
	}
	sl.vlen[next&1].Store(uint32(len(value)))
	sl.seq.Store(next)
}

// equal reports whether the published value is v, comparing in place under
// the same sequence check as load, with no copy.
func (sl *slot) equal(v []byte) bool {
	for try := 0; try < loadTries; try++ {
		seq := sl.seq.Load()
		n := int(sl.vlen[seq&1].Load())
		eq := n == len(v)
		if eq {
			buf := &sl.val[seq&1]
			for i := 0; i*8 < n; i++ {
				if buf[i].Load() != wordOf(v, i*8) {
					eq = false
					break
				}
			}
		}
		if sl.seq.Load() == seq {
			return eq
		}
		if try >= loadSpins {
			runtime.Gosched()
		}
	}
	return false
}

// wordOf is word for a byte slice: 8 bytes from off, zero-padded.
func wordOf(v []byte, off int) uint64 {
	if off+8 <= len(v) {
		return binary.LittleEndian.Uint64(v[off:])
	}
	var w uint64
	for i := len(v) - 1; i >= off; i-- {
		w = w<<8 | uint64(v[i])
	}
	return w
}
