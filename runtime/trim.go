package runtime

import (
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
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
	// Engine.sessions and bufs keep what they hold over one collection;
	// FreeOSMemory runs the second.
	goruntime.GC()
	debug.FreeOSMemory()
}
