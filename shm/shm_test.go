package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func tempPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "vars")
}

func mustOpen(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustOpen(t, tempPath(t))
	if s.Path() == "" {
		t.Fatal("empty Path")
	}
	if got := s.Vars(); len(got) != 0 {
		t.Fatalf("new store has vars %v", got)
	}
	long := strings.Repeat("x", MaxValue)
	sets := []struct{ name, value string }{
		{"maintenance_mode", "true"},
		{"a.b-c_D9", ""},
		{"max", long},
		{"maintenance_mode", "false"}, // overwrite: same slot
		{"odd", "1234567"},            // not a multiple of 8
	}
	for _, c := range sets {
		if err := s.Set(c.name, c.value); err != nil {
			t.Fatalf("Set(%q, %q): %v", c.name, c.value, err)
		}
		v, ok := s.Get(c.name)
		if !ok || v != c.value {
			t.Fatalf("Get(%q) = %q, %t; want %q", c.name, v, ok, c.value)
		}
	}
	want := []Var{{"maintenance_mode", "false"}, {"a.b-c_D9", ""}, {"max", long}, {"odd", "1234567"}}
	got := s.Vars()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Vars = %q\nwant %q", got, want)
	}
	for i, v := range want {
		slot, ok := s.Lookup(v.Name)
		if !ok || slot != i {
			t.Fatalf("Lookup(%q) = %d, %t; want %d", v.Name, slot, ok, i)
		}
		r, err := s.Resolve(v.Name)
		if err != nil || r != i {
			t.Fatalf("Resolve(%q) = %d, %v; want %d", v.Name, r, err, i)
		}
		buf := make([]byte, 3, MaxValue) // Load must reset dst to dst[:0]
		if got := string(s.Load(slot, buf)); got != v.Value {
			t.Fatalf("Load(%d) = %q, want %q", slot, got, v.Value)
		}
	}
	// Out of range and never-set slots read as empty.
	for _, slot := range []int{-1, Slots, Slots + 100, 10} {
		if got := s.Load(slot, []byte("junk")); len(got) != 0 {
			t.Fatalf("Load(%d) = %q, want empty", slot, got)
		}
	}
	// Resolve allocates without setting a value.
	r, err := s.Resolve("fresh")
	if err != nil || r != len(want) {
		t.Fatalf("Resolve(fresh) = %d, %v; want %d", r, err, len(want))
	}
	if v, ok := s.Get("fresh"); !ok || v != "" {
		t.Fatalf("Get(fresh) = %q, %t; want empty, true", v, ok)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	s := mustOpen(t, tempPath(t))
	if i, ok := s.Lookup("nope"); ok {
		t.Fatalf("Lookup(nope) = %d, true on empty store", i)
	}
	if _, ok := s.Get("nope"); ok {
		t.Fatal("Get(nope) found a variable")
	}
	if got := s.Vars(); len(got) != 0 {
		t.Fatalf("Lookup allocated: Vars = %v", got)
	}
	if i, err := s.Resolve("first"); err != nil || i != 0 {
		t.Fatalf("Resolve(first) = %d, %v; want slot 0", i, err)
	}
}

func TestReopenKeepsSlotsAndValues(t *testing.T) {
	path := tempPath(t)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"one", "two", "three"}
	slots := map[string]int{}
	for i, n := range names {
		if err := s.Set(n, strings.Repeat(n, i+1)); err != nil {
			t.Fatal(err)
		}
		slots[n], _ = s.Lookup(n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("second Close = %v, want a closed error", err)
	}
	if err := s.Set("one", "x"); !errors.Is(err, errClosed) {
		t.Fatalf("Set after Close = %v, want errClosed", err)
	}

	s2 := mustOpen(t, path)
	for i, n := range names {
		r, err := s2.Resolve(n)
		if err != nil || r != slots[n] {
			t.Fatalf("after reopen Resolve(%q) = %d, %v; want %d", n, r, err, slots[n])
		}
		if got := string(s2.Load(r, nil)); got != strings.Repeat(n, i+1) {
			t.Fatalf("after reopen Load(%q) = %q", n, got)
		}
	}
	// A second handle on the same file sees the first handle's writes.
	s3 := mustOpen(t, path)
	if err := s2.Set("two", "changed"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s3.Get("two"); v != "changed" {
		t.Fatalf("other handle Get(two) = %q, want changed", v)
	}
}

func TestValidation(t *testing.T) {
	s := mustOpen(t, tempPath(t))
	if err := s.Set("keep", "old"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, value string
		want        string
	}{
		{"", "v", "empty variable name"},
		{strings.Repeat("n", MaxName+1), "v", "too long (64 bytes, max 63)"},
		{"has space", "v", `bad character " " at byte 3`},
		{"semi;colon", "v", `bad character ";"`},
		{"uni\u00e9", "v", `bad character "\xc3"`},
		{"keep", strings.Repeat("v", MaxValue+1), "value is too long (241 bytes, max 240)"},
		{"newvar", strings.Repeat("v", MaxValue+1), "value is too long"},
		{"keep", "nul\x00byte", "NUL byte at offset 3"},
	}
	for _, tt := range tests {
		err := s.Set(tt.name, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), s.Path()) {
			t.Errorf("Set(%.20q, %.20q) = %v; want error containing %q and the path", tt.name, tt.value, err, tt.want)
		}
	}
	for _, name := range []string{"", "a b", strings.Repeat("n", MaxName+1)} {
		if _, err := s.Resolve(name); err == nil {
			t.Errorf("Resolve(%q) succeeded", name)
		}
	}
	if got := s.Vars(); len(got) != 1 || got[0] != (Var{"keep", "old"}) {
		t.Fatalf("failed Sets changed the store: Vars = %q", got)
	}
	if err := ValidName(strings.Repeat("n", MaxName)); err != nil {
		t.Errorf("ValidName(MaxName bytes) = %v", err)
	}
	if err := ValidValue(strings.Repeat("v", MaxValue)); err != nil {
		t.Errorf("ValidValue(MaxValue bytes) = %v", err)
	}
}

func TestStoreFull(t *testing.T) {
	s := mustOpen(t, tempPath(t))
	for i := range Slots {
		if r, err := s.Resolve(fmt.Sprintf("v%d", i)); err != nil || r != i {
			t.Fatalf("Resolve(v%d) = %d, %v", i, r, err)
		}
	}
	err := s.Set("onemore", "x")
	if !errors.Is(err, errFull) || !strings.Contains(err.Error(), "store full (all 512 slots used)") {
		t.Fatalf("Set on full store = %v, want store full", err)
	}
	if _, err := s.Resolve("onemore"); !errors.Is(err, errFull) {
		t.Fatalf("Resolve on full store = %v, want store full", err)
	}
	if err := s.Set("v511", "still works"); err != nil {
		t.Fatalf("Set existing on full store: %v", err)
	}
	if v, _ := s.Get("v511"); v != "still works" {
		t.Fatalf("Get(v511) = %q", v)
	}
	if n := len(s.Vars()); n != Slots {
		t.Fatalf("len(Vars) = %d, want %d", n, Slots)
	}
}

func TestCreatedMode0600(t *testing.T) {
	old := syscall.Umask(0o277) // would give 0400 without the fchmod
	defer syscall.Umask(old)
	path := tempPath(t)
	mustOpen(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Fatalf("created store mode %v, want -rw-------", fi.Mode())
	}
	if fi.Size() != fileSize {
		t.Fatalf("created store size %d, want %d", fi.Size(), fileSize)
	}
}

func TestRefuseGroupOtherMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o644, 0o620, 0o601} {
		path := tempPath(t)
		if err := os.WriteFile(path, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		want := fmt.Sprintf("open variable store %s: unsafe mode %04o", path, mode)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("Open(mode %04o) = %v; want %q...", mode, err, want)
		}
		if fi, _ := os.Stat(path); fi.Size() != 0 {
			t.Fatalf("refused file was initialised (size %d)", fi.Size())
		}
	}
	// An existing valid store whose mode was loosened is refused too.
	path := tempPath(t)
	s := mustOpen(t, path)
	s.Close()
	os.Chmod(path, 0o640)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "unsafe mode 0640") {
		t.Fatalf("Open(valid store, 0640) = %v", err)
	}
}

func TestCheckOwner(t *testing.T) {
	path := tempPath(t)
	mustOpen(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	uid, ok := ownerUID(fi)
	if !ok {
		t.Fatal("no owner uid")
	}
	if err := checkFile(path, fi, int(uid)); err != nil {
		t.Fatalf("owner refused: %v", err)
	}
	if err := checkFile(path, fi, 0); err != nil {
		t.Fatalf("root refused: %v", err)
	}
	other := int(uid) + 1
	err = checkFile(path, fi, other)
	want := fmt.Sprintf("open variable store %s: owned by uid %d, not by this process's uid %d", path, uid, other)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("checkFile(other uid) = %v; want %q...", err, want)
	}
	if os.Geteuid() == 0 {
		// Root may use a store someone else owns.
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		mustOpen(t, path)
	}
}

func TestRefuseSymlinkAndDir(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	mustOpen(t, target)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link); err == nil || !strings.Contains(err.Error(), link+": is a symbolic link") {
		t.Fatalf("Open(symlink) = %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "open variable store "+dir) {
		t.Fatalf("Open(dir) = %v", err)
	}
}

func TestNotAStore(t *testing.T) {
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		return b
	}
	valid := func() []byte {
		path := tempPath(t)
		s := mustOpen(t, path)
		s.Set("a", "b")
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badHash := valid()
	badHash[32] ^= 0xff
	badSlots := valid()
	badSlots[12] = 1 // slot count 513
	tooLong := append(valid(), 0)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"short", []byte("hello, world\n"), "not a gohap variable store (only 13 bytes"},
		{"text", []byte(strings.Repeat("# haproxy.cfg\n", 100)), `not a gohap variable store (bad magic "# haprox", want "GOHAPVR1")`},
		{"fullsize", garbage(fileSize), "not a gohap variable store (bad magic"},
		{"hash", badHash, "layout hash mismatch: file has version 1"},
		{"slots", badSlots, "layout mismatch: file has version 1, 513 slots"},
		{"size", tooLong, fmt.Sprintf("(size %d bytes, want %d)", fileSize+1, fileSize)},
	}
	for _, tt := range tests {
		path := tempPath(t)
		if err := os.WriteFile(path, tt.content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !errors.Is(err, errNotStore) ||
			!strings.HasPrefix(err.Error(), "open variable store "+path+": ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open = %v; want error with the path and %q", tt.name, err, tt.want)
			continue
		}
		if b, _ := os.ReadFile(path); string(b) != string(tt.content) {
			t.Errorf("%s: refused file was modified", tt.name)
		}
	}
}

// A zero-filled full-size file is what an initialiser leaves if it dies
// between ftruncate and writing the header: Open initialises it.
func TestZeroFileIsInitialised(t *testing.T) {
	path := tempPath(t)
	if err := os.WriteFile(path, make([]byte, fileSize), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	if err := s.Set("a", "b"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, path)
	if v, _ := s.Get("a"); v != "b" {
		t.Fatalf("Get(a) = %q", v)
	}
}

func TestLoadAllocs(t *testing.T) {
	s := mustOpen(t, tempPath(t))
	if err := s.Set("short", "true"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("long", strings.Repeat("z", MaxValue)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, MaxValue)
	for _, name := range []string{"short", "long"} {
		slot, _ := s.Lookup(name)
		var got []byte
		if n := testing.AllocsPerRun(1000, func() { got = s.Load(slot, buf) }); n != 0 {
			t.Errorf("Load(%s) allocs = %v, want 0", name, n)
		}
		if want, _ := s.Get(name); string(got) != want {
			t.Errorf("Load(%s) = %q, want %q", name, got, want)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	s := mustOpen(b, tempPath(b))
	if err := s.Set("maintenance_mode", "true"); err != nil {
		b.Fatal(err)
	}
	slot, _ := s.Lookup("maintenance_mode")
	buf := make([]byte, 0, MaxValue)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.Load(slot, buf)
	}
	if string(buf) != "true" {
		b.Fatalf("Load = %q", buf)
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s := mustOpen(b, tempPath(b))
	if err := s.Set("maintenance_mode", "true"); err != nil {
		b.Fatal(err)
	}
	slot, _ := s.Lookup("maintenance_mode")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, MaxValue)
		n := 0
		for pb.Next() {
			buf = s.Load(slot, buf)
			n++
		}
		if n > 0 && string(buf) != "true" {
			b.Errorf("Load = %q", buf)
		}
	})
}

func BenchmarkSet(b *testing.B) {
	s := mustOpen(b, tempPath(b))
	values := []string{"true", "false"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Set("maintenance_mode", values[i&1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
