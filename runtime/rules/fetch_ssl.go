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
