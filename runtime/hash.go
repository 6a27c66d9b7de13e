package runtime

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"gohap/runtime/rules"
)

// This file computes the keys of the hashing algorithms (balance source,
// uri, url_param, hdr) the way haproxy 2.6 does, so that a key reaches the
// same server as it does through haproxy.

// lbKey is a request's hashing key, computed once before the pick.
type lbKey struct {
	hash uint32
	// ok is false when the request has no key (no such parameter or
	// header): haproxy then falls back to round robin.
	ok bool
	// one: with a single usable server haproxy skips the key and looks
	// up 0 (set when its lookup function ran, except for url_param).
	one bool
}

// fullHash is haproxy's full_hash: Bob Jenkins' 32-bit integer
// avalanche, then a multiplication spreading values over the tree.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

func hashSDBM(b []byte) uint32 {
	var h uint32
	for _, c := range b {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

func hashDJB2(b []byte) uint32 {
	h := uint32(5381)
	for _, c := range b {
		h = (h << 5) + h + uint32(c)
	}
	return h
}

// hashWT6 is the function haproxy's author designed for it: two words
// rotated by amounts that depend on the data.
func hashWT6(b []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := uint32(6), uint32(18)
	for _, c := range b {
		t := uint32(c)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		t = h1<<step0 | h1>>(32-step0)
		h1 = h0<<step1 | h0>>(32-step1)
		h0 = t
		t = (h0>>16 ^ h1) & 0xffff
		step0, step1 = t&0x1f, t>>11
	}
	return h0 ^ h1
}

// hashKey hashes b with the backend's function and modifier (gen_hash).
func hashKey(h *rules.Hash, b []byte) uint32 {
	var v uint32
	switch h.Func {
	case rules.HashDJB2:
		v = hashDJB2(b)
	case rules.HashWT6:
		v = hashWT6(b)
	case rules.HashCRC32:
		v = crc32.ChecksumIEEE(b)
	default:
		v = hashSDBM(b)
	}
	if h.Avalanche {
		v = fullHash(v)
	}
	return v
}

// sourceKey is the key of "balance source": the address's 32-bit words
// XORed (an IPv4 address is its one word), avalanched only with the
// "avalanche" modifier; the hash function is not used.
func sourceKey(h *rules.Hash, addr []byte) lbKey {
	var v uint32
	for len(addr) >= 4 {
		v ^= binary.BigEndian.Uint32(addr)
		addr = addr[4:]
	}
	if h.Avalanche {
		v = fullHash(v)
	}
	return lbKey{hash: v, ok: true, one: true}
}

// uriKey is the key of "balance uri": the URI up to '?' (all of it with
// "whole"), at most len bytes, and up to the slash that ends depth
// directories; "path-only" starts at the path of an absolute URI.
func uriKey(h *rules.Hash, uri []byte) lbKey {
	if h.URIPathOnly {
		uri = uriPath(uri)
	}
	if h.URILen > 0 && len(uri) > h.URILen {
		uri = uri[:h.URILen]
	}
	end, slashes := 0, 0
	for ; end < len(uri); end++ {
		c := uri[end]
		if c == '/' {
			slashes++
			if h.URIDepth > 0 && slashes == h.URIDepth+1 {
				break
			}
		} else if c == '?' && !h.URIWhole {
			break
		}
	}
	return lbKey{hash: hashKey(h, uri[:end]), ok: true, one: true}
}

// uriPath returns the part of uri from the first slash of its path, as
// haproxy's http_get_path: empty for "*", for an authority alone, or for
// a scheme not followed by "://".
func uriPath(uri []byte) []byte {
	if len(uri) == 0 || uri[0] == '*' {
		return nil
	}
	i := 0
	if isAlpha(uri[0]) {
		i = 1
		for i < len(uri) && (isAlpha(uri[i]) || uri[i] >= '0' && uri[i] <= '9' || uri[i] == '+' || uri[i] == '-' || uri[i] == '.') {
			i++
		}
		if !bytes.HasPrefix(uri[i:], []byte("://")) {
			return nil
		}
		i += 3
	}
	j := bytes.IndexByte(uri[i:], '/')
	if j < 0 {
		return nil
	}
	return uri[i+j:]
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// paramKey is the key of "balance url_param NAME": the value of the
// first NAME=value of the query string (the name compared with case),
// possibly empty. No '?' or no such parameter: no key.
func paramKey(h *rules.Hash, uri []byte) lbKey {
	q := bytes.IndexByte(uri, '?')
	if q < 0 {
		return lbKey{}
	}
	name := h.Param
	for p := uri[q+1:]; len(p) > len(name); {
		if p[len(name)] == '=' && bytes.Equal(p[:len(name)], name) {
			v := p[len(name)+1:]
			if i := bytes.IndexByte(v, '&'); i >= 0 {
				v = v[:i]
			}
			return lbKey{hash: hashKey(h, v), ok: true}
		}
		i := bytes.IndexByte(p, '&')
		if i < 0 {
			break
		}
		p = p[i+1:]
	}
	return lbKey{}
}

// hdrKey is the key of "balance hdr(NAME)": the first comma-separated
// value of the first NAME header; with "use_domain_only", only the label
// before the last dot of that value. An absent or empty value: no key.
func hdrKey(h *rules.Hash, hdrs []rules.Header) lbKey {
	var v []byte
	found := false
	for i := range hdrs {
		if bytes.EqualFold(hdrs[i].Name, h.Header) {
			v, found = hdrs[i].Value, true
			break
		}
	}
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = bytes.Trim(v, " \t")
	if !found || len(v) == 0 {
		return lbKey{}
	}
	if h.DomainOnly {
		v = mainDomain(v)
	}
	return lbKey{hash: hashKey(h, v), ok: true}
}

// mainDomain returns the label of v before its last dot ("1wt" of
// "haproxy.1wt.eu"), walking back as haproxy does: without a dot, or
// with one at the very end, what it keeps differs in haproxy's own way.
func mainDomain(v []byte) []byte {
	// haproxy scans from one past the end down to index 1 looking for
	// the last dot (end), then back to the dot before it (start).
	end, dohash := len(v), false
	p := len(v)
	for n := len(v); n > 0; n-- {
		if dohash {
			if v[p-1] == '.' {
				break
			}
		} else if p < len(v) && v[p] == '.' {
			end, dohash = p, true
		}
		p--
	}
	return v[p:end]
}
