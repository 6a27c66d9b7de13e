package runtime

import (
	"io"
)

// wbuf is a connection's write buffer: bufio.Writer's behaviour (a write
// error is sticky until reset; a write larger than the free space goes
// out directly when nothing is buffered), with the buffer reachable so
// that rbuf.fill can send it with a raw write from inside a read. Owned by
// the goroutine serving the connection.
type wbuf struct {
	buf []byte
	n   int
	wr  io.Writer
	err error
	// count is how many bytes were given to the buffer, for the logs
	// (%B).
	count int64
}

// Reset drops what is buffered and any error, and writes to w from now on.
func (b *wbuf) Reset(w io.Writer) { b.n, b.err, b.wr = 0, nil, w }

// Buffered returns the number of bytes waiting to be written.
func (b *wbuf) Buffered() int { return b.n }

// Available returns the free space of the buffer.
func (b *wbuf) Available() int { return len(b.buf) - b.n }

// Flush writes the buffered bytes.
func (b *wbuf) Flush() error {
	if b.err != nil {
		return b.err
	}
	if b.n == 0 {
		return nil
	}
	n, err := b.wr.Write(b.buf[:b.n])
	if n < b.n && err == nil {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 && n < b.n {
			copy(b.buf, b.buf[n:b.n])
		}
		b.n -= n
		b.err = err
		return err
	}
	b.n = 0
	return nil
}

func (b *wbuf) Write(p []byte) (int, error) {
	nn := 0
	for len(p) > b.Available() && b.err == nil {
		var n int
		if b.n == 0 {
			// Nothing buffered: write p directly, without copying it.
			n, b.err = b.wr.Write(p)
		} else {
			n = copy(b.buf[b.n:], p)
			b.n += n
			b.Flush()
		}
		nn += n
		p = p[n:]
	}
	if b.err != nil {
		b.count += int64(nn)
		return nn, b.err
	}
	n := copy(b.buf[b.n:], p)
	b.n += n
	b.count += int64(nn + n)
	return nn + n, nil
}

func (b *wbuf) WriteString(s string) (int, error) {
	nn := 0
	for len(s) > b.Available() && b.err == nil {
		n := copy(b.buf[b.n:], s)
		b.n += n
		nn += n
		s = s[n:]
		b.Flush()
	}
	if b.err != nil {
		b.count += int64(nn)
		return nn, b.err
	}
	n := copy(b.buf[b.n:], s)
	b.n += n
	b.count += int64(nn + n)
	return nn + n, nil
}

func (b *wbuf) WriteByte(c byte) error {
	if b.err != nil {
		return b.err
	}
	if b.Available() <= 0 && b.Flush() != nil {
		return b.err
	}
	b.buf[b.n] = c
	b.n++
	b.count++
	return nil
}

// flushFD tries to send the buffered bytes with non-blocking writes on fd,
// the descriptor of the connection b writes to, and reports whether all
// went. What did not go stays buffered; an error is not recorded, so that
// Flush meets it again the usual way.
func (b *wbuf) flushFD(fd int) bool {
	if b.err != nil {
		return false
	}
	n, err := sysWriteAll(fd, b.buf[:b.n])
	copy(b.buf, b.buf[n:b.n])
	b.n -= n
	return err == 0
}
