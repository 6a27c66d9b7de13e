package runtime

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"sync"

	"gohap/runtime/rules"
)

// HTTP compression as haproxy 2.6's compression filter does it: the
// algorithm is chosen from the request once every http-request rule ran,
// the response is judged on the server's head (before http-response
// rules), and the head is rewritten after them.

var (
	hdrAcceptEncoding  = []byte("accept-encoding")
	hdrUserAgent       = []byte("user-agent")
	hdrContentEncoding = []byte("content-encoding")
	hdrContentType     = []byte("content-type")
	hdrETag            = []byte("etag")
	hdrVary            = []byte("vary")
	valChunked         = []byte("chunked")
	valAcceptEncoding  = []byte("Accept-Encoding")
	valNoTransform     = []byte("no-transform")
	valMultipart       = []byte("multipart")
)

// compAlgos returns the algorithms that apply to a request: the
// backend's, else the frontend's.
func compAlgos(fe *rules.Frontend, be *rules.Backend) []rules.CompAlgo {
	if c := be.Compression; c != nil && len(c.Algos) > 0 {
		return c.Algos
	}
	if c := fe.Compression; c != nil {
		return c.Algos
	}
	return nil
}

// selectCompression chooses the algorithm for the response to req from
// its Accept-Encoding (the highest q-value wins, the first written on a
// tie; "*" takes the first algorithm), or identity when it is configured
// and nothing else matched. With "offload" it then removes
// Accept-Encoding from req.
func selectCompression(fe *rules.Frontend, be *rules.Backend, req *rules.Request) rules.CompAlgo {
	algos := compAlgos(fe, be)
	if len(algos) == 0 {
		return rules.CompNone
	}
	if i := req.Header(hdrUserAgent, 0); i >= 0 && oldMozilla(req.Headers[i].Value) {
		return rules.CompNone
	}
	best, bestQ := rules.CompNone, 0
	for i := req.Header(hdrAcceptEncoding, 0); i >= 0; i = req.Header(hdrAcceptEncoding, i+1) {
		for rest := req.Headers[i].Value; len(rest) > 0; {
			var v []byte
			v, rest = nextToken(rest)
			if len(v) == 0 {
				continue
			}
			tok := v
			for j, c := range v {
				if !tchar[c] {
					tok = v[:j]
					break
				}
			}
			q := codingQ(v[len(tok):])
			if q <= bestQ {
				continue
			}
			for _, a := range algos {
				if v[0] == '*' || bytes.EqualFold(tok, compTokens[a]) {
					best, bestQ = a, q
					break
				}
			}
		}
	}
	if best != rules.CompNone {
		if (be.Compression != nil && be.Compression.Offload) || (fe.Compression != nil && fe.Compression.Offload) {
			req.DelHeader(hdrAcceptEncoding)
		}
		return best
	}
	for _, a := range algos {
		if a == rules.CompIdentity {
			return a
		}
	}
	return rules.CompNone
}

// oldMozilla reports whether a User-Agent is one haproxy does not
// compress for: "Mozilla/4" unless MSIE 6 with SV1, or MSIE 7 and later.
func oldMozilla(ua []byte) bool {
	if len(ua) < 9 || string(ua[:9]) != "Mozilla/4" {
		return false
	}
	return len(ua) < 31 || string(ua[25:30]) != "MSIE " || ua[30] < '6' ||
		(ua[30] == '6' && (len(ua) < 54 || string(ua[51:54]) != "SV1"))
}

// codingQ returns the q-value (0 to 1000) in the parameters that follow a
// coding: 1000 when there is none.
func codingQ(p []byte) int {
	for {
		p = trimLWS(p)
		if len(p) == 0 || p[0] != ';' {
			return 1000
		}
		p = trimLWS(p[1:])
		if len(p) == 0 {
			return 1000
		}
		if p[0] == 'q' && (len(p) == 1 || p[1] == '=') {
			if len(p) < 2 {
				return 1000
			}
			return parseQValue(p[2:])
		}
		i := bytes.IndexByte(p, ';')
		if i < 0 {
			return 1000
		}
		p = p[i:]
	}
}

func trimLWS(p []byte) []byte {
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n') {
		p = p[1:]
	}
	return p
}

// parseQValue reads "d[.ddd]" as thousandths, haproxy's way: it stops at
// the first unexpected byte and caps the value at 1000.
func parseQValue(p []byte) int {
	digit := func(i int) (int, bool) {
		if i < len(p) && p[i] >= '0' && p[i] <= '9' {
			return int(p[i] - '0'), true
		}
		return 0, false
	}
	d, ok := digit(0)
	if !ok {
		return 1000
	}
	q := d * 1000
	if len(p) > 1 && p[1] == '.' {
		for i, mul := 2, 100; mul > 0; i, mul = i+1, mul/10 {
			d, ok := digit(i)
			if !ok {
				break
			}
			q += d * mul
		}
	}
	return min(q, 1000)
}

// compressible reports whether the response whose head the server sent
// (hdrs, before http-response rules) may be compressed.
func (s *session) compressible(fe *rules.Frontend, be *rules.Backend, ri *msgInfo, status int, hdrs []rules.Header) bool {
	switch {
	case !ri.ver11 || !s.req.ver11 || s.isHead:
		return false
	case status < 200 || status > 203:
		return false
	case !ri.chunked && !(ri.hasCL && ri.cl > 0):
		return false // no body, or one delimited by the close
	}
	etags := 0
	var ctype []byte
	haveType := false
	for i := range hdrs {
		h := &hdrs[i]
		switch {
		case bytes.Equal(h.Name, hdrContentEncoding):
			return false
		case bytes.Equal(h.Name, cacheControlName):
			for rest := h.Value; len(rest) > 0; {
				var v []byte
				v, rest = nextToken(rest)
				if bytes.EqualFold(v, valNoTransform) {
					return false
				}
			}
		case bytes.Equal(h.Name, hdrETag):
			if etags++; etags > 1 || !validETag(h.Value) {
				return false
			}
		case bytes.Equal(h.Name, hdrContentType) && !haveType:
			ctype, haveType = h.Value, true
		}
	}
	types := compTypes(fe, be)
	if !haveType {
		return len(types) == 0
	}
	if hasPrefixFold(ctype, valMultipart) {
		return false
	}
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if hasPrefixFold(ctype, t) {
			return true
		}
	}
	return false
}

// compTypes returns the types to compress: the backend's, else the
// frontend's.
func compTypes(fe *rules.Frontend, be *rules.Backend) [][]byte {
	if c := be.Compression; c != nil && len(c.Types) > 0 {
		return c.Types
	}
	if c := fe.Compression; c != nil {
		return c.Types
	}
	return nil
}

func hasPrefixFold(b, prefix []byte) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], prefix)
}

// validETag reports whether v is a strong ("...") or weak (W/"...") tag.
func validETag(v []byte) bool {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return false
	}
	return v[0] == '"' || bytes.HasPrefix(v, []byte(`W/"`))
}

// compressHeaders rewrites the response head for a compressed body:
// no Content-Length, chunked, a weak ETag, "Vary: Accept-Encoding" and
// the Content-Encoding (none for identity), in haproxy's order.
func (s *session) compressHeaders(hdrs []rules.Header, ri *msgInfo, algo rules.CompAlgo) []rules.Header {
	if ri.hasCL {
		hdrs = rules.DelHeaders(hdrs, hdrCL)
	}
	if !ri.chunked {
		hdrs = append(hdrs, rules.Header{Name: hdrTrEnc, Value: valChunked})
	}
	for i := range hdrs {
		if h := &hdrs[i]; bytes.EqualFold(h.Name, hdrETag) {
			if len(h.Value) > 0 && h.Value[0] == '"' {
				start := len(s.hop.buf)
				s.hop.buf = append(append(s.hop.buf, "W/"...), h.Value...)
				h.Value = s.hop.buf[start:len(s.hop.buf):len(s.hop.buf)]
			}
			break
		}
	}
	hdrs = append(hdrs, rules.Header{Name: hdrVary, Value: valAcceptEncoding})
	if algo != rules.CompIdentity {
		hdrs = append(hdrs, rules.Header{Name: hdrContentEncoding, Value: compTokens[algo]})
	}
	return hdrs
}

// compTokens are the Content-Encoding values by algorithm.
var compTokens = func() (t [rules.CompGzip + 1][]byte) {
	for a := range t {
		t[a] = []byte(rules.CompAlgo(a).Token())
	}
	return t
}()

// compWriter is what the gzip, zlib and flate writers have in common.
type compWriter interface {
	io.WriteCloser
	Flush() error
	Reset(w io.Writer)
}

var (
	_ compWriter = (*gzip.Writer)(nil)
	_ compWriter = (*zlib.Writer)(nil)
	_ compWriter = (*flate.Writer)(nil)
)

// compPools keep the compression writers between responses: each holds
// about a megabyte of tables, so a response borrows one only while its
// body streams. Safe for concurrent use.
type compPools [rules.CompGzip + 1]sync.Pool

// get returns a writer for algo, writing to w.
func (p *compPools) get(algo rules.CompAlgo, w io.Writer) compWriter {
	if zw, ok := p[algo].Get().(compWriter); ok {
		zw.Reset(w)
		return zw
	}
	// haproxy compresses at tune.comp.maxlevel, 1 by default.
	switch algo {
	case rules.CompGzip:
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		zw.OS = 3 // Unix, as haproxy writes it
		return zw
	case rules.CompDeflate:
		zw, _ := zlib.NewWriterLevel(w, zlib.BestSpeed)
		return zw
	}
	zw, _ := flate.NewWriter(w, flate.BestSpeed)
	return zw
}

func (p *compPools) put(algo rules.CompAlgo, zw compWriter) {
	zw.Reset(io.Discard)
	if g, ok := zw.(*gzip.Writer); ok {
		g.OS = 3
	}
	p[algo].Put(zw)
}

// compressor streams one response body, compressed, as chunks to the
// client. Owned by the session; the writer is borrowed from the engine's
// pools for the length of a body.
type compressor struct {
	zw    compWriter // nil for identity
	w     *wbuf      // the client
	out   []byte     // compressed bytes not yet sent
	dirty bool       // input was written since the last flush
	err   error
	hex   [20]byte // chunk-size line
}

// Write collects what the compression writer produces.
func (z *compressor) Write(p []byte) (int, error) {
	z.out = append(z.out, p...)
	if len(z.out) >= bufSize {
		z.emit()
	}
	return len(p), z.err
}

// emit sends the collected bytes as one chunk.
func (z *compressor) emit() {
	if len(z.out) == 0 || z.err != nil {
		return
	}
	z.writeChunk(z.out)
	z.out = z.out[:0]
}

func (z *compressor) writeChunk(p []byte) {
	b := appendHex(z.hex[:0], int64(len(p)))
	b = append(b, '\r', '\n')
	z.w.Write(b)
	z.w.Write(p)
	if _, err := z.w.WriteString("\r\n"); err != nil && z.err == nil {
		z.err = err
	}
}

// write compresses p.
func (z *compressor) write(p []byte) error {
	if z.zw == nil {
		z.writeChunk(p)
		return z.err
	}
	z.dirty = true
	if _, err := z.zw.Write(p); err != nil {
		return err
	}
	return z.err
}

// flush sends what was compressed so far, before the relay waits for
// the server: the client gets the data as it comes, as with haproxy.
func (z *compressor) flush() error {
	if z.zw != nil && z.dirty {
		z.dirty = false
		if err := z.zw.Flush(); err != nil {
			return err
		}
	}
	z.emit()
	return z.err
}

// relayCompressed relays the response body from src to the client,
// compressed with algo and chunked, then the last chunk and the
// server's trailers.
func (s *session) relayCompressed(src *rbuf, ri *msgInfo, algo rules.CompAlgo) error {
	z := &s.comp
	z.w, z.out, z.dirty, z.err = s.out, z.out[:0], false, nil
	if algo != rules.CompIdentity {
		z.zw = s.e.comp.get(algo, z)
	}
	prev := src.flush
	src.flush = s.out
	err := z.relay(src, ri)
	src.flush = prev
	if z.zw != nil {
		s.e.comp.put(algo, z.zw)
		z.zw = nil
	}
	z.w = nil
	return err
}

func (z *compressor) relay(src *rbuf, ri *msgInfo) error {
	if !ri.chunked {
		if err := z.feed(src, ri.cl); err != nil {
			return err
		}
		return z.finish(src, false)
	}
	for {
		line, err := z.line(src)
		if err != nil {
			return err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return errBadChunk
		}
		if size == 0 {
			return z.finish(src, true)
		}
		if err := z.feed(src, size); err != nil {
			return err
		}
		if line, err = z.line(src); err != nil {
			return err
		}
		if len(line) != 0 {
			return errBadChunk
		}
	}
}

// line reads the next line of a chunked body, flushing first if it has
// to wait for it.
func (z *compressor) line(src *rbuf) ([]byte, error) {
	if bytes.IndexByte(src.data(), '\n') < 0 {
		if err := z.flush(); err != nil {
			return nil, err
		}
	}
	line, err := src.line()
	return line, noEOF(err)
}

// feed compresses n bytes of src.
func (z *compressor) feed(src *rbuf, n int64) error {
	for n > 0 {
		if src.buffered() == 0 {
			if err := z.flush(); err != nil {
				return err
			}
			if _, err := src.fill(); err != nil {
				return noEOF(err)
			}
		}
		d := src.data()
		if int64(len(d)) > n {
			d = d[:n]
		}
		if err := z.write(d); err != nil {
			return err
		}
		src.discard(len(d))
		n -= int64(len(d))
	}
	return nil
}

// finish ends the compressed stream and the chunked body, with the
// server's trailers when it sent a chunked body.
func (z *compressor) finish(src *rbuf, trailers bool) error {
	if z.zw != nil {
		if err := z.zw.Close(); err != nil {
			return err
		}
	}
	z.emit()
	if z.err != nil {
		return z.err
	}
	z.w.WriteString("0\r\n")
	if trailers {
		return copyTrailers(z.w, src)
	}
	_, err := z.w.WriteString("\r\n")
	return err
}
