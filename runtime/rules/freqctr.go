package rules

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
)

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
	curr, past, remain := f.window(now, p)
	if curr == 0 && past <= 1 {
		return uint32(past)
	}
	return uint32((past*remain + curr*uint64(p)) / uint64(p))
}

// window returns the events of the current and previous periods as seen
// at now, and what is left of the current period.
func (f *freqCtr) window(now, p int64) (curr, past, remain uint64) {
	curr, past = uint64(f.curr), uint64(f.prev)
	left := f.tick + p - now
	if left < 0 {
		// The current period is over: it is the previous one now.
		left += p
		past = 0
		if left >= 0 {
			past = curr
		}
		curr = 0
	}
	return curr, past, uint64(max(left, 0))
}

// SessionRate is the rate of a frontend's new sessions over one second,
// which "rate-limit sessions" bounds (haproxy's fe_sess_per_sec). Safe for
// concurrent use, also by several processes sharing it in shared memory
// (it holds no pointer); the zero value has seen no session. Times are in
// milliseconds of a clock far from zero (Unix time).
type SessionRate struct {
	// lock is 0, or the pid of the process that holds it: a process that
	// died holding it (it is held for a few instructions) is found out
	// and the lock taken over.
	lock atomic.Int32
	f    freqCtr
}

// Add counts a new session at now.
func (r *SessionRate) Add(now int64) {
	r.acquire()
	r.f.add(now, 1000, 1)
	r.lock.Store(0)
}

// acquire takes r's lock, spinning: it is held for a few instructions.
func (r *SessionRate) acquire() {
	me := int32(os.Getpid())
	for spins := 0; ; spins++ {
		holder := r.lock.Load()
		if holder == 0 && r.lock.CompareAndSwap(0, me) {
			return
		}
		if spins < 100 {
			continue
		}
		// Held for long: the holder may have died in there.
		if holder != 0 && holder != me && syscall.Kill(int(holder), 0) == syscall.ESRCH && r.lock.CompareAndSwap(holder, me) {
			return
		}
		runtime.Gosched()
		spins = 0
	}
}

// Wait returns how long, in ms, to wait at now before accepting another
// session under a limit of freq per second; 0 to accept it now. As
// haproxy's freq_ctr_remain, a session is accepted while the events in
// the window, weighted as rate reads them, stay below freq; the wait is
// the time until they do.
func (r *SessionRate) Wait(now int64, freq uint32) int64 {
	r.acquire()
	defer r.lock.Store(0)
	return r.wait(now, freq)
}

// Admit counts a new session at now if a limit of freq per second lets
// it in, and returns 0; else it counts nothing and returns how long, in
// ms, to wait before asking again. The check and the count are one step,
// so that processes sharing r never let more in than the limit.
func (r *SessionRate) Admit(now int64, freq uint32) int64 {
	r.acquire()
	defer r.lock.Store(0)
	wait := r.wait(now, freq)
	if wait == 0 {
		r.f.add(now, 1000, 1)
	}
	return wait
}

// wait is Wait with the lock held.
func (r *SessionRate) wait(now int64, freq uint32) int64 {
	curr, past, remain := r.f.window(now, 1000)
	limit := uint64(freq) * 1000
	switch {
	case freq == 0 || past*remain+curr*1000 < limit:
		return 0
	case curr*1000 >= limit || past == 0:
		return int64(max(remain, 1)) // until the period ends
	}
	// past×(remain−w) + curr×1000 < limit
	return int64(max(remain-(limit-curr*1000-1)/past, 1))
}
