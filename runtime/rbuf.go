package runtime

import (
	"bytes"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// bufSize is HAProxy's tune.bufsize default: the size of the buffers
// requests pass through, and the most a message head may take.
const bufSize = 16384

// respBufSize is the size of the buffers responses pass through: the
// server connection's read buffer and the client connection's write
// buffer. A response of up to twice HAProxy's buffer then passes in one
// read and one write, as HAProxy's pass in one segment (it sends the
// first part with MSG_MORE); in 16 kB parts, a 16 kB file cost gohap
// 60% more CPU per request than haproxy, and it served 0.70x haproxy's
// requests a second (URLPATH=/files/16k bench/compare.sh 2 6 50); 1.00x
// with these.
const respBufSize = 2 * bufSize

// rbuf is a connection's read buffer. Parsed requests and responses hold
// slices into buf, valid until the next fill or compact. It is owned by the
// goroutine serving the connection.
type rbuf struct {
	c    net.Conn
	buf  []byte
	r, w int
	err  error // sticky read error
	// flush, when not nil, is flushed before each blocking read, so that
	// nothing waits in a buffer while the connection waits for its peer.
	flush *wbuf
	// timeout, when > 0, is set as read deadline before each read
	// (inactivity timeout for bodies and tunnels).
	timeout time.Duration
	// quiet, set by the caller for the next fill only, says the peer
	// sends nothing on c before it got what flush holds (flush must then
	// write to c): that fill writes flush from inside a raw read and waits
	// for c to become readable before reading, which saves the read that
	// would find nothing. Bytes that arrived earlier would only be seen
	// at the next deadline: quietWait bounds that wait.
	quiet bool
	// quietWait, when > 0, bounds the quiet wait: past it, the read
	// deadline becomes quietDeadline (zero: none) and fill reads as usual.
	quietWait     time.Duration
	quietDeadline time.Time
	// quietMissed is set when bounded quiet waits ran out with bytes
	// there quietMissMax times in a row: the peer does send before it got
	// an answer (it pipelines), wait no more that way. quietMisses counts.
	quietMissed bool
	quietMisses uint8
	// flushFailed is set when fill failed because the flush failed.
	flushFailed bool

	// count is how many bytes were read from c, for the logs (%U).
	count int64
	// first, when not nil, gets the time of the first read that brings
	// bytes while it is zero (the request's first byte, %tr).
	first *time.Time
	// onFill, when not nil, runs after each fill that brought bytes
	// (session.countBytes while a response body passes).
	onFill func()

	rc     syscall.RawConn // c's descriptor for raw reads; nil: none (TLS)
	rawFn  func(fd uintptr) bool
	rawErr error
	rawN   int
	rawRun uint8 // rawStep's state
}

// quietMissMax is how many bounded quiet waits in a row may run out with
// bytes there before a connection stops waiting that way.
const quietMissMax = 3

// rawStep states.
const (
	rawWrite = iota // write flush, then wait
	rawRead         // read; wait while there is nothing
	rawRetry        // the write did not complete: leave, go the usual way
	rawProbe        // read once, without waiting; still rawProbe if nothing came
)

// reset readies b to read c, whose descriptor rc is (nil: none).
func (b *rbuf) reset(c net.Conn, rc syscall.RawConn) {
	if b.rawFn == nil {
		b.rawFn = b.rawStep
	}
	b.c, b.r, b.w, b.err, b.rc = c, 0, 0, nil, rc
	b.quiet, b.quietMissed, b.quietMisses, b.flushFailed = false, false, 0, false
}

// data returns the unread bytes.
func (b *rbuf) data() []byte { return b.buf[b.r:b.w] }

func (b *rbuf) buffered() int { return b.w - b.r }

// compact moves the unread bytes to the start of buf.
func (b *rbuf) compact() {
	if b.r == 0 {
		return
	}
	n := copy(b.buf, b.buf[b.r:b.w])
	b.r, b.w = 0, n
}

// fill reads once more into the free space, compacting first when the
// buffer is full at the end. It returns the number of bytes read.
func (b *rbuf) fill() (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	if b.w == len(b.buf) {
		b.compact()
		if b.w == len(b.buf) {
			return 0, errHeadTooBig
		}
	}
	quiet := b.quiet
	b.quiet = false
	if b.flush != nil && b.flush.Buffered() > 0 {
		if quiet && b.timeout == 0 {
			if n, err, done := b.quietFill(); done {
				return n, err
			}
		}
		if err := b.flush.Flush(); err != nil {
			b.flushFailed = true
			return 0, err
		}
	}
	if b.timeout > 0 {
		b.c.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.read()
	b.w += n
	b.count += int64(n)
	if b.first != nil && n > 0 && b.first.IsZero() {
		*b.first = time.Now()
	}
	if err != nil && n == 0 {
		b.err = err
		return 0, err
	}
	if b.onFill != nil {
		b.onFill()
	}
	return n, nil
}

// quietFill is fill for a quiet peer: one raw read that writes flush,
// waits for c, then reads. It reports false when the usual way must
// finish the job: no descriptor, or a write that did not complete.
func (b *rbuf) quietFill() (int, error, bool) {
	if b.rc == nil {
		return 0, nil, false
	}
	b.rawRun, b.rawN, b.rawErr = rawWrite, 0, nil
	err := b.rc.Read(b.rawFn)
	if b.rawRun == rawRetry {
		return 0, nil, false
	}
	if err != nil && b.quietWait > 0 && isTimeout(err) {
		// The bounded wait ran out: the peer is idle, or what it sent
		// came before the wait began (pipelining, half-close). Look once:
		// bytes there mean the latter, and end quiet waits on this
		// connection; none, that the connection is idle (errIdle).
		b.c.SetReadDeadline(b.quietDeadline)
		b.rawRun = rawProbe
		err = b.rc.Read(b.rawFn)
		if err == nil && b.rawRun == rawProbe {
			b.quietMisses = 0
			return 0, errIdle, true
		}
		if err == nil {
			// Bytes came before the wait began, or while this goroutine
			// waited for a thread once the wait ran out.
			b.quietMisses++
			b.quietMissed = b.quietMisses >= quietMissMax
		}
	} else if err == nil {
		b.quietMisses = 0
	}
	if err != nil {
		b.err = err
		return 0, err, true
	}
	n, err := b.rawN, b.rawErr
	if n > 0 {
		b.w += n
		b.count += int64(n)
		if b.first != nil && b.first.IsZero() {
			*b.first = time.Now()
		}
		if b.quietWait > 0 && headReady(b) < 0 {
			// Part of a head came within the bounded wait: the rest
			// has until the idle deadline, not until the wait's end.
			b.c.SetReadDeadline(b.quietDeadline)
		}
		return n, nil, true
	}
	if err == nil {
		err = io.EOF
	}
	b.err = err
	return 0, err, true
}

// rawConnOf returns c's descriptor for raw reads and writes (a TCP or
// unix connection), or nil (TLS).
func rawConnOf(c net.Conn) syscall.RawConn {
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

// read reads once into the free space: with a raw read where c allows
// it (see sysRead), else with c.Read.
func (b *rbuf) read() (int, error) {
	if b.rc == nil {
		return b.c.Read(b.buf[b.w:])
	}
	b.rawRun, b.rawN, b.rawErr = rawRead, 0, nil
	if err := b.rc.Read(b.rawFn); err != nil {
		return 0, err
	}
	if b.rawN == 0 && b.rawErr == nil {
		return 0, io.EOF
	}
	return b.rawN, b.rawErr
}

// rawStep is the syscall.RawConn.Read callback of quietFill and read.
func (b *rbuf) rawStep(fd uintptr) bool {
	if b.rawRun == rawWrite {
		if !b.flush.flushFD(int(fd)) {
			b.rawRun = rawRetry
			return true
		}
		b.rawRun = rawRead
		return false
	}
	for {
		n, err := sysRead(int(fd), b.buf[b.w:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return b.rawRun == rawProbe
		}
		b.rawRun = rawRead
		if n < 0 {
			n = 0
		}
		b.rawN, b.rawErr = n, nil
		if err != 0 {
			b.rawErr = os.NewSyscallError("read", err)
		}
		return true
	}
}

// sysRead and sysWrite are read(2) and write(2) on a non-blocking
// descriptor without the scheduler's system call bookkeeping. They never
// block, so the goroutine keeps its P: with syscall.Read and Write, a call
// that the kernel makes long (loopback delivery, the peer's wake-up, this
// thread's preemption) lets sysmon hand the P to another thread, which
// costs a thread wake-up and sleep, and keeps sysmon polling every 20 µs.
func sysRead(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), e
}

func sysWrite(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), e
}

// sysWriteAll writes p with sysWrite until all of it went or a write
// failed, retrying EINTR: it returns the bytes written and the failure
// (0: none; EAGAIN also when a write took nothing).
func sysWriteAll(fd int, p []byte) (int, syscall.Errno) {
	n := 0
	for n < len(p) {
		m, err := sysWrite(fd, p[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != 0:
			return n, err
		case m <= 0:
			return n, syscall.EAGAIN
		}
		n += m
	}
	return n, 0
}

// discard drops n buffered bytes.
func (b *rbuf) discard(n int) { b.r += n }

// line returns the next line without its CRLF or LF, reading more as
// needed; it fails when the line does not fit in bufSize bytes.
func (b *rbuf) line() ([]byte, error) {
	for {
		d := b.buf[b.r:b.w]
		if i := bytes.IndexByte(d, '\n'); i >= 0 {
			if i >= bufSize {
				return nil, errHeadTooBig
			}
			l := d[:i]
			b.r += i + 1
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			return l, nil
		}
		if len(d) >= bufSize {
			// As in haproxy's buffer, whatever the size of b's.
			return nil, errHeadTooBig
		}
		if _, err := b.fill(); err != nil {
			if err == io.EOF && b.buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
