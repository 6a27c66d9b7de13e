package rules

import "encoding/binary"

var payloadFetches = []Fetch{
	{Name: "req.ssl_sni", Out: TypeStr, New: newConst(fetchSSLSNI{})},
	{Name: "req_ssl_sni", Out: TypeStr, New: newConst(fetchSSLSNI{})},
	{Name: "req.ssl_hello_type", Out: TypeInt, New: newConst(fetchHelloType{})},
	{Name: "req_ssl_hello_type", Out: TypeInt, New: newConst(fetchHelloType{})},
	{Name: "req.ssl_alpn", Out: TypeStr, New: newConst(fetchSSLALPN{})},
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
	ext := helloExtension(t.Payload, 0) // server_name
	if len(ext) < 5 || ext[2] != 0 {
		return false
	}
	l := int(binary.BigEndian.Uint16(ext[3:]))
	if len(ext) < 5+l {
		return false
	}
	s.Type, s.Str = TypeStr, ext[5:5+l]
	return true
}

// fetchSSLALPN yields each protocol of the ClientHello's ALPN extension
// (req.ssl_alpn): an ACL matches when any of them does.
type fetchSSLALPN struct{}

func (fetchSSLALPN) Fetch(t *Txn, s *Sample) bool {
	ext := helloExtension(t.Payload, 16) // application_layer_protocol_negotiation
	if len(ext) < 2 {
		return false
	}
	list := ext[2:min(len(ext), 2+int(binary.BigEndian.Uint16(ext)))]
	for i := 0; len(list) > 0; i++ { // s.ctx: the protocol to return
		n := int(list[0])
		if len(list) < 1+n {
			return false
		}
		if i == s.ctx {
			s.Type, s.Str = TypeStr, list[1:1+n]
			s.ctx++
			s.More = len(list) > 1+n
			return true
		}
		list = list[1+n:]
	}
	return false
}

// helloExtension returns the data of extension typ of the ClientHello
// record at the start of p, or nil.
func helloExtension(p []byte, typ uint16) []byte {
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
		t, n := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+n {
			return nil
		}
		if t == typ {
			return p[4 : 4+n]
		}
		p = p[4+n:]
	}
	return nil
}
