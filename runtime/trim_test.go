package runtime

import (
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestTrimClock: a trim comes after a quiet tick that follows enough
// allocation, once; a busy tick or too little allocation gives none.
func TestTrimClock(t *testing.T) {
	steps := []struct {
		allocs uint64
		idle   bool
		want   bool
	}{
		{100 << 20, true, false},                 // busy: the start
		{100<<20 + 1000, true, true},             // quiet, 100 MB since the last trim
		{100<<20 + 2000, true, false},            // quiet, but nothing since
		{102 << 20, true, false},                 // busy
		{102<<20 + 10, false, false},             // no allocation, but serving
		{102<<20 + 20, true, true},               // quiet, 2 MB since
		{102<<20 + trimAfter/2, true, false},     // busy, half of trimAfter
		{102<<20 + trimAfter/2 + 1, true, false}, // quiet, not enough since
		{103<<20 + 100, true, false},             // busy
		{103<<20 + 100 + trimQuiet, true, false}, // just not quiet
		{103<<20 + 200 + trimQuiet, true, true},  // quiet
	}
	var c trimClock
	for i, s := range steps {
		if got := c.due(s.allocs, s.idle); got != s.want {
			t.Errorf("step %d (%d bytes, idle %v): due %v, want %v", i, s.allocs, s.idle, got, s.want)
		}
	}
}

// TestTrimLoop: the engine trims after the allocations stop, unless it
// serves a connection or the configuration says "no-memory-trimming".
func TestTrimLoop(t *testing.T) {
	for _, tc := range []struct {
		global  string
		serving bool // a connection sends half a request meanwhile
		want    int
	}{
		{"", false, 1},
		{"", true, 0},
		{"global\n    no-memory-trimming\n", false, 0},
	} {
		e := startConfig(t, tc.global+testDefaults+`
frontend fe
    bind 127.0.0.1:0
    http-request return status 200
`)
		if tc.serving {
			c := dial(t, e.Addrs("fe")[0].String())
			c.send("GET / HTTP/1.1\r\n")
			for deadline := time.Now().Add(5 * time.Second); e.serving() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the engine does not serve the connection")
				}
			}
		}
		tick := make(chan time.Time)
		seq := []uint64{10 << 20, 20 << 20, 20 << 20, 20 << 20} // at start, then at each tick
		var next atomic.Int32
		allocs := func() uint64 {
			return seq[min(int(next.Add(1))-1, len(seq)-1)]
		}
		trims := make(chan struct{}, 10)
		e.wg.Add(1)
		go e.trimLoop(tick, allocs, func() { trims <- struct{}{} })
		for range len(seq) {
			// Taken once the loop is done with the step before.
			tick <- time.Now()
		}
		if got := len(trims); got != tc.want {
			t.Errorf("%q, serving %v: %d trims, want %d", tc.global, tc.serving, got, tc.want)
		}
		e.Close()
	}
}

// TestEndIdleThreads: threads left idle by goroutines that blocked in
// system calls end; the count threads gives is the system's. It runs in
// a child process of its own, as gohap's workers run: one P, and the main
// goroutine locked to the main thread (see init), so that the count is
// this test's alone.
func TestEndIdleThreads(t *testing.T) {
	if os.Getenv(threadsChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEndIdleThreads$", "-test.count=1")
		cmd.Env = append(os.Environ(), threadsChild+"=1", "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "SKIP") {
			t.Skipf("child skipped:\n%s", out)
		}
		return
	}
	tasks := func() int {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Skip(err)
		}
		return len(ents)
	}
	if n, want := threads(), tasks(); n != want {
		t.Fatalf("threads() = %d, /proc/self/task has %d", n, want)
	}
	start := threads()
	// Ten goroutines blocked in read(2) at once hold ten threads.
	const blocked = 10
	var fds [blocked][2]int
	var wg sync.WaitGroup
	for i := range fds {
		if err := syscall.Pipe(fds[i][:]); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			syscall.Read(fds[i][0], b[:])
		}()
	}
	// An idle thread may take one of them: wait for nine new ones.
	for deadline := time.Now().Add(5 * time.Second); threads() < start+blocked-1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for i := range fds {
		syscall.Write(fds[i][1], []byte{1})
	}
	wg.Wait()
	for i := range fds {
		syscall.Close(fds[i][0])
		syscall.Close(fds[i][1])
	}
	before := threads()
	if before-start < blocked/2 {
		t.Skipf("%d goroutines blocked in read left %d threads, from %d", blocked, before, start)
	}
	endIdleThreads()
	// Most of them: another thread may start meanwhile (-race has some).
	if after := threads(); after-start > (before-start)/3 {
		t.Errorf("%d threads at start, %d with the idle ones, %d after ending them", start, before, after)
	}
}

// threadsChild names the variable that makes TestEndIdleThreads run its
// checks, in the child process.
const threadsChild = "GOHAP_TEST_END_THREADS"

func init() {
	if os.Getenv(threadsChild) != "" {
		goruntime.LockOSThread() // the main goroutine keeps the main thread
	}
}
