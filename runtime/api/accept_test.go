package api_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAcceptOutOfDescriptors: an accept that fails for want of file
// descriptors (EMFILE) does not stop the socket: once descriptors are
// free again, the next client is served.
func TestAcceptOutOfDescriptors(t *testing.T) {
	p := start(t, twoServers, "127.0.0.1:1", "127.0.0.1:2")
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Take every descriptor but one; the client's socket takes the last,
	// so the API's accept fails.
	low := lim
	low.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	var fillers []*os.File
	restore := func() {
		for _, f := range fillers {
			f.Close()
		}
		fillers = nil
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	defer restore()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		fillers = append(fillers, f)
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	c, err := net.Dial("unix", filepath.Join(p.dir, "admin.sock"))
	if err != nil {
		restore()
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the accept fails meanwhile
	restore()
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "show cli level\n")
	if got, err := io.ReadAll(c); string(got) != "admin\n\n" {
		t.Errorf("after an accept failed with EMFILE: %q, %v", got, err)
	}
}
