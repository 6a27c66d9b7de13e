package runtime

import (
	"bytes"

	"gohap/runtime/rules"
)

// l7RetryLimit is how large a request may be, counted as parseRequest
// counts heads plus its body, for haproxy 2.6 to keep a copy to send
// again: it keeps one only when the whole request is in its buffer at
// the first send (measured: a 15212-byte body with a 166-byte head).
const l7RetryLimit = htxLimit + 26

// replayable reports whether the current request can be sent again
// after a response "retry-on" retries: no body, or all of it already in
// the client buffer, and small enough for haproxy's buffer. It sets
// s.replayLen to the length of the buffered body.
func (s *session) replayable() bool {
	s.replayLen = 0
	size := s.req.htxSize
	switch {
	case !s.req.hasReqBody():
		return size <= l7RetryLimit
	case s.req.expect100:
		return false // the body comes after the server's "100 Continue"
	case s.req.chunked:
		n, data, chunks, ok := chunkedLen(s.in.data())
		if !ok {
			return false
		}
		s.replayLen, size = n, size+int64(chunks+1)*htxBlock+data
	default:
		if int64(s.in.buffered()) < s.req.cl {
			return false
		}
		s.replayLen, size = int(s.req.cl), size+htxBlock+s.req.cl
	}
	return size <= l7RetryLimit
}

// chunkedLen measures the complete chunked body at the start of d: its
// length with the framing and trailers, its data length and its number
// of chunks; ok is false when d does not hold it all or it is malformed.
func chunkedLen(d []byte) (n int, data int64, chunks int, ok bool) {
	for {
		line, rest, found := bytes.Cut(d[n:], []byte("\n"))
		if !found {
			return 0, 0, 0, false
		}
		size, valid := parseChunkSize(bytes.TrimSuffix(line, []byte("\r")))
		if !valid {
			return 0, 0, 0, false
		}
		n += len(line) + 1
		if size == 0 {
			break
		}
		// the data and its CRLF
		if int64(len(rest)) < size+1 {
			return 0, 0, 0, false
		}
		end := rest[size:]
		switch {
		case bytes.HasPrefix(end, []byte("\r\n")):
			n += int(size) + 2
		case bytes.HasPrefix(end, []byte("\n")):
			n += int(size) + 1
		default:
			return 0, 0, 0, false
		}
		data += size
		chunks++
	}
	// trailers, up to the empty line
	for {
		line, _, found := bytes.Cut(d[n:], []byte("\n"))
		if !found {
			return 0, 0, 0, false
		}
		n += len(line) + 1
		if len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
			return n, data, chunks, true
		}
	}
}

// writeReplayBody sends the buffered request body to sc without taking
// it from the client buffer, so that a retry can send it again.
func (s *session) writeReplayBody(sc *srvConn) error {
	d := s.in.data()[:s.replayLen]
	if !s.req.chunked {
		_, err := sc.out.Write(d)
		return err
	}
	v := &s.replayView
	v.buf, v.r, v.w, v.c, v.err = d, 0, len(d), nil, nil
	var err error
	s.scratch, err = copyChunkedRaw(sc.out, v, s.scratch)
	v.buf = nil
	return err
}

// endReplay drops the kept request body from the client buffer, once no
// retry can send it again.
func (s *session) endReplay() {
	if s.replay {
		s.in.discard(s.replayLen)
		s.replay, s.replayLen = false, 0
	}
}

// retryL7 reports whether how an exchange ended (st) calls for sending
// the request again: "retry-on" names the case, the request was kept,
// and retries are left.
func (s *session) retryL7(be *rules.Backend, st fwdStatus) bool {
	if !s.replay || s.retries >= be.Retries {
		return false
	}
	var want rules.RetryOn
	switch st {
	case fwdEmpty:
		want = rules.RetryEmptyResponse
	case fwdJunk:
		want = rules.RetryJunkResponse
	case fwd504:
		want = rules.RetryResponseTimeout
	case fwdHead:
		want = rules.RetryStatus(s.resp.status)
	}
	return want != 0 && be.RetryOn&want != 0
}

// retryTarget returns the server retry number s.retries goes to after
// srv failed, as haproxy's stream_choose_redispatch: with "option
// redispatch" and no force-persist, another server when srv is no
// longer usable, on the redispatch turn (by default the last retry), or
// at once when the request's cookie did not choose the server, more
// than one active server is usable and the balancing does not hash;
// else srv. moved reports a redispatch (its pick may still be srv:
// "balance source" hashes to the same server again, as haproxy's
// map-based hash does); the cookie no longer counts for the request.
func (s *session) retryTarget(bs *backendState, srv *serverState) (next *serverState, moved bool) {
	be := bs.cfg
	if !be.Options.Redispatch || s.ck.force {
		return srv, false
	}
	after, k := be.Options.RedispatchAfter, s.retries
	if after == 0 {
		after = -1
	}
	turn := false
	if after > 0 {
		turn = k%after == 0
	} else if m := be.Retries + 1 + after; m > 0 {
		turn = (be.Retries-k)%m == 0
	}
	if srv.usable() && !turn && (s.ck.direct || be.Balance.Hashed() || bs.activeUsable() <= 1) {
		return srv, false
	}
	s.ck.direct = false
	// A hashing balancer gets srv to avoid as haproxy's: the map-based
	// table ignores it for a keyed request, the consistent ring moves on.
	if o := bs.pick(s.lbKey, srv); o != nil {
		return o, true
	}
	return srv, true
}

// activeUsable is haproxy's srv_act: the usable active servers.
func (b *backendState) activeUsable() int {
	act, _ := b.counts()
	return act
}
