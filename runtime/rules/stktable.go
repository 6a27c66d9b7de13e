package rules

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// KeyType is the type of a stick table's keys ("stick-table type").
type KeyType uint8

// The key types of HAProxy 2.6.
const (
	KeyIP KeyType = iota
	KeyIPv6
	KeyInteger
	KeyString
	KeyBinary
)

var keyTypeNames = [...]string{"ip", "ipv6", "integer", "string", "binary"}

func (k KeyType) String() string { return keyTypeNames[k] }

// ParseKeyType returns the key type HAProxy names s.
func ParseKeyType(s string) (KeyType, bool) {
	i := nameIndex(keyTypeNames[:], s)
	return KeyType(i), i >= 0
}

// DataType is a value a stick table stores per entry ("store"): a
// counter, or the rate of an event over a period.
type DataType uint8

// The data types gohap keeps. Counters come first, then rates.
const (
	DataGPT0 DataType = iota
	DataGPC0
	DataGPC1
	DataConnCnt
	DataConnCur
	DataSessCnt
	DataHTTPReqCnt
	DataHTTPErrCnt
	DataHTTPFailCnt
	DataBytesInCnt  // bytes from the client, kept in stkEntry.bytes
	DataBytesOutCnt // bytes to the client, kept in stkEntry.bytes
	DataGPC0Rate
	DataGPC1Rate
	DataConnRate
	DataSessRate
	DataHTTPReqRate
	DataHTTPErrRate
	DataHTTPFailRate
	DataBytesInRate
	DataBytesOutRate
	numDataTypes

	firstRate = DataGPC0Rate
)

var dataTypeNames = [numDataTypes]string{
	"gpt0", "gpc0", "gpc1", "conn_cnt", "conn_cur", "sess_cnt", "http_req_cnt", "http_err_cnt",
	"http_fail_cnt", "bytes_in_cnt", "bytes_out_cnt", "gpc0_rate", "gpc1_rate", "conn_rate",
	"sess_rate", "http_req_rate", "http_err_rate", "http_fail_rate", "bytes_in_rate", "bytes_out_rate",
}

func (d DataType) String() string { return dataTypeNames[d] }

// IsRate reports whether d is a rate, which takes a period.
func (d DataType) IsRate() bool { return d >= firstRate }

// ParseDataType returns the data type HAProxy names s.
func ParseDataType(s string) (DataType, bool) {
	i := nameIndex(dataTypeNames[:], s)
	return DataType(i), i >= 0
}

// stkShards is the number of independently locked parts of a table.
const stkShards = 16

// clockOffset is added to the table clock so that a zero freqCtr reads as
// one that last counted long ago, as HAProxy's zeroed counters do.
const clockOffset = 1 << 32

// StickTable is a "stick-table": entries keyed by a client address (or a
// path, a header...) holding counters that track-sc rules update and
// fetches such as sc_http_req_rate read, for rate limiting and connection
// tracking. Its configuration fields are set by the compile step and then
// frozen; its entries are live and safe for concurrent use. A reload
// builds new tables, so counters start again from zero, as in haproxy
// without peers. Build it with NewStickTable.
type StickTable struct {
	Name string // the proxy's name, which "table" arguments name
	Pos  string // file:line of the stick-table line
	Type KeyType
	// KeyLen is how many bytes of a string or binary key are kept
	// (default 32): longer keys are cut, shorter binary keys padded.
	KeyLen int
	Size   int           // most entries at once
	Expire time.Duration // an entry nobody updated for this long goes; 0: never
	// NoPurge: a full table refuses new entries instead of dropping the
	// least recently updated ones.
	NoPurge bool
	// Store tells which data types each entry keeps; Period is the period
	// of each stored rate, in ms.
	Store  [numDataTypes]bool
	Period [numDataTypes]int64

	base  time.Time
	clock func() int64 // tests; nil: ms since base
	seed  maphash.Seed
	count atomic.Int64 // entries in all shards
	shard [stkShards]stkShard
}

// stkShard is a part of a table: its entries by key, and the same entries
// from the most to the least recently updated, for expiry and purge.
type stkShard struct {
	mu  sync.Mutex // guards everything below and the entries' data
	m   map[string]*stkEntry
	lru stkEntry // list head: lru.next is the newest, lru.prev the oldest
	_   [40]byte // keep shards on their own cache lines
}

// stkEntry is one key of a table and its data, guarded by its shard's mu.
type stkEntry struct {
	key    string
	shard  uint8
	refs   int32 // trackers holding the entry: it does not expire meanwhile
	expire int64 // ms; meaningless when the table has no Expire
	touch  int64 // ms of the last update
	prev   *stkEntry
	next   *stkEntry
	srv    string // the server "stick" rules recorded (server_id)
	cnt    [DataBytesInCnt]uint32
	// bytes are bytes_in_cnt and bytes_out_cnt: 64 bits, as in haproxy,
	// where the other counters have 32.
	bytes [2]uint64
	rate  [numDataTypes - firstRate]freqCtr
}

// NewStickTable returns an empty table; the caller fills the
// configuration fields before the table is used.
func NewStickTable(name string, typ KeyType) *StickTable {
	t := &StickTable{Name: name, Type: typ, KeyLen: 32, base: time.Now(), seed: maphash.MakeSeed()}
	for i := range t.shard {
		sh := &t.shard[i]
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	return t
}

// now returns the table clock in ms.
func (t *StickTable) now() int64 {
	if t.clock != nil {
		return t.clock()
	}
	return int64(time.Since(t.base)/time.Millisecond) + clockOffset
}

// Len returns the number of live entries (table_cnt), dropping the
// expired ones first.
func (t *StickTable) Len() int {
	now := t.now()
	for i := range t.shard {
		sh := &t.shard[i]
		sh.mu.Lock()
		t.sweep(sh, now)
		sh.mu.Unlock()
	}
	return int(t.count.Load())
}

// shardOf returns the number of the shard that holds key.
func (t *StickTable) shardOf(key []byte) uint8 {
	return uint8(maphash.Bytes(t.seed, key) % stkShards)
}

// expired reports whether e should be gone at now. Guarded by e's shard.
func (t *StickTable) expired(e *stkEntry, now int64) bool {
	return t.Expire > 0 && e.refs == 0 && now >= e.expire
}

// find returns the live entry of key in sh, or nil. Guarded by sh.mu.
func (t *StickTable) find(sh *stkShard, key []byte, now int64) *stkEntry {
	e := sh.m[string(key)]
	if e != nil && t.expired(e, now) {
		t.remove(sh, e)
		return nil
	}
	return e
}

// touched records an update of e at now: it moves to the front of its
// shard's list and its expiry starts again. Guarded by sh.mu.
func (t *StickTable) touched(sh *stkShard, e *stkEntry, now int64) {
	e.touch = now
	if t.Expire > 0 {
		e.expire = now + t.Expire.Milliseconds()
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.next, e.prev = sh.lru.next, &sh.lru
	sh.lru.next.prev = e
	sh.lru.next = e
}

// remove drops e from sh. Guarded by sh.mu.
func (t *StickTable) remove(sh *stkShard, e *stkEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(sh.m, e.key)
	t.count.Add(-1)
}

// sweep drops the expired entries of sh, oldest first. Guarded by sh.mu.
func (t *StickTable) sweep(sh *stkShard, now int64) {
	if t.Expire <= 0 {
		return
	}
	for e := sh.lru.prev; e != &sh.lru && now >= e.expire; {
		prev := e.prev
		if e.refs == 0 {
			t.remove(sh, e)
		}
		e = prev
	}
}

// purge drops up to n of the least recently updated entries nobody
// tracks, taking the oldest of all shards each time; it reports how many
// went. It takes the shard locks one at a time.
func (t *StickTable) purge(n int) int {
	done := 0
	for done < n {
		best, bestTouch := -1, int64(0)
		for i := range t.shard {
			sh := &t.shard[i]
			sh.mu.Lock()
			if e := oldestFree(sh); e != nil && (best < 0 || e.touch < bestTouch) {
				best, bestTouch = i, e.touch
			}
			sh.mu.Unlock()
		}
		if best < 0 {
			break
		}
		sh := &t.shard[best]
		sh.mu.Lock()
		if e := oldestFree(sh); e != nil {
			t.remove(sh, e)
			done++
		}
		sh.mu.Unlock()
	}
	return done
}

// oldestFree returns the least recently updated entry of sh that no
// tracker holds, or nil. Guarded by sh.mu.
func oldestFree(sh *stkShard) *stkEntry {
	for e := sh.lru.prev; e != &sh.lru; e = e.prev {
		if e.refs == 0 {
			return e
		}
	}
	return nil
}

// get returns the entry of key, created if needed, with its shard locked
// (the caller unlocks it); nil when the table is full and may not purge.
func (t *StickTable) get(key []byte, now int64) (*stkEntry, *stkShard) {
	si := t.shardOf(key)
	sh := &t.shard[si]
	sh.mu.Lock()
	if e := t.find(sh, key, now); e != nil {
		return e, sh
	}
	t.sweep(sh, now)
	if int(t.count.Load()) >= t.Size {
		// Make room, as haproxy does: a few of the oldest entries go.
		sh.mu.Unlock()
		for i := range t.shard {
			o := &t.shard[i]
			o.mu.Lock()
			t.sweep(o, now)
			o.mu.Unlock()
		}
		if int(t.count.Load()) >= t.Size && (t.NoPurge || t.purge(t.Size>>8+1) == 0) {
			return nil, nil
		}
		sh.mu.Lock()
		if e := t.find(sh, key, now); e != nil { // added meanwhile
			return e, sh
		}
	}
	if sh.m == nil {
		sh.m = make(map[string]*stkEntry)
	}
	e := &stkEntry{key: string(key), shard: si}
	e.prev, e.next = e, e // alone: touched links it first
	sh.m[e.key] = e
	t.count.Add(1)
	t.touched(sh, e, now)
	return e, sh
}

// lock locks the shard of e and returns it.
func (t *StickTable) lock(e *stkEntry) *stkShard {
	sh := &t.shard[e.shard]
	sh.mu.Lock()
	return sh
}

// countEvent records one event on e: counter cnt and rate rate, those of
// them the table stores. Guarded by e's shard; it reports whether
// anything was stored, and then e counts as updated.
func (t *StickTable) countEvent(sh *stkShard, e *stkEntry, cnt, rate DataType, now int64) bool {
	if !t.bump(e, cnt, rate, now) {
		return false
	}
	t.touched(sh, e, now)
	return true
}

// bump is countEvent without the update of e's place and expiry.
func (t *StickTable) bump(e *stkEntry, cnt, rate DataType, now int64) bool {
	if t.Store[cnt] {
		e.cnt[cnt]++
	}
	if t.Store[rate] {
		e.rate[rate-firstRate].add(now, t.Period[rate], 1)
	}
	return t.Store[cnt] || t.Store[rate]
}

// StoresBytes reports whether t stores a byte count or rate, which the
// connection then counts its bytes for.
func (t *StickTable) StoresBytes() bool {
	return t.Store[DataBytesInCnt] || t.Store[DataBytesOutCnt] || t.Store[DataBytesInRate] || t.Store[DataBytesOutRate]
}

// addBytes adds n bytes to e's count cnt and rate rate, those t stores,
// and reports whether it stored any. Guarded by e's shard.
func (t *StickTable) addBytes(e *stkEntry, n int64, cnt, rate DataType, now int64) bool {
	if n <= 0 {
		return false
	}
	if t.Store[cnt] {
		e.bytes[cnt-DataBytesInCnt] += uint64(n)
	}
	if t.Store[rate] {
		// haproxy's rates count on 32 bits too.
		e.rate[rate-firstRate].add(now, t.Period[rate], uint32(min(n, math.MaxUint32)))
	}
	return t.Store[cnt] || t.Store[rate]
}

// value returns data type d of e at now, and false when the table does
// not store it. Guarded by e's shard.
func (t *StickTable) value(e *stkEntry, d DataType, now int64) (int64, bool) {
	switch {
	case !t.Store[d]:
		return 0, false
	case d.IsRate():
		return int64(e.rate[d-firstRate].rate(now, t.Period[d])), true
	case d == DataBytesInCnt || d == DataBytesOutCnt:
		return int64(e.bytes[d-DataBytesInCnt]), true
	}
	return int64(e.cnt[d]), true
}

// keyOf converts sample s to a key of t's type and returns its bytes,
// built in *buf when s does not hold them as they are; ok is false when s
// has no form of that type (an IPv6 address for an "ip" table).
func (t *StickTable) keyOf(s *Sample, buf *[]byte) (key []byte, ok bool) {
	b := (*buf)[:0]
	switch t.Type {
	case KeyIP, KeyIPv6:
		var a netip.Addr
		switch s.Type {
		case TypeIP:
			a = s.Addr
		case TypeStr:
			var err error
			if a, err = netip.ParseAddr(string(s.Str)); err != nil {
				return nil, false
			}
		default:
			var v [4]byte
			binary.BigEndian.PutUint32(v[:], uint32(s.Int))
			a = netip.AddrFrom4(v)
		}
		if t.Type == KeyIP {
			if a = a.Unmap(); !a.Is4() {
				return nil, false
			}
			v := a.As4()
			b = append(b, v[:]...)
		} else {
			v := a.As16()
			b = append(b, v[:]...)
		}
	case KeyInteger:
		n := s.Int
		switch s.Type {
		case TypeStr:
			v, err := strconv.ParseInt(string(s.Str), 10, 64)
			if err != nil {
				return nil, false
			}
			n = v
		case TypeIP:
			if !s.Addr.Unmap().Is4() {
				return nil, false
			}
			v := s.Addr.Unmap().As4()
			n = int64(binary.BigEndian.Uint32(v[:]))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	default: // string, binary
		switch s.Type {
		case TypeStr:
			if t.Type == KeyString && len(s.Str) <= t.KeyLen {
				return s.Str, true
			}
			b = append(b, s.Str...)
		case TypeIP:
			if t.Type == KeyString {
				b = s.Addr.AppendTo(b)
			} else {
				b = append(b, s.Addr.AsSlice()...)
			}
		default:
			if t.Type == KeyString {
				b = strconv.AppendInt(b, s.Int, 10)
			} else {
				b = binary.BigEndian.AppendUint64(b, uint64(s.Int))
			}
		}
		if len(b) > t.KeyLen {
			b = b[:t.KeyLen]
		}
		for t.Type == KeyBinary && len(b) < t.KeyLen {
			b = append(b, 0)
		}
	}
	*buf = b
	return b, true
}
