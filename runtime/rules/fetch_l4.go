package rules

import "encoding/binary"

var payloadFetches = []Fetch{
	{Name: "req.ssl_sni", Out: TypeStr, New: newConst(fetchSSLSNI{})},
	{Name: "req_ssl_sni", Out: TypeStr, New: newConst(fetchSSLSNI{})},
	{Name: "req.ssl_hello_type", Out: TypeInt, New: newConst(fetchHelloType{})},
	{Name: "req_ssl_hello_type", Out: TypeInt, New: newConst(fetchHelloType{})},
	{Name: "req.len", Out: TypeInt, New: newConst(fetchReqLen{})},
	{Name: "req_len", Out: TypeInt, New: newConst(fetchReqLen{})},
}

func init() { registerFetches(payloadFetches) }

// HelloComplete reports whether p holds a whole TLS record, the first of
// a handshake: what the content rules of a TLS frontend wait for.
func HelloComplete(p []byte) bool {
	return len(p) >= 5 && len(p) >= 5+int(binary.BigEndian.Uint16(p[3:5]))
}

// fetchHelloType is the type of the first TLS handshake message in the
// client's first bytes (1: ClientHello).
type fetchHelloType struct{}

func (fetchHelloType) Fetch(t *Txn, s *Sample) bool {
	p := t.Payload
	if len(p) < 6 || p[0] != 0x16 || !HelloComplete(p) {
		return false
	}
	s.Type, s.Int = TypeInt, int64(p[5])
	return true
}

type fetchReqLen struct{}

func (fetchReqLen) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(len(t.Payload))
	return true
}

// fetchSSLSNI is the server name of the ClientHello in the client's
// first bytes, read without terminating TLS (TLS passthrough routing).
type fetchSSLSNI struct{}

func (fetchSSLSNI) Fetch(t *Txn, s *Sample) bool {
	name := clientHelloSNI(t.Payload)
	s.Type, s.Str = TypeStr, name
	return name != nil
}

// clientHelloSNI walks a ClientHello record to its server_name extension.
func clientHelloSNI(p []byte) []byte {
	if len(p) < 9 || p[0] != 0x16 || p[5] != 1 || !HelloComplete(p) {
		return nil
	}
	p = p[5+4 : 5+int(binary.BigEndian.Uint16(p[3:5]))] // the ClientHello body
	skip := func(n int) bool {
		if len(p) < n {
			return false
		}
		p = p[n:]
		return true
	}
	vec := func(lenBytes int) bool { // skip a length-prefixed vector
		if len(p) < lenBytes {
			return false
		}
		n := int(p[0])
		if lenBytes == 2 {
			n = int(binary.BigEndian.Uint16(p))
		}
		return skip(lenBytes + n)
	}
	if !skip(2+32) || !vec(1) || !vec(2) || !vec(1) || len(p) < 2 {
		return nil
	}
	p = p[2:] // extensions length
	for len(p) >= 4 {
		typ, n := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+n {
			return nil
		}
		ext := p[4 : 4+n]
		p = p[4+n:]
		if typ != 0 || len(ext) < 5 || ext[2] != 0 {
			continue
		}
		l := int(binary.BigEndian.Uint16(ext[3:]))
		if len(ext) < 5+l {
			return nil
		}
		return ext[5 : 5+l]
	}
	return nil
}
