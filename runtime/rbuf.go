package runtime

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"time"
)

// bufSize is the size of every connection's read buffer: HAProxy's
// tune.bufsize default.
const bufSize = 16384

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
	flush *bufio.Writer
	// timeout, when > 0, is set as read deadline before each read
	// (inactivity timeout for bodies and tunnels).
	timeout time.Duration
}

func (b *rbuf) reset(c net.Conn) {
	if b.buf == nil {
		b.buf = make([]byte, bufSize)
	}
	b.c, b.r, b.w, b.err = c, 0, 0, nil
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
	if b.flush != nil && b.flush.Buffered() > 0 {
		if err := b.flush.Flush(); err != nil {
			return 0, err
		}
	}
	if b.timeout > 0 {
		b.c.SetReadDeadline(time.Now().Add(b.timeout))
	}
	if b.w == len(b.buf) {
		b.compact()
		if b.w == len(b.buf) {
			return 0, errHeadTooBig
		}
	}
	n, err := b.c.Read(b.buf[b.w:])
	b.w += n
	if err != nil && n == 0 {
		b.err = err
		return 0, err
	}
	return n, nil
}

// discard drops n buffered bytes.
func (b *rbuf) discard(n int) { b.r += n }

// line returns the next line without its CRLF or LF, reading more as
// needed; it fails when the line does not fit in the buffer.
func (b *rbuf) line() ([]byte, error) {
	for {
		d := b.buf[b.r:b.w]
		if i := bytes.IndexByte(d, '\n'); i >= 0 {
			l := d[:i]
			b.r += i + 1
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			return l, nil
		}
		if _, err := b.fill(); err != nil {
			if err == io.EOF && b.buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
