package rules

// freqCtr counts events over a sliding period the way HAProxy's frequency
// counters do: it keeps the events of the current period and of the one
// before, and reads as the current count plus the previous count weighted
// by the share of the previous period still inside the window. The zero
// value is a counter that saw nothing, for a clock far from zero (see
// StickTable.now). Not safe for concurrent use: the table's shard lock
// guards it.
type freqCtr struct {
	tick int64  // start of the current period, in ms; even, as in haproxy
	curr uint32 // events in the current period
	prev uint32 // events in the period before it
}

// add records n events at time now (ms) on a counter of period p (ms).
func (f *freqCtr) add(now, p int64, n uint32) {
	if now-f.tick >= p {
		// The period is over: it becomes the previous one, unless more
		// than one period went by, and then nothing is left of it.
		f.prev, f.curr = f.curr, 0
		f.tick += p
		if now-f.tick >= p {
			f.prev = 0
			f.tick = now
		}
		f.tick &^= 1
	}
	f.curr += n
}

// rate returns the number of events per period at time now, rounded
// down. As in haproxy, a counter that only holds one past event reads as
// 1 until that event leaves the window, so that low rates do not flap.
func (f *freqCtr) rate(now, p int64) uint32 {
	if p <= 0 {
		return f.curr
	}
	curr, past := uint64(f.curr), uint64(f.prev)
	remain := f.tick + p - now // what is left of the current period
	if remain < 0 {
		// The current period is over: it is the previous one now.
		remain += p
		past = 0
		if remain >= 0 {
			past = curr
		}
		curr = 0
	}
	if curr == 0 && past <= 1 {
		return uint32(past)
	}
	return uint32((past*uint64(remain) + curr*uint64(p)) / uint64(p))
}
