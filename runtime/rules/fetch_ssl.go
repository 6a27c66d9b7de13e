package rules

// fetchSSLFc is ssl_fc: whether the client connection is TLS.
type fetchSSLFc struct{}

func (fetchSSLFc) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeBool, 0
	if t.TLS {
		s.Int = 1
	}
	return true
}

// fetchSSLFcSNI is ssl_fc_sni: the server name of the TLS handshake.
type fetchSSLFcSNI struct{}

func (fetchSSLFcSNI) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Str = TypeStr, t.SNI
	return len(t.SNI) > 0
}

func init() {
	registerFetches([]Fetch{
		{Name: "ssl_fc", Out: TypeBool, New: newConst(fetchSSLFc{})},
		{Name: "ssl_fc_sni", Out: TypeStr, New: newConst(fetchSSLFcSNI{})},
	})
}

// fetchTLSErr is fc_err, ssl_fc_err, ssl_c_err and ssl_c_ca_err: gohap
// logs only connections whose handshake worked, so the error is 0; the
// ssl_ ones yield nothing on a clear connection (tlsOnly).
type fetchTLSErr struct{ tlsOnly bool }

func (f fetchTLSErr) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, 0
	return t.TLS || !f.tlsOnly
}

// fetchSSLFcIsResumed is ssl_fc_is_resumed: gohap's TLS sessions are not
// resumed from a cache, so it is false.
type fetchSSLFcIsResumed struct{}

func (fetchSSLFcIsResumed) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeBool, 0
	return true
}

func init() {
	registerFetches([]Fetch{
		{Name: "fc_err", Out: TypeInt, New: newConst(fetchTLSErr{})},
		{Name: "ssl_fc_err", Out: TypeInt, New: newConst(fetchTLSErr{tlsOnly: true})},
		{Name: "ssl_c_err", Out: TypeInt, New: newConst(fetchTLSErr{tlsOnly: true})},
		{Name: "ssl_c_ca_err", Out: TypeInt, New: newConst(fetchTLSErr{tlsOnly: true})},
		{Name: "ssl_fc_is_resumed", Out: TypeBool, New: newConst(fetchSSLFcIsResumed{})},
	})
}
