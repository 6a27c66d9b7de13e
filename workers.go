package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"os"
	"os/signal"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"gohap/parser"
	"gohap/runtime"
	"gohap/runtime/rules"
	"gohap/shm"
)

// Worker processes. Go's scheduler, sharing one process's sessions over
// several cores, wakes goroutines across cores on almost every request,
// and that costs more than the requests themselves on a busy machine;
// one Go processor per process does not. So gohap serves a configuration
// with one process per core, as haproxy serves it with one thread per
// core: the process the operator starts (the leader) binds the sockets,
// runs the checks and the runtime API, and starts the followers, which
// accept on the same sockets. The state that steers requests lives in
// shared memory (runtime.Workers). A configuration whose features keep
// state that is not shared yet runs in one process.

// The descriptors a follower inherits, in this order.
const (
	fdProcState = 3 + iota
	fdGenState
	fdConfig   // the configuration files the leader read (configFiles)
	fdLifeline // read end of a pipe the leader holds open
	fdListeners
)

// workerCount is how many processes serve g: global nbthread, else one
// per CPU; one when g needs state that only one process can hold
// (why says what).
func workerCount(g *rules.Graph) (n int, why string) {
	n = g.Global.NbThread
	if n <= 0 {
		n = goruntime.NumCPU()
	}
	// A reload's followers start next to the ones they replace: room
	// for both in the shared state's slots.
	n = min(n, runtime.MaxWorkers/2)
	if n <= 1 {
		return 1, ""
	}
	if err := runtime.Shareable(g); err != nil {
		return 1, err.Error()
	}
	return n, ""
}

// leader starts and watches the followers of a leader engine.
type leader struct {
	exe  string
	args []string // the leader's own, for the followers
	n    int
	log  *log.Logger

	mu      sync.Mutex
	proc    *shm.Region // state of the whole proxy
	gen     *shm.Region // state of the running configuration
	pending *shm.Region // a reload's, until it runs
	lns     []*os.File  // the running configuration's sockets
	conf    *os.File    // the running configuration's files (configFiles)
	current []*follower // serving the running configuration
	running map[*follower]bool
	// stopping: gohap stops, and a follower that dies is not replaced.
	stopping bool
	// failures counts the followers in a row that died soon after they
	// started, for the delay before the next.
	failures int
	eng      *runtime.Engine // the leader's, once started (startAll)
	exited   chan exitNote   // followers that ended
}

// follower is one follower process.
type follower struct {
	slot     int // its place in the shared state (runtime.Workers.Index)
	proc     *os.Process
	lifeline *os.File // write end: the follower stops when it closes
	started  time.Time
	retired  bool // asked to stop (reload, stop)
}

type exitNote struct {
	f   *follower
	err error
}

func newLeader(n int, logger *log.Logger) (*leader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find gohap's executable for its worker processes: %w", err)
	}
	return &leader{exe: exe, args: os.Args[1:], n: n, log: logger, exited: make(chan exitNote, runtime.MaxWorkers), running: map[*follower]bool{}}, nil
}

// workers is the engine configuration of the leader.
func (l *leader) workers() *runtime.Workers {
	return &runtime.Workers{Count: l.n, Index: 0, Region: l.region}
}

// region creates shared memory: first the proxy's, then a
// configuration's, which becomes the followers' at the next spawn.
func (l *leader) region(size int) (*shm.Region, error) {
	r, err := shm.NewRegion(size)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proc == nil {
		l.proc = r
		return r, nil
	}
	if l.pending != nil {
		l.pending.File().Close() // a reload that failed
	}
	l.pending = r
	return r, nil
}

// startAll starts the followers of the configuration eng now runs, read
// from conf, and asks the previous ones to stop once their connections
// end.
func (l *leader) startAll(eng *runtime.Engine, conf *configFiles) error {
	cf, err := conf.file()
	if err != nil {
		return err
	}
	lns, err := eng.ListenerFiles()
	if err != nil {
		cf.Close()
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conf != nil {
		l.conf.Close()
	}
	l.conf = cf
	if l.pending != nil {
		if l.gen != nil {
			// Its mapping stays: requests of the old configuration may
			// still count in it.
			l.gen.File().Close()
		}
		l.gen, l.pending = l.pending, nil
	}
	closeAll(l.lns)
	l.lns = lns
	l.eng = eng
	old := l.current
	l.current = nil
	var errs []error
	var slots []int
	for range l.n - 1 {
		f, err := l.spawn()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.current = append(l.current, f)
		slots = append(slots, f.slot)
	}
	// The previous followers accept until the new ones do; once they
	// stopped, every new connection gets the new configuration.
	l.mu.Unlock()
	if !eng.AwaitWorkers(slots, true) && len(old) > 0 {
		l.log.Printf("reload: the new worker processes do not all accept after %v; the previous ones stop anyway, and a new one that dies is started again", runtime.FollowerWait)
	}
	l.mu.Lock()
	var retired []int
	for _, f := range old {
		f.retire(syscall.SIGUSR1)
		retired = append(retired, f.slot)
	}
	l.mu.Unlock()
	eng.AwaitWorkers(retired, false)
	l.mu.Lock()
	return errors.Join(errs...)
}

// freeSlot returns a slot no running follower holds. Called with l.mu
// held.
func (l *leader) freeSlot() (int, error) {
	used := make(map[int]bool, len(l.running))
	for f := range l.running {
		used[f.slot] = true
	}
	for i := 1; i < runtime.MaxWorkers; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, errors.New("too many worker processes still finishing earlier configurations")
}

// spawn starts a follower of the running configuration. Called with
// l.mu held.
func (l *leader) spawn() (*follower, error) {
	i, err := l.freeSlot()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Raw descriptors, not exec.Cmd's ExtraFiles: os.File.Fd would put
	// the listening sockets, whose flags the leader shares, in blocking
	// mode, and the leader's own accepts would then block its threads.
	fds := []uintptr{0, 1, 2}
	for _, f := range append([]*os.File{l.proc.File(), l.gen.File(), l.conf, r}, l.lns...) {
		fd, err := rawFD(f)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("cannot start worker %d: %w", i, err)
		}
		fds = append(fds, fd)
	}
	argv := append([]string{l.exe, "--worker", fmt.Sprintf("%d/%d/%d", i, l.n, len(l.lns))}, l.args...)
	pid, err := syscall.ForkExec(l.exe, argv, &syscall.ProcAttr{Env: os.Environ(), Files: fds})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot start worker %d: %w", i, err)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		w.Close()
		return nil, err
	}
	f := &follower{slot: i, proc: p, lifeline: w, started: time.Now()}
	l.running[f] = true
	go func() {
		st, err := p.Wait()
		if err == nil && !st.Success() {
			err = errors.New(st.String())
		}
		l.exited <- exitNote{f, err}
	}()
	return f, nil
}

// rawFD returns f's descriptor without changing its mode.
func rawFD(f *os.File) (uintptr, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return 0, err
	}
	return fd, nil
}

// retire asks f to stop: SIGUSR1 once its connections end, SIGTERM now.
func (f *follower) retire(sig syscall.Signal) {
	f.retired = true
	f.proc.Signal(sig)
}

// exit handles a follower's end: one that was not asked to stop is
// started again, after a delay that grows while followers keep dying.
func (l *leader) exit(n exitNote) {
	l.gone(n.f)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n.f.retired || l.stopping {
		return
	}
	// A follower that keeps dying soon after it starts is started again
	// less and less often: 1 s, 2 s, 4 s... up to 32 s.
	if time.Since(n.f.started) < restartReset {
		l.failures = min(l.failures+1, 6)
	} else {
		l.failures = 0
	}
	delay := time.Duration(1<<max(l.failures-1, 0)) * time.Second
	l.log.Printf("worker %d (pid %d) exited unexpectedly: %v; starting another in %v", n.f.slot, n.f.proc.Pid, describeExit(n.err), delay)
	// Off the signal loop, which must not sleep.
	time.AfterFunc(delay, func() { l.replace(n.f) })
}

// restartReset is how long a follower must live for its restarts to
// start again from the shortest delay.
const restartReset = 10 * time.Second

// replace starts a follower in the place of dead, unless gohap is
// stopping or a reload replaced the followers meanwhile.
func (l *leader) replace(dead *follower) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.current, dead)
	if l.stopping || i < 0 {
		return
	}
	f, err := l.spawn()
	if err != nil {
		l.log.Printf("%v", err)
		l.current = slices.Delete(l.current, i, i+1)
		return
	}
	l.current[i] = f
}

// gone forgets f, which exited, and frees its slot.
func (l *leader) gone(f *follower) {
	f.lifeline.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.running, f)
	if l.eng != nil {
		l.eng.WorkerGone(f.slot)
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// stopAll sends SIGTERM to every follower, those of earlier
// configurations too, and waits until they are gone, or until wait ends.
func (l *leader) stopAll(wait time.Duration) {
	if l == nil {
		return
	}
	l.retireAll(syscall.SIGTERM)
	l.waitAll(time.After(wait), nil)
}

// waitAll waits until every follower is gone, or deadline; a SIGINT or
// SIGTERM on sig sends them SIGTERM and waits stopWait more.
func (l *leader) waitAll(deadline <-chan time.Time, sig <-chan os.Signal) {
	for {
		l.mu.Lock()
		left := len(l.running)
		l.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case n := <-l.exited:
			l.gone(n.f)
		case s := <-sig:
			if s == syscall.SIGINT || s == syscall.SIGTERM {
				l.retireAll(syscall.SIGTERM)
				deadline, sig = time.After(stopWait), nil
			}
		case <-deadline:
			return
		}
	}
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// parseWorker reads the hidden --worker flag: "SLOT/COUNT/LISTENERS",
// the last being how many listening sockets the follower inherits.
func parseWorker(s string) (index, count, lns int, err error) {
	bad := fmt.Errorf("bad --worker %q", s)
	parts := strings.Split(s, "/")
	var n [3]int
	if len(parts) != len(n) {
		return 0, 0, 0, bad
	}
	for i, p := range parts {
		if n[i], err = strconv.Atoi(p); err != nil {
			return 0, 0, 0, bad
		}
	}
	index, count, lns = n[0], n[1], n[2]
	if index < 1 || index >= runtime.MaxWorkers || count < 2 || count > runtime.MaxWorkers || lns < 0 {
		return 0, 0, 0, bad
	}
	return index, count, lns, nil
}

// serveFollower is a follower process: it compiles the configuration
// files the leader read, finds the leader's shared state and sockets,
// and serves until the leader asks it to stop or goes away.
func serveFollower(ctx *cli.Context, stderr io.Writer) error {
	index, count, nlns, err := parseWorker(ctx.String("worker"))
	if err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	prefix := fmt.Sprintf("gohap worker %d: ", index)
	goruntime.GOMAXPROCS(1)
	store, err := shm.Open(ctx.String("vars"))
	if err != nil {
		return &exitError{1, prefix + err.Error()}
	}
	defer store.Close()
	logger := log.New(stderr, "", log.LstdFlags)
	conf, err := readConfigFiles(os.NewFile(fdConfig, "gohap-config"))
	if err != nil {
		return &exitError{1, prefix + err.Error()}
	}
	res, err := parser.LoadFiles(conf.Files, parser.Config{Options: parseOptions(), Var: store.Resolve, ReadFile: conf.replay})
	if err != nil {
		return &exitError{1, prefix + "the leader's configuration does not load here: " + err.Error()}
	}
	var regions []*shm.Region
	for _, fd := range []int{fdProcState, fdGenState} {
		r, err := shm.MapRegion(os.NewFile(uintptr(fd), "gohap-state"))
		if err != nil {
			return &exitError{1, prefix + err.Error()}
		}
		regions = append(regions, r)
	}
	var lns []*os.File
	for i := range nlns {
		lns = append(lns, os.NewFile(uintptr(fdListeners+i), "listener"))
	}
	w := &runtime.Workers{Count: count, Index: index, Listeners: lns, LeaderPID: os.Getppid(), Region: func(int) (*shm.Region, error) {
		if len(regions) == 0 {
			return nil, errors.New("a follower does not reload")
		}
		r := regions[0]
		regions = regions[1:]
		return r, nil
	}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGUSR2, syscall.SIGHUP)
	defer signal.Stop(sig)
	eng, err := runtime.New(runtime.Config{Graph: res.Graph, Vars: store, Log: logger, Workers: w})
	if err != nil {
		return &exitError{1, prefix + err.Error()}
	}
	if err := eng.Start(); err != nil {
		return &exitError{1, prefix + err.Error()}
	}
	closeAll(lns) // the engine has its own copies
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.NewFile(fdLifeline, "lifeline"))
		close(gone)
	}()
	select {
	case s := <-sig:
		if s == syscall.SIGUSR1 {
			softStop(eng, sig, logger)
		}
	case <-gone:
		logger.Printf("%sthe leader is gone, stopping", prefix)
	}
	return eng.Close()
}

// exits delivers the ends of followers; nil (never) without a leader.
func (l *leader) exits() <-chan exitNote {
	if l == nil {
		return nil
	}
	return l.exited
}

// retireAll asks every follower to stop with sig, without waiting:
// SIGUSR1 once their connections end, SIGTERM now. The leader's copies
// of the listening sockets close, so that once every process closed its
// own the addresses refuse connections, as haproxy's stopping listeners
// do, instead of queueing them where no process accepts.
func (l *leader) retireAll(sig syscall.Signal) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopping = true
	for f := range l.running {
		f.retire(sig)
	}
	l.current = nil
	closeAll(l.lns)
	l.lns = nil
}

// accepts reports whether a reload may make g the running configuration
// of these workers: one that needs a single process, or another number
// of them, needs a restart.
func (l *leader) accepts(g *rules.Graph) error {
	if l == nil {
		return nil
	}
	if n, why := workerCount(g); n != l.n {
		if why == "" {
			why = fmt.Sprintf("it asks for %d processes", n)
		}
		return fmt.Errorf("gohap runs %d worker processes and the new configuration cannot: %s; restart gohap to apply it", l.n, why)
	}
	return nil
}

// close releases the leader's shared memory and sockets.
func (l *leader) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	closeAll(l.lns)
	if l.conf != nil {
		l.conf.Close()
	}
	for _, r := range []*shm.Region{l.pending, l.gen, l.proc} {
		if r != nil {
			r.File().Close()
		}
	}
}

// configFiles are the files a load of the configuration read: the
// leader hands them to its followers, which compile what the leader
// compiled even when the files changed on disk since (a follower starts
// after the leader read them, and again after a crash).
type configFiles struct {
	Files []string          // the configuration files, directories expanded
	Data  map[string][]byte // every file read, by the name it was read by
	mu    sync.Mutex
}

// loadConfig loads the configuration paths as parser.Load does, and
// records the files it reads.
func loadConfig(paths []string, cfg parser.Config) (*parser.Result, *configFiles, error) {
	files, err := parser.ExpandPaths(paths)
	if err != nil {
		return nil, nil, err
	}
	c := &configFiles{Files: files, Data: map[string][]byte{}}
	cfg.ReadFile = c.read
	res, err := parser.LoadFiles(files, cfg)
	return res, c, err
}

func (c *configFiles) read(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err == nil {
		c.mu.Lock()
		c.Data[name] = b
		c.mu.Unlock()
	}
	return b, err
}

// replay is read in a follower: a file the leader could not read is
// missing.
func (c *configFiles) replay(name string) ([]byte, error) {
	b, ok := c.Data[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return b, nil
}

// file writes c to an anonymous file for the followers.
func (c *configFiles) file() (*os.File, error) {
	c.mu.Lock()
	b := c.encode()
	c.mu.Unlock()
	fd, err := unix.MemfdCreate("gohap-config", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("cannot pass the configuration to the worker processes: %w", err)
	}
	f := os.NewFile(uintptr(fd), "gohap-config")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot pass the configuration to the worker processes: %w", err)
	}
	return f, nil
}

// encode lays c out as counted, length-prefixed strings: the number of
// Files and their names, then the number of Data entries and each one's
// name and bytes, in name order.
func (c *configFiles) encode() []byte {
	var b []byte
	field := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Files)))
	for _, f := range c.Files {
		field([]byte(f))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Data)))
	for _, name := range slices.Sorted(maps.Keys(c.Data)) {
		field([]byte(name))
		field(c.Data[name])
	}
	return b
}

// decodeConfigFiles is encode's inverse.
func decodeConfigFiles(b []byte) (*configFiles, error) {
	bad := errors.New("malformed configuration record")
	count := func() (int, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)) {
			return 0, false
		}
		b = b[k:]
		return int(n), true
	}
	field := func() ([]byte, bool) {
		n, ok := count()
		if !ok || n > len(b) {
			return nil, false
		}
		f := b[:n:n]
		b = b[n:]
		return f, true
	}
	c := &configFiles{Data: map[string][]byte{}}
	n, ok := count()
	if !ok {
		return nil, bad
	}
	for range n {
		f, ok := field()
		if !ok {
			return nil, bad
		}
		c.Files = append(c.Files, string(f))
	}
	if n, ok = count(); !ok {
		return nil, bad
	}
	for range n {
		name, ok1 := field()
		data, ok2 := field()
		if !ok1 || !ok2 {
			return nil, bad
		}
		c.Data[string(name)] = data
	}
	if len(b) != 0 {
		return nil, bad
	}
	return c, nil
}

// readConfigFiles reads the leader's configFiles from f. It reads at
// offsets: the followers share f's position.
func readConfigFiles(f *os.File) (*configFiles, error) {
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read the leader's configuration: %w", err)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("cannot read the leader's configuration: %w", err)
	}
	c, err := decodeConfigFiles(b)
	if err != nil {
		return nil, fmt.Errorf("cannot read the leader's configuration: %w", err)
	}
	return c, nil
}
