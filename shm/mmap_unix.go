//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package shm

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openFlags refuse to follow a symlink: /dev/shm is world-writable, so a
// link planted there could point the store at another file.
const openFlags = os.O_RDWR | syscall.O_NOFOLLOW

// openFile opens path, creating it with mode 0600 if it does not exist, and
// reports whether this call created it.
func openFile(path string) (f *os.File, created bool, err error) {
	for range 3 {
		f, err = os.OpenFile(path, openFlags|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		f, err = os.OpenFile(path, openFlags, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, false, err
		}
		// Removed between the two opens: try again.
	}
	return nil, false, err
}

// ownerUID returns the uid that owns the file described by fi.
func ownerUID(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// isLoop reports whether err is ELOOP, which O_NOFOLLOW returns for a symlink.
func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }

// flock applies how (syscall.LOCK_EX or LOCK_UN) to f. The lock belongs to
// the open file description, and the kernel drops it when the holder dies.
func flock(f *os.File, how int) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = conn.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

func lockFile(f *os.File) error   { return flock(f, syscall.LOCK_EX) }
func unlockFile(f *os.File) error { return flock(f, syscall.LOCK_UN) }

// mapFile maps the first size bytes of f shared and read-write.
func mapFile(f *os.File, size int) ([]byte, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var data []byte
	var merr error
	err = conn.Control(func(fd uintptr) {
		data, merr = syscall.Mmap(int(fd), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	})
	if err != nil {
		return nil, err
	}
	return data, merr
}

func unmap(data []byte) error { return syscall.Munmap(data) }
