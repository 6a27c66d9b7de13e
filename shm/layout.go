package shm

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"unsafe"
)

// The file is a header followed by Slots fixed-size slots. Every field that
// another process may write while we read it is an atomic type, so all
// accesses through the mapping are atomic loads and stores, as the Go memory
// model (and the race detector) require for memory shared with other writers.
//
//	offset 0      header (headerSize bytes)
//	offset 64     slot 0
//	offset 640    slot 1 ...
//
// Slots are allocated first-free, never moved and never freed, so a slot
// index resolved when a config is compiled stays valid for the life of the
// file.

// DefaultPath is where the proxy and `gohap -S` meet when no path is given.
// /dev/shm is tmpfs: the store survives a proxy restart but not a reboot.
const DefaultPath = "/dev/shm/gohap-vars"

// MaxName is the longest variable name in bytes. A slot stores the name in
// nameWords words, with its length kept separately.
const MaxName = 63

// MaxValue is the longest value in bytes. It is a multiple of 8 so a value
// buffer is a whole number of uint64 words.
const MaxValue = 240

// Slots is the number of variables a store can hold. Slots are never freed.
const Slots = 512

const (
	magic      = "GOHAPVR1"
	version    = 1
	nameWords  = (MaxName + 1 + 7) / 8 // 8 words, 64 bytes
	valueWords = MaxValue / 8          // 30 words, 240 bytes
	headerSize = 64
	slotSize   = 576 // 9 cache lines
	fileSize   = headerSize + Slots*slotSize
)

// header is the first headerSize bytes of the file. magic is stored last when
// a file is initialised, so a file whose magic is set has a complete header.
type header struct {
	magic    atomic.Uint64 // magic as little-endian bytes
	version  atomic.Uint32
	slots    atomic.Uint32
	maxName  atomic.Uint32
	maxValue atomic.Uint32
	slotSize atomic.Uint32
	hdrSize  atomic.Uint32
	hash     atomic.Uint64 // layoutHash()
	_        [24]byte
}

// slot is one variable. used is published (0 → 1) after name and nameLen are
// written, and name never changes afterwards. The value is a seqlock over a
// double buffer: val[seq&1] with length vlen[seq&1] is the published value,
// and a writer fills the other buffer before storing seq+1.
type slot struct {
	used    atomic.Uint32
	nameLen atomic.Uint32
	seq     atomic.Uint64
	vlen    [2]atomic.Uint32
	name    [nameWords]atomic.Uint64
	val     [2][valueWords]atomic.Uint64
	_       [8]byte
}

// Compile-time checks that the Go structs match the file layout.
var (
	_ [headerSize - unsafe.Sizeof(header{})]byte
	_ [unsafe.Sizeof(header{}) - headerSize]byte
	_ [slotSize - unsafe.Sizeof(slot{})]byte
	_ [unsafe.Sizeof(slot{}) - slotSize]byte
	_ [MaxValue % 8]struct{} // must be empty: MaxValue is a multiple of 8
)

// magicWord returns the magic as the uint64 stored in header.magic.
func magicWord() uint64 { return binary.LittleEndian.Uint64([]byte(magic)) }

// layoutHash identifies the layout: the constants and the offsets of every
// field. A build that changes any of them cannot open an older file.
func layoutHash() uint64 {
	var h header
	var s slot
	desc := fmt.Sprintf("%s v%d slots=%d name=%d value=%d hdr=%d/%d,%d,%d,%d slot=%d/%d,%d,%d,%d,%d,%d",
		magic, version, Slots, MaxName, MaxValue,
		unsafe.Sizeof(h), unsafe.Offsetof(h.version), unsafe.Offsetof(h.slotSize), unsafe.Offsetof(h.hdrSize), unsafe.Offsetof(h.hash),
		unsafe.Sizeof(s), unsafe.Offsetof(s.nameLen), unsafe.Offsetof(s.seq), unsafe.Offsetof(s.vlen),
		unsafe.Offsetof(s.name), unsafe.Offsetof(s.val), valueWords)
	f := fnv.New64a()
	f.Write([]byte(desc))
	return f.Sum64()
}

// fileHeader is the header as read from the file with pread, before the file
// is mapped, so that a foreign file is rejected without mapping it.
type fileHeader struct {
	magic                                       [8]byte
	version, slots, maxName, maxValue, slotSize uint32
	hdrSize                                     uint32
	hash                                        uint64
}

func parseHeader(b []byte) fileHeader {
	le := binary.LittleEndian
	var h fileHeader
	copy(h.magic[:], b[0:8])
	h.version = le.Uint32(b[8:])
	h.slots = le.Uint32(b[12:])
	h.maxName = le.Uint32(b[16:])
	h.maxValue = le.Uint32(b[20:])
	h.slotSize = le.Uint32(b[24:])
	h.hdrSize = le.Uint32(b[28:])
	h.hash = le.Uint64(b[32:])
	return h
}

// describe prints the layout parameters for error messages.
func (h fileHeader) describe() string {
	return fmt.Sprintf("version %d, %d slots of %d bytes, names %d, values %d, hash %016x",
		h.version, h.slots, h.slotSize, h.maxName, h.maxValue, h.hash)
}

// wantHeader is the header this build writes and accepts.
func wantHeader() fileHeader {
	h := fileHeader{version: version, slots: Slots, maxName: MaxName, maxValue: MaxValue,
		slotSize: slotSize, hdrSize: headerSize, hash: layoutHash()}
	copy(h.magic[:], magic)
	return h
}

// init writes the header into a zeroed mapping, magic last.
func (h *header) init() {
	h.version.Store(version)
	h.slots.Store(Slots)
	h.maxName.Store(MaxName)
	h.maxValue.Store(MaxValue)
	h.slotSize.Store(slotSize)
	h.hdrSize.Store(headerSize)
	h.hash.Store(layoutHash())
	h.magic.Store(magicWord())
}
