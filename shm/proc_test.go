package shm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Child processes are this test binary re-run with -test.run naming one test
// and these variables saying what the child should do.
const (
	childEnv  = "GOHAP_SHM_TEST_CHILD"
	pathEnv   = "GOHAP_SHM_TEST_PATH"
	path2Env  = "GOHAP_SHM_TEST_PATH2"
	crashName = "victim"
)

var (
	crashOld = strings.Repeat("o", 200)
	crashNew = strings.Repeat("N", 232)
)

func childCmd(t *testing.T, bin, test, mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestCrashedWriter kills a writer half-way through writing a value, with the
// writer lock held, and checks that readers still get the old value and that
// the next writer is not blocked.
func TestCrashedWriter(t *testing.T) {
	if os.Getenv(childEnv) == "crash" {
		crashChild(t)
		return
	}
	path := tempPath(t)
	s := mustOpen(t, path)
	if err := s.Set(crashName, crashOld); err != nil {
		t.Fatal(err)
	}
	slot, _ := s.Lookup(crashName)
	sl := &s.slots[slot]
	seq := sl.seq.Load()

	cmd := childCmd(t, os.Args[0], "TestCrashedWriter", "crash", pathEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v\n%s", err, out)
	}

	// The child got half-way: the inactive buffer starts with the new value,
	// but nothing was published.
	if got := sl.seq.Load(); got != seq {
		t.Fatalf("seq moved from %d to %d", seq, got)
	}
	if w := sl.val[(seq+1)&1][0].Load(); w != word(crashNew, 0) {
		t.Fatalf("child did not write the inactive buffer (first word %x)", w)
	}
	if v, _ := s.Get(crashName); v != crashOld {
		t.Fatalf("after crash Get = %q, want the old value", v)
	}

	done := make(chan error, 1)
	go func() { done <- s.Set(crashName, "recovered") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Set after crash is stuck: writer lock not released")
	}
	if v := string(s.Load(slot, nil)); v != "recovered" {
		t.Fatalf("after recovery Load = %q", v)
	}
	s2 := mustOpen(t, path)
	if err := s2.Set(crashName, crashNew); err != nil {
		t.Fatal(err)
	}
	if v := string(s.Load(slot, nil)); v != crashNew {
		t.Fatalf("after second Set Load = %q", v)
	}
}

func crashChild(t *testing.T) {
	s, err := Open(os.Getenv(pathEnv))
	if err != nil {
		t.Fatal(err)
	}
	s.midWrite = func() {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	err = s.Set(crashName, crashNew)
	t.Fatalf("Set returned %v, want to be killed", err)
}

// TestOpenAsOtherUser runs a child as uid 65534 against a store root owns,
// and in a directory it cannot write, and checks the messages.
func TestOpenAsOtherUser(t *testing.T) {
	if os.Getenv(childEnv) == "open" {
		for _, env := range []string{pathEnv, path2Env} {
			s, err := Open(os.Getenv(env))
			if err == nil {
				s.Close()
				fmt.Printf("%s: opened\n", env)
				continue
			}
			fmt.Printf("%s: permission=%t: %v\n", env, errors.Is(err, fs.ErrPermission), err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child process as uid 65534")
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not traversable by other users", d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	bin := filepath.Join(dir, "shm.test")
	copyFile(t, os.Args[0], bin, 0o755)

	store := filepath.Join(dir, "vars")
	s := mustOpen(t, store)
	if err := s.Set("a", "root's"); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	newStore := filepath.Join(locked, "vars")

	cmd := childCmd(t, bin, "TestOpenAsOtherUser", "open", pathEnv+"="+store, path2Env+"="+newStore)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		pathEnv + ": permission=true: open variable store " + store + ": permission denied (owned by uid 0, mode 0600)\n",
		path2Env + ": permission=true: open variable store " + newStore + ": permission denied (cannot create files in " + locked + ")\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if v, _ := s.Get("a"); v != "root's" {
		t.Fatalf("store changed: a = %q", v)
	}
	if _, err := os.Stat(newStore); err == nil {
		t.Fatal("child created a store in a directory it cannot write")
	}
}

func copyFile(t *testing.T, src, dst string, mode fs.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}
