package runtime

import (
	"bytes"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"
)

// A Go process keeps the memory its heap grew to: the collector runs
// when the heap has doubled, and the runtime gives freed pages back to
// the system over minutes. After a burst of new connections gohap would
// hold, for minutes, the buffers and sessions the burst needed. The
// engine gives them back instead once its process has gone quiet: a tick
// with next to no allocation, and no connection being served but those
// waiting idle in the parker. Under load it never trims, as a trim costs
// two collections and the faults that bring the memory back. haproxy
// trims its allocator at a reload and on memory shortage; its global
// "no-memory-trimming" turns gohap's trimming off too.
const (
	trimTick  = time.Second // how often the engine looks
	trimQuiet = 64 << 10    // allocated in a tick, at most: quiet
	trimAfter = 1 << 20     // allocated since the last trim, at least
)

// trimClock decides when to trim from the bytes the process allocated
// so far, read once a tick.
type trimClock struct {
	prev uint64 // at the last tick
	last uint64 // at the last trim
}

// due takes the bytes allocated so far and whether the engine serves
// no connection, and reports whether to trim now: it serves none, the
// last tick allocated next to nothing, and enough was allocated since the
// last trim to be worth giving back.
func (t *trimClock) due(allocs uint64, idle bool) bool {
	quiet := idle && allocs-t.prev < trimQuiet
	t.prev = allocs
	if !quiet || allocs-t.last < trimAfter {
		return false
	}
	t.last = allocs
	return true
}

// trimLoop gives memory back to the system when due, until Close: it
// reads allocs, the bytes the process allocated so far, at each tick and
// calls trim when due, no connection is being served and the
// configuration allows it.
func (e *Engine) trimLoop(tick <-chan time.Time, allocs func() uint64, trim func()) {
	defer e.wg.Done()
	// last stays 0: what the start allocated counts.
	clock := trimClock{prev: allocs()}
	for {
		select {
		case <-e.done:
			return
		case <-tick:
		}
		if clock.due(allocs(), e.serving() == 0) && !e.gen.Load().g.Global.NoMemoryTrimming {
			trim()
		}
	}
}

// serving returns how many connections the engine serves, not counting
// those waiting idle in the parker.
func (e *Engine) serving() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// startTrimming starts trimLoop on the process's allocations.
func (e *Engine) startTrimming() {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocs := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	tick := time.NewTicker(trimTick)
	e.wg.Add(1)
	go func() {
		defer tick.Stop()
		e.trimLoop(tick.C, allocs, giveBack)
	}()
}

// giveBack frees what is no longer used and gives it to the system.
func giveBack() {
	endIdleThreads()
	// Engine.sessions and bufs keep what they hold over one collection;
	// FreeOSMemory runs the second.
	goruntime.GC()
	debug.FreeOSMemory()
}

// endIdleThreads ends the threads a burst left idle. Go starts a thread
// whenever one blocks in a system call while others have work, and never
// ends them: a burst of connections on a busy machine leaves 10 to 30,
// about 22 kB each. A goroutine that exits while locked to its thread
// ends the thread, and the scheduler wakes an idle one in its place, or
// starts one if there was none: it stops after three tries in a row that
// did not lower the count (or that ran on the main thread, which Go never
// ends), and tries no more than the threads it could end.
func endIdleThreads() {
	floor := goruntime.GOMAXPROCS(0) + 2
	n := threads()
	for tries, fails := n-floor+3, 0; tries > 0 && fails < 3 && n > floor; tries-- {
		ended := make(chan bool, 1)
		go endThread(ended)
		// Wait in a system call, not in the scheduler: the new goroutine
		// then runs on another thread than this one, which may be the
		// main thread, and that thread is gone when the call returns.
		ts := syscall.NsecToTimespec(int64(20 * time.Millisecond))
		syscall.Nanosleep(&ts, nil)
		m := threads()
		if !<-ended || m >= n {
			fails++
		} else {
			fails = 0
		}
		n = m
	}
}

// endThread ends the thread it runs on, unless that is the process's
// main thread (Go would keep it, blocked for good): it tells ended which.
func endThread(ended chan<- bool) {
	goruntime.LockOSThread()
	if syscall.Gettid() == syscall.Getpid() {
		goruntime.UnlockOSThread()
		ended <- false
		return
	}
	ended <- true
}

// threads returns how many threads the process has; 0 when unknown.
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, _ := bytes.Cut(b, []byte("\nThreads:"))
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, _ := strconv.Atoi(string(bytes.TrimSpace(line)))
	return n
}
