package runtime

import "sync"

// bufPools holds the connection buffers not in use. A connection takes
// its buffers when it has bytes to move and gives them back when it goes
// idle, as haproxy's connections take theirs from a pool: an idle server
// connection waiting for reuse, or a session back in Engine.sessions,
// then costs no buffer, and a burst of connections leaves buffers that
// the next ones share and a collection can free.
type bufPools struct {
	small sync.Pool // *[bufSize]byte
	large sync.Pool // *[respBufSize]byte
}

// The sizes of a side's read and write buffers: a client connection
// reads requests and writes responses, a server connection the reverse.
const (
	clientIn, clientOut = bufSize, respBufSize
	serverIn, serverOut = respBufSize, bufSize
)

// get returns a buffer of size bytes, which is bufSize or respBufSize.
func (p *bufPools) get(size int) []byte {
	switch size {
	case bufSize:
		if b, _ := p.small.Get().(*[bufSize]byte); b != nil {
			return b[:]
		}
		return new([bufSize]byte)[:]
	case respBufSize:
		if b, _ := p.large.Get().(*[respBufSize]byte); b != nil {
			return b[:]
		}
		return new([respBufSize]byte)[:]
	}
	return make([]byte, size)
}

// put keeps b, from get, for another connection; b must no longer be
// used.
func (p *bufPools) put(b []byte) {
	switch len(b) {
	case bufSize:
		p.small.Put((*[bufSize]byte)(b))
	case respBufSize:
		p.large.Put((*[respBufSize]byte)(b))
	}
}
