package runtime

import (
	"io"
)

// copyN relays n bytes from src to w, flushing w before src blocks.
func copyN(w *wbuf, src *rbuf, n int64) error {
	prev := src.flush
	src.flush = w
	err := copyNRaw(w, src, n)
	src.flush = prev
	return err
}

func copyNRaw(w *wbuf, src *rbuf, n int64) error {
	for n > 0 {
		if src.buffered() == 0 {
			if _, err := src.fill(); err != nil {
				return noEOF(err)
			}
		}
		d := src.data()
		if int64(len(d)) > n {
			d = d[:n]
		}
		if _, err := w.Write(d); err != nil {
			return err
		}
		src.discard(len(d))
		n -= int64(len(d))
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// copyEOF relays src to w until src ends.
func copyEOF(w *wbuf, src *rbuf) error {
	prev := src.flush
	src.flush = w
	defer func() { src.flush = prev }()
	for {
		if d := src.data(); len(d) > 0 {
			if _, err := w.Write(d); err != nil {
				return err
			}
			src.discard(len(d))
		}
		if _, err := src.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// copyChunked relays a chunked body from src to w, re-chunking each chunk
// as received (extensions dropped, sizes in upper-case hex), then the
// trailers with lower-case names, as HAProxy does.
func copyChunked(w *wbuf, src *rbuf, scratch []byte) ([]byte, error) {
	prev := src.flush
	src.flush = w
	scratch, err := copyChunkedRaw(w, src, scratch)
	src.flush = prev
	return scratch, err
}

func copyChunkedRaw(w *wbuf, src *rbuf, scratch []byte) ([]byte, error) {
	for {
		line, err := src.line()
		if err != nil {
			return scratch, noEOF(err)
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return scratch, errBadChunk
		}
		if size == 0 {
			break
		}
		scratch = appendHex(scratch[:0], size)
		scratch = append(scratch, '\r', '\n')
		w.Write(scratch)
		if err := copyNRaw(w, src, size); err != nil {
			return scratch, err
		}
		line, err = src.line()
		if err != nil {
			return scratch, noEOF(err)
		}
		if len(line) != 0 {
			return scratch, errBadChunk
		}
		if _, err := w.WriteString("\r\n"); err != nil {
			return scratch, err
		}
	}
	w.WriteString("0\r\n")
	return scratch, copyTrailers(w, src)
}

// copyTrailers relays the trailers that end a chunked body, names in
// lower case, and the empty line after them.
func copyTrailers(w *wbuf, src *rbuf) error {
	for {
		line, err := src.line()
		if err != nil {
			return noEOF(err)
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := cutHeader(line)
		if !ok {
			return errBadChunk
		}
		writeLower(w, name)
		w.WriteString(": ")
		w.Write(value)
		w.WriteString("\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

// cutHeader splits a header line into its name and trimmed value.
func cutHeader(line []byte) (name, value []byte, ok bool) {
	for i, c := range line {
		if c == ':' {
			if i == 0 {
				return nil, nil, false
			}
			v := line[i+1:]
			for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
				v = v[1:]
			}
			for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
				v = v[:len(v)-1]
			}
			return line[:i], v, true
		}
		if !tchar[c] {
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// parseChunkSize parses the hex size of a chunk-size line, ignoring
// extensions.
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, c := range line {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case c == ';' || c == ' ' || c == '\t':
			return n, digits > 0
		default:
			return 0, false
		}
		if digits >= 15 {
			return 0, false
		}
		n = n<<4 | int64(v)
		digits++
	}
	return n, digits > 0
}
