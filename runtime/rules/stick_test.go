package rules

import (
	"net/netip"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// t0 is a clock reading far from zero, as the table clock always is.
const t0 = clockOffset + 1_000_000

// TestFreqCtr checks the sliding window against haproxy's
// read_freq_ctr_period: the current period's count plus the previous
// period's weighted by what is left of the current one, rounded down.
func TestFreqCtr(t *testing.T) {
	const p = 1000
	var f freqCtr
	if got := f.rate(t0, p); got != 0 {
		t.Fatalf("new counter: %d", got)
	}
	f.add(t0, p, 5)
	steps := []struct {
		at   int64
		want uint32
	}{
		{t0, 5},
		{t0 + 999, 5},
		{t0 + 1000, 5}, // the period ends: 5 * 1000/1000
		{t0 + 1001, 4}, // 5 * 999/1000
		{t0 + 1250, 3}, // 5 * 750/1000
		{t0 + 1500, 2}, // 5 * 500/1000
		{t0 + 1800, 1}, // 5 * 200/1000
		{t0 + 1801, 0}, // 5 * 199/1000
		{t0 + 2001, 0}, // the window left the events behind
		{t0 + 50000, 0},
	}
	for _, s := range steps {
		if got := f.rate(s.at, p); got != s.want {
			t.Errorf("5 events at t0, read at t0%+d: %d, want %d", s.at-t0, got, s.want)
		}
	}

	// An event in the next period rotates: the first five become the
	// previous period's.
	f.add(t0+1200, p, 1)
	if f.prev != 5 || f.curr != 1 || f.tick != t0+1000 {
		t.Fatalf("after rotation: prev %d curr %d tick %+d", f.prev, f.curr, f.tick-t0)
	}
	if got := f.rate(t0+1200, p); got != 5 { // 5*800/1000 + 1
		t.Errorf("after rotation: %d, want 5", got)
	}
	// Two periods without events: the history is gone.
	f.add(t0+3500, p, 1)
	if f.prev != 0 || f.curr != 1 || f.tick != t0+3500 {
		t.Fatalf("after a gap: prev %d curr %d tick %+d", f.prev, f.curr, f.tick-t0)
	}
	// The period starts at an even millisecond, as haproxy's ticks do.
	var g freqCtr
	g.add(t0+1, p, 1)
	if g.tick != t0 {
		t.Errorf("odd start: tick %+d, want 0", g.tick-t0)
	}
}

// TestFreqCtrLowRate: one event reads as 1 until it leaves the window,
// haproxy's correction against flapping at low rates.
func TestFreqCtrLowRate(t *testing.T) {
	const p = 10000
	var f freqCtr
	f.add(t0, p, 1)
	for _, at := range []int64{t0, t0 + 9999, t0 + 10000, t0 + 15000, t0 + 19999} {
		if got := f.rate(at, p); got != 1 {
			t.Errorf("one event, read at t0%+d: %d, want 1", at-t0, got)
		}
	}
	if got := f.rate(t0+20001, p); got != 0 {
		t.Errorf("after the window: %d, want 0", got)
	}
}

// testTable returns a table whose clock the test sets.
func testTable(typ KeyType, size int, clock *int64, store ...DataType) *StickTable {
	tb := NewStickTable("t", typ)
	tb.Size = size
	tb.clock = func() int64 { return *clock }
	for _, d := range store {
		tb.Store[d] = true
		if d.IsRate() {
			tb.Period[d] = 1000
		}
	}
	return tb
}

func TestKeyOf(t *testing.T) {
	ip := func(s string) *Sample { return &Sample{Type: TypeIP, Addr: netip.MustParseAddr(s)} }
	str := func(s string) *Sample { return &Sample{Type: TypeStr, Str: []byte(s)} }
	num := func(n int64) *Sample { return &Sample{Type: TypeInt, Int: n} }
	cases := []struct {
		typ    KeyType
		keyLen int
		s      *Sample
		want   string // "" when the sample has no key of the type
	}{
		{KeyIP, 0, ip("10.1.2.3"), "\x0a\x01\x02\x03"},
		{KeyIP, 0, ip("::ffff:10.1.2.3"), "\x0a\x01\x02\x03"},
		{KeyIP, 0, ip("2001:db8::1"), ""},
		{KeyIP, 0, str("10.0.0.1"), "\x0a\x00\x00\x01"},
		{KeyIP, 0, str("nope"), ""},
		{KeyIPv6, 0, ip("10.1.2.3"), "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x01\x02\x03"},
		{KeyInteger, 0, num(258), "\x00\x00\x01\x02"},
		{KeyInteger, 0, str("7"), "\x00\x00\x00\x07"},
		{KeyInteger, 0, str("x"), ""},
		{KeyString, 32, str("/path"), "/path"},
		{KeyString, 4, str("/longer"), "/lon"},
		{KeyString, 32, num(42), "42"},
		{KeyString, 32, ip("10.0.0.1"), "10.0.0.1"},
		{KeyBinary, 4, str("ab"), "ab\x00\x00"},
		{KeyBinary, 2, str("abcd"), "ab"},
	}
	for _, c := range cases {
		var clock int64 = t0
		tb := testTable(c.typ, 10, &clock)
		if c.keyLen > 0 {
			tb.KeyLen = c.keyLen
		}
		var buf []byte
		key, ok := tb.keyOf(c.s, &buf)
		if got := string(key); ok != (c.want != "") || got != c.want {
			t.Errorf("%s len %d, %v: %q %v, want %q", c.typ, c.keyLen, c.s, got, ok, c.want)
		}
	}
}

func TestTrackers(t *testing.T) {
	clock := int64(t0)
	tb := testTable(KeyIP, 100, &clock, DataConnCur, DataConnCnt, DataConnRate, DataSessCnt,
		DataHTTPReqCnt, DataHTTPReqRate, DataHTTPErrCnt, DataHTTPFailCnt, DataGPC0, DataGPC0Rate)
	key := []byte{10, 0, 0, 1}
	get := func(d DataType) int64 {
		t.Helper()
		var s Sample
		if !tb.fetch(key, false, d, opGet, &s) {
			t.Fatalf("%s not readable", d)
		}
		return s.Int
	}
	var conn, req Trackers
	if !conn.track(0, tb, key, true, false, false) {
		t.Fatal("track failed")
	}
	conn.CountSession()
	// A request on the same connection tracks the same entry as sc1.
	if !req.track(1, tb, key, false, false, false) {
		t.Fatal("track failed")
	}
	req.CountRequest()
	req.CountResponse(404)
	req.CountResponse(501) // not a failure
	req.CountResponse(502)
	for d, want := range map[DataType]int64{DataConnCur: 2, DataConnCnt: 2, DataConnRate: 2, DataSessCnt: 1,
		DataHTTPReqCnt: 1, DataHTTPReqRate: 1, DataHTTPErrCnt: 1, DataHTTPFailCnt: 1} {
		if got := get(d); got != want {
			t.Errorf("%s = %d, want %d", d, got, want)
		}
	}
	// The request's counters go when it ends, the connection's stay.
	req.EndRequest()
	if req[1].Tracked() {
		t.Error("request counter still tracked after EndRequest")
	}
	conn.EndRequest()
	if !conn[0].Tracked() {
		t.Error("connection counter dropped by EndRequest")
	}
	if got := get(DataConnCur); got != 1 {
		t.Errorf("conn_cur after the request = %d, want 1", got)
	}
	conn.End()
	if got := get(DataConnCur); got != 0 {
		t.Errorf("conn_cur after the connection = %d, want 0", got)
	}
	// A missing entry reads as zero; an unstored type fails.
	var s Sample
	if !tb.fetch([]byte{1, 1, 1, 1}, false, DataConnCnt, opGet, &s) || s.Int != 0 {
		t.Errorf("missing entry: %v %d", s, s.Int)
	}
	if tb.fetch(key, false, DataGPT0, opGet, &s) {
		t.Error("gpt0 is not stored, yet read")
	}
	// inc and clr on gpc0.
	for i := 1; i <= 3; i++ {
		if !tb.fetch(key, false, DataGPC0, opInc, &s) || s.Int != int64(i) {
			t.Fatalf("inc %d: %d", i, s.Int)
		}
	}
	if got := get(DataGPC0Rate); got != 3 {
		t.Errorf("gpc0_rate = %d, want 3", got)
	}
	if !tb.fetch(key, false, DataGPC0, opClr, &s) || s.Int != 3 || get(DataGPC0) != 0 {
		t.Errorf("clr: returned %d, then %d", s.Int, get(DataGPC0))
	}
}

func TestTableExpire(t *testing.T) {
	clock := int64(t0)
	tb := testTable(KeyIP, 100, &clock, DataConnCnt)
	tb.Expire = 10 * time.Second
	a, b := []byte{1, 1, 1, 1}, []byte{2, 2, 2, 2}
	var tr Trackers
	tr.track(0, tb, a, true, false, false)
	tr.track(1, tb, b, true, false, false)
	tr[1].release()
	clock += 10_000
	// b was released 10s ago: gone; a is tracked: kept however old.
	if n := tb.Len(); n != 1 {
		t.Fatalf("after expiry: %d entries, want 1", n)
	}
	clock += 60_000
	if n := tb.Len(); n != 1 {
		t.Fatalf("a tracked entry expired")
	}
	// Released long after its expiry, it goes at once.
	tr.End()
	if n := tb.Len(); n != 0 {
		t.Errorf("released expired entry kept: %d entries", n)
	}
	// An update pushes the expiry back.
	tr.track(0, tb, a, true, false, false)
	tr.End()
	clock += 9_000
	tr.track(0, tb, a, true, false, false) // an update: the expiry starts again
	tr.End()
	clock += 9_000
	if n := tb.Len(); n != 1 {
		t.Errorf("entry updated 9s ago expired: %d entries", n)
	}
}

func TestTablePurge(t *testing.T) {
	clock := int64(t0)
	tb := testTable(KeyInteger, 3, &clock, DataConnCnt)
	var tr Trackers
	key := func(i int) []byte { return []byte{0, 0, 0, byte(i)} }
	for i := 1; i <= 3; i++ {
		tr.track(0, tb, key(i), true, false, false)
		tr.End()
		clock++
	}
	// Full: the least recently updated entry (1) makes room for 4.
	tr.track(0, tb, key(4), true, false, false)
	tr.End()
	var s Sample
	for i, want := range map[int]int64{1: 0, 2: 1, 3: 1, 4: 1} {
		tb.fetch(key(i), false, DataConnCnt, opGet, &s)
		if s.Int != want {
			t.Errorf("key %d: conn_cnt %d, want %d", i, s.Int, want)
		}
	}
	// Entries in use are never purged: with all three tracked, a fourth
	// key gets no entry.
	var held Trackers
	for i := 2; i <= 4; i++ {
		held.track(i-2, tb, key(i), true, false, false)
	}
	if tr.track(0, tb, key(5), true, false, false) {
		t.Error("tracked a new key in a table full of tracked entries")
	}
	held.End()
	// nopurge: a full table refuses new keys.
	tb.NoPurge = true
	if tr.track(0, tb, key(6), true, false, false) {
		t.Error("nopurge table took a new key while full")
	}
	if n := tb.Len(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
}

// TestTableConcurrent counts from many goroutines; run with -race.
func TestTableConcurrent(t *testing.T) {
	tb := NewStickTable("t", KeyString)
	tb.Size, tb.Store[DataConnCur], tb.Store[DataHTTPReqCnt] = 1000, true, true
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tr Trackers
			for i := range 200 {
				tr.track(0, tb, []byte("k"+strconv.Itoa((g+i)%16)), false, false, false)
				tr.CountRequest()
				tr.EndRequest()
			}
		}()
	}
	wg.Wait()
	total, cur := int64(0), int64(0)
	var s Sample
	for i := range 16 {
		tb.fetch([]byte("k"+strconv.Itoa(i)), false, DataHTTPReqCnt, opGet, &s)
		total += s.Int
		tb.fetch([]byte("k"+strconv.Itoa(i)), false, DataConnCur, opGet, &s)
		cur += s.Int
	}
	if total != 8*200 || cur != 0 {
		t.Errorf("http_req_cnt total %d (want 1600), conn_cur %d (want 0)", total, cur)
	}
}

// TestSessionRateWait follows haproxy's freq_ctr_remain and
// next_event_delay over one second: 10 sessions at a limit of 10 block
// the next one until the previous second's share falls below the limit.
func TestSessionRateWait(t *testing.T) {
	var r SessionRate
	now := int64(1_000_000)
	for i := 0; i < 9; i++ {
		r.Add(now)
	}
	if w := r.Wait(now, 10); w != 0 {
		t.Fatalf("9 sessions: wait %d, want 0", w)
	}
	r.Add(now)
	if w := r.Wait(now, 10); w != 1000 {
		t.Fatalf("10 sessions: wait %d, want 1000", w)
	}
	// At 1.05s, 95% of the last second's 10 still count: 9.5 < 10.
	if w := r.Wait(now+1050, 10); w != 0 {
		t.Fatalf("at 1.05s: wait %d, want 0", w)
	}
	r.Add(now + 1050)
	// 10×950 + 1×1000 = 10500 ms·sessions: in 51 ms, 10×899 + 1000 < 10000.
	if w := r.Wait(now+1050, 10); w != 51 {
		t.Fatalf("after one more: wait %d, want 51", w)
	}
}

// TestSessionRateDeadHolder: a process that died holding a shared rate's
// lock does not block the others: the lock is taken over.
func TestSessionRateDeadHolder(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	var r SessionRate
	r.lock.Store(int32(cmd.ProcessState.Pid())) // gone now
	done := make(chan struct{})
	go func() {
		r.Add(5000)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Add is stuck behind the lock of a dead process")
	}
	if w := r.Admit(5001, 1); w == 0 {
		t.Errorf("Admit let a second session in under a limit of 1 a second")
	}
	if w := r.Admit(5001, 2); w != 0 {
		t.Errorf("Admit refused a second session under a limit of 2 a second: wait %d", w)
	}
}
