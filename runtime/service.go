package runtime

import "gohap/runtime/rules"

// builtins are the built-in services (rules.BuiltinService), by name;
// each answers the current request and reports whether the connection
// stays open.
var builtins = map[string]func(s *session, gen *generation, fe *rules.Frontend, be *rules.Backend) bool{
	"prometheus-exporter": (*session).servePromex,
}

// serveBuiltin answers the request with the built-in service svc.
func (s *session) serveBuiltin(gen *generation, svc rules.BuiltinService, fe *rules.Frontend, be *rules.Backend) bool {
	if run := builtins[svc.Name]; run != nil {
		return run(s, gen, fe, be)
	}
	return s.reply(rules.Lookup(503, fe.Errors), fe, be)
}
