// Package shm is gohap's shared-memory variable store: runtime switches such
// as maintenance_mode that operators set from the shell (`gohap -S
// name=value`, a separate short-lived process) and that every request reads.
//
// The store is a file, normally on tmpfs (DefaultPath), mapped shared into
// every process that opens it. Reading a value is a lock-free copy out of
// the mapping guarded by a per-slot sequence number: no syscall, no lock and
// no allocation. Writers are serialised across processes by flock on the
// file, which the kernel releases if a writer dies, and every value is
// double-buffered so a writer killed mid-write never exposes a torn value.
//
// Names resolve to slot indexes once, when a config is compiled; slots are
// never moved or freed, so an index stays valid for the life of the file,
// across proxy restarts and reloads.
package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

var (
	errNotStore = errors.New("not a gohap variable store")
	errFull     = errors.New("variable store full")
	errClosed   = errors.New("variable store closed")
)

// Store is an open variable store. A Store is safe for concurrent use by
// multiple goroutines, and several Stores (in one process or many) may have
// the same file open. Close must not run concurrently with other methods;
// after Close only Path may be called.
type Store struct {
	path  string
	f     *os.File
	data  []byte       // the whole mapping, fileSize bytes
	slots *[Slots]slot // points into data
	mu    sync.Mutex   // serialises this Store's writers; flock on f serialises processes
	done  bool         // Close was called; guarded by mu
	// midWrite, if non-nil, runs inside Set with the writer lock held,
	// half-way through writing the new value; tests use it to kill a writer.
	midWrite func()
}

// Var is one variable and its value at the time it was read, as listed by
// Vars for `gohap -S`.
type Var struct {
	Name  string
	Value string
}

// openError describes a failed Open. Its message names the store, and it
// unwraps to the cause, so errors.Is(err, fs.ErrPermission) works for every
// permission problem, including the checks Open makes itself.
type openError struct {
	path string
	msg  string
	err  error
}

func (e *openError) Error() string { return "open variable store " + e.path + ": " + e.msg }
func (e *openError) Unwrap() error { return e.err }

// Open opens the variable store at path, creating it (mode 0600) if it does
// not exist, and maps it shared and read-write. It refuses a file that gives
// group or other users any access or that another user owns (unless the
// caller is root): /dev/shm is world-writable, so someone else could have
// created the file first. It also refuses a file that is not a store with
// this build's layout.
func Open(path string) (*Store, error) {
	f, created, err := openFile(path)
	if err != nil {
		return nil, openFailed(path, err)
	}
	s, err := open(path, f, created)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// open checks, initialises or validates, and maps the file f.
func open(path string, f *os.File, created bool) (*Store, error) {
	fail := func(msg string, err error) (*Store, error) {
		return nil, &openError{path: path, msg: msg, err: err}
	}
	if created {
		// Independent of the umask, and before anything is written.
		if err := f.Chmod(0o600); err != nil {
			return fail("set mode 0600: "+err.Error(), err)
		}
	} else {
		fi, err := f.Stat()
		if err != nil {
			return fail(err.Error(), err)
		}
		if err := checkFile(path, fi, os.Geteuid()); err != nil {
			return nil, err
		}
	}

	// Hold the writer lock while the file is initialised or checked, so a
	// concurrent Open never sees a half-written header.
	if err := lockFile(f); err != nil {
		return fail("lock: "+err.Error(), err)
	}
	defer unlockFile(f)

	fresh, err := checkLayout(path, f)
	if err != nil {
		return nil, err
	}
	if fresh {
		// Zero everything (the file may hold a header-less remnant of an
		// initialiser that died) and size it.
		if err := f.Truncate(0); err != nil {
			return fail("truncate: "+err.Error(), err)
		}
		if err := f.Truncate(fileSize); err != nil {
			return fail(fmt.Sprintf("grow to %d bytes: %v", fileSize, err), err)
		}
	}
	data, err := mapFile(f, fileSize)
	if err != nil {
		return fail("mmap: "+err.Error(), err)
	}
	if fresh {
		(*header)(unsafe.Pointer(&data[0])).init()
	}
	return &Store{
		path:  path,
		f:     f,
		data:  data,
		slots: (*[Slots]slot)(unsafe.Pointer(&data[headerSize])),
	}, nil
}

// checkFile refuses a file that is not a regular file, that gives group or
// other users access, or that is owned by someone other than euid (root may
// open any owner's store).
func checkFile(path string, fi fs.FileInfo, euid int) error {
	if !fi.Mode().IsRegular() {
		return &openError{path: path, msg: fmt.Sprintf("not a regular file (%s)", fi.Mode().Type()), err: errNotStore}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &openError{path: path, err: fs.ErrPermission,
			msg: fmt.Sprintf("unsafe mode %04o gives group or other users access; want 0600 (chmod 600 or remove it)", perm)}
	}
	uid, ok := ownerUID(fi)
	if ok && euid != 0 && int(uid) != euid {
		return &openError{path: path, err: fs.ErrPermission,
			msg: fmt.Sprintf("owned by uid %d, not by this process's uid %d; refusing a store another user controls", uid, euid)}
	}
	return nil
}

// checkLayout validates the header and size of f, or reports that f is
// fresh: empty, or sized but with a zero header (its initialiser died before
// writing the magic). The caller holds the writer lock.
func checkLayout(path string, f *os.File) (fresh bool, err error) {
	fail := func(msg string) (bool, error) {
		return false, &openError{path: path, msg: msg, err: errNotStore}
	}
	fi, err := f.Stat()
	if err != nil {
		return false, &openError{path: path, msg: err.Error(), err: err}
	}
	size := fi.Size()
	if size == 0 {
		return true, nil
	}
	if size < headerSize {
		return fail(fmt.Sprintf("not a gohap variable store (only %d bytes, want %d)", size, fileSize))
	}
	buf := make([]byte, headerSize)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return false, &openError{path: path, msg: "read header: " + err.Error(), err: err}
	}
	if size == fileSize && allZero(buf) {
		return true, nil
	}
	got, want := parseHeader(buf), wantHeader()
	if got.magic != want.magic {
		return fail(fmt.Sprintf("not a gohap variable store (bad magic %q, want %q)", got.magic[:], magic))
	}
	if got != want {
		what := "layout hash mismatch"
		if got.hash == want.hash {
			what = "layout mismatch"
		}
		return fail(fmt.Sprintf("%s: file has %s; this build uses %s (made by an incompatible gohap build; remove it to start over)",
			what, got.describe(), want.describe()))
	}
	if size != fileSize {
		return fail(fmt.Sprintf("not a gohap variable store (size %d bytes, want %d)", size, fileSize))
	}
	return false, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// openFailed explains an error from opening the file, naming the owner and
// mode for permission problems.
func openFailed(path string, err error) error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		fi, serr := os.Lstat(path)
		switch {
		case serr == nil:
			uid, _ := ownerUID(fi)
			msg = fmt.Sprintf("permission denied (owned by uid %d, mode %04o)", uid, fi.Mode().Perm())
		case errors.Is(serr, fs.ErrNotExist):
			msg = fmt.Sprintf("permission denied (cannot create files in %s)", filepath.Dir(path))
		default:
			msg = fmt.Sprintf("permission denied (cannot reach %s)", filepath.Dir(path))
		}
	case isLoop(err):
		msg = "is a symbolic link; refusing to follow it"
	}
	return &openError{path: path, msg: msg, err: err}
}

// Close unmaps the store and closes the file. It does not change the
// store's contents: variables and values persist until the file is removed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return fmt.Errorf("close %s: %w", s.path, errClosed)
	}
	s.done = true
	s.slots = nil
	err := unmap(s.data)
	s.data = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close variable store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file the store was opened from, for messages.
func (s *Store) Path() string { return s.path }

// lock takes the writer lock: the mutex for this Store's goroutines, then
// flock for other Stores and processes.
func (s *Store) lock() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return fmt.Errorf("variable store %s: %w", s.path, errClosed)
	}
	if err := lockFile(s.f); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("lock variable store %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) unlock() error {
	err := unlockFile(s.f)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("unlock variable store %s: %w", s.path, err)
	}
	return nil
}

// Resolve returns the slot index for name, allocating a slot if the name is
// new. The index stays valid for the life of the file, so the config
// compiler resolves each variable once and requests Load by index.
func (s *Store) Resolve(name string) (int, error) {
	if err := ValidName(name); err != nil {
		return 0, fmt.Errorf("resolve variable in %s: %w", s.path, err)
	}
	if i, ok := s.Lookup(name); ok {
		return i, nil
	}
	if err := s.lock(); err != nil {
		return 0, err
	}
	i, err := s.resolveLocked(name)
	if uerr := s.unlock(); err == nil {
		err = uerr
	}
	return i, err
}

// resolveLocked finds or allocates name's slot. The caller holds the writer
// lock, so no other slot can be allocated meanwhile.
func (s *Store) resolveLocked(name string) (int, error) {
	free := -1
	for i := range s.slots {
		sl := &s.slots[i]
		if !sl.inUse() {
			if free < 0 {
				free = i
			}
			continue
		}
		if sl.nameIs(name) {
			return i, nil
		}
	}
	if free < 0 {
		return 0, fmt.Errorf("allocate variable %q in %s: %w (all %d slots used)", name, s.path, errFull, Slots)
	}
	s.slots[free].claim(name)
	return free, nil
}

// Lookup returns the slot index of name if it exists. Unlike Resolve it
// never allocates, so a typo cannot use up a slot. It scans every slot:
// call it when compiling a config, not per request.
func (s *Store) Lookup(name string) (int, bool) {
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.inUse() && sl.nameIs(name) {
			return i, true
		}
	}
	return 0, false
}

// Set stores value in the variable name, allocating its slot if needed.
// Concurrent readers see either the old or the new value, never a mix, even
// if this process dies during Set.
func (s *Store) Set(name, value string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("set variable in %s: %w", s.path, err)
	}
	if err := ValidValue(value); err != nil {
		return fmt.Errorf("set variable %s in %s: %w", name, s.path, err)
	}
	if err := s.lock(); err != nil {
		return err
	}
	i, err := s.resolveLocked(name)
	if err == nil {
		s.slots[i].store([]byte(value), s.midWrite)
	}
	if uerr := s.unlock(); err == nil {
		err = uerr
	}
	return err
}

// SetSlot stores v in the variable of slot: set-var(proc.NAME) at run
// time. A value equal to the current one is not written again, so a rule
// that sets the same value on every request takes no lock. A value that
// ValidValue refuses, a slot out of range and a closed store drop the
// write, as haproxy drops a value over its size limits.
func (s *Store) SetSlot(slot int, v []byte) {
	if uint(slot) >= Slots || validValue(v) != nil || s.Equal(slot, v) {
		return
	}
	if s.lock() != nil {
		return
	}
	s.slots[slot].store(v, s.midWrite)
	s.unlock()
}

// Load appends the current value of the variable in slot to dst[:0] and
// returns it. This is the per-request read: it takes no lock, makes no
// syscall, and does not allocate when cap(dst) >= MaxValue. The result is
// always a whole value that some Set stored. A slot index out of range or
// never set yields an empty value, as does the (practically unreachable)
// case of a reader starved by thousands of back-to-back writes.
func (s *Store) Load(slot int, dst []byte) []byte {
	if uint(slot) >= Slots {
		return dst[:0]
	}
	return s.slots[slot].load(dst)
}

// Equal reports whether variable slot currently holds exactly v. It is
// Load and a comparison without the copy, for the per-request ACL check;
// lock-free, no allocation. An unset variable equals only the empty value.
func (s *Store) Equal(slot int, v []byte) bool {
	if uint(slot) >= Slots {
		return false
	}
	return s.slots[slot].equal(v)
}

// Get returns the value of name and reports whether name exists. It is for
// the CLI and tests: it scans the slots and allocates the result.
func (s *Store) Get(name string) (string, bool) {
	i, ok := s.Lookup(name)
	if !ok {
		return "", false
	}
	return string(s.Load(i, make([]byte, 0, MaxValue))), true
}

// Vars returns every allocated variable with its current value, in slot
// order (which is allocation order), for `gohap -S` to list.
func (s *Store) Vars() []Var {
	var vars []Var
	buf := make([]byte, 0, MaxValue)
	for i := range s.slots {
		sl := &s.slots[i]
		if !sl.inUse() {
			continue
		}
		vars = append(vars, Var{Name: sl.nameString(), Value: string(sl.load(buf))})
	}
	return vars
}

// ValidName reports why name cannot be a variable name, or nil if it can:
// it must be 1 to MaxName bytes of A-Z a-z 0-9 _ . -, so it is safe to print
// and to write in a config and on a command line.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty variable name")
	}
	if len(name) > MaxName {
		return fmt.Errorf("variable name %q is too long (%d bytes, max %d)", clip(name), len(name), MaxName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' {
			continue
		}
		return fmt.Errorf("variable name %q has bad character %q at byte %d (allowed: A-Z a-z 0-9 _ . -)", clip(name), name[i:i+1], i)
	}
	return nil
}

// ValidValue reports why value cannot be stored, or nil if it can: it must
// be at most MaxValue bytes (the size of a slot's buffer) and contain no NUL.
func ValidValue(value string) error { return validValue(value) }

func validValue[T string | []byte](value T) error {
	if len(value) > MaxValue {
		return fmt.Errorf("value is too long (%d bytes, max %d)", len(value), MaxValue)
	}
	for i := 0; i < len(value); i++ {
		if value[i] == 0 {
			return fmt.Errorf("value contains a NUL byte at offset %d", i)
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
