package runtime

import (
	"errors"
	"net"
	"os"
)

// Runtime sentinels.
var (
	errHeadTooBig  = errors.New("message head too large")
	errBadRequest  = errors.New("malformed request")
	errBadResponse = errors.New("malformed response")
	errBadChunk    = errors.New("malformed chunked body")
	errIdle        = errors.New("connection idle")                         // rbuf: a bounded quiet wait ran out
	errNoSource    = errors.New("no source address in the request header") // usesrc hdr_ip: haproxy answers 500
	errLogDropped  = errors.New("log line dropped: the writer is behind")  // fdWriter: its queue is full
)

// muxPages are the pages HAProxy's HTTP/1 layer sends itself, before a
// stream exists (bad or too large request, request timeout). HAProxy
// writes them as stored, not through the header lower-casing, and 2.6
// sends them even when an errorfile or http-error replaces the code.
var muxPages = map[int][]byte{
	400: []byte("HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"),
	408: []byte("HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"),
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
