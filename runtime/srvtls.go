package runtime

import (
	"crypto/tls"
	"sync"

	"gohap/runtime/rules"
)

// sniConfigs caches a server's TLS configuration for each name its "sni"
// expression gave, so that a connection does not clone one. Safe for
// concurrent use.
type sniConfigs struct {
	mu sync.Mutex
	m  map[string]*tls.Config // guarded by mu
}

// maxSNIConfigs bounds the cache: past it, names get a clone each.
const maxSNIConfigs = 256

// tlsFor returns the client configuration for a connection to srv that
// sends name (nil: srv's own configuration, naming no server).
func (ss *serverState) tlsFor(name []byte) *tls.Config {
	base := ss.cfg.TLS
	if len(name) == 0 || ss.cfg.SNI == nil {
		return base
	}
	c := &ss.sni
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.m[string(name)]; ok {
		return cfg
	}
	cfg := base.Clone()
	cfg.ServerName = string(name)
	if ss.cfg.SNIVerify {
		// The chain and the name are verified, as with a fixed sni.
		cfg.InsecureSkipVerify, cfg.VerifyPeerCertificate = false, nil
	}
	if len(c.m) < maxSNIConfigs {
		if c.m == nil {
			c.m = map[string]*tls.Config{}
		}
		c.m[cfg.ServerName] = cfg
	}
	return cfg
}

// sniFor evaluates srv's sni expression for the current request (or
// connection, in mode tcp) into the session's buffer; nil when srv has
// none. Valid until the next call.
func (s *session) sniFor(srv *rules.Server) []byte {
	if srv.SNI == nil || srv.TLS == nil {
		return nil
	}
	s.srvSNI = srv.SNI.Append(&s.txn, s.srvSNI[:0])
	return s.srvSNI
}
