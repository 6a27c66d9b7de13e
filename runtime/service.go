package runtime

import "gohap/runtime/rules"

// services are the responders "http-request use-service NAME" names, by
// name; each answers the current request and reports whether the
// connection stays open.
var services = map[string]func(s *session, gen *generation, fe *rules.Frontend, be *rules.Backend) bool{
	"prometheus-exporter": (*session).servePromex,
}

// serveService answers the request with svc.
func (s *session) serveService(gen *generation, svc *rules.Service, fe *rules.Frontend, be *rules.Backend) bool {
	if run := services[svc.Name]; run != nil {
		return run(s, gen, fe, be)
	}
	return s.reply(rules.Lookup(503, fe.Errors), fe, be)
}
