package api

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gohap/runtime/rules"
)

// socket is one listening "stats socket".
type socket struct {
	ln   net.Listener
	path string // the socket file; empty for TCP and abstract sockets
	ino  uint64 // the file's inode, so close removes only our own file
	opts atomic.Pointer[sockOpts]
}

// sockOpts are what a reload may change on a socket it keeps; a
// connection keeps those it started with.
type sockOpts struct {
	level   rules.Level
	timeout time.Duration
}

// listen opens sc. A socket file is bound under a temporary name, given
// its mode and owner, then renamed over the path, as haproxy does: the
// path never lacks a socket while one runs, and never has one with the
// wrong permissions. A path that exists and is not a socket is refused.
func listen(sc rules.StatsSocket) (*socket, error) {
	if sc.Network != "unix" || strings.HasPrefix(sc.Addr, "@") {
		ln, err := net.Listen(sc.Network, sc.Addr)
		if err != nil {
			return nil, fmt.Errorf("stats socket %s: %w", sc.Addr, err)
		}
		return &socket{ln: ln}, nil
	}
	if fi, err := os.Lstat(sc.Addr); err == nil && fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("stats socket %s: exists and is not a socket", sc.Addr)
	}
	tmp := sc.Addr + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("stats socket %s: %w", sc.Addr, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	sock := &socket{ln: ln, path: tmp}
	if err := sock.setFile(sc); err != nil {
		sock.close()
		return nil, err
	}
	if err := os.Rename(tmp, sc.Addr); err != nil {
		sock.close()
		return nil, fmt.Errorf("stats socket %s: %w", sc.Addr, err)
	}
	sock.path = sc.Addr
	sock.ino = inode(sc.Addr)
	return sock, nil
}

// setFile gives the socket file sc's mode and owner.
func (s *socket) setFile(sc rules.StatsSocket) error {
	if s.path == "" {
		return nil
	}
	if sc.Mode != 0 {
		if err := os.Chmod(s.path, sc.Mode); err != nil {
			return fmt.Errorf("stats socket %s: %w", sc.Addr, err)
		}
	}
	if sc.UID >= 0 || sc.GID >= 0 {
		if err := os.Lchown(s.path, sc.UID, sc.GID); err != nil {
			return fmt.Errorf("stats socket %s: %w", sc.Addr, err)
		}
	}
	return nil
}

// close stops listening and removes the socket file, unless another
// process has put its own socket at the path since.
func (s *socket) close() {
	s.ln.Close()
	if s.path != "" && (s.ino == 0 || inode(s.path) == s.ino) {
		os.Remove(s.path)
	}
}

// inode returns the inode of path, or 0.
func inode(path string) uint64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
