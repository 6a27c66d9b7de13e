package rules

// Service is a named responder that "http-request use-service NAME"
// hands a request to, instead of a backend's servers: haproxy's
// "prometheus-exporter", or a Lua service ("lua.NAME"). The runtime
// implements services by name.
type Service struct {
	Name string
}

// UseServiceAction is "http-request use-service NAME": the rules stop
// and the request is answered by the service.
type UseServiceAction struct{ Service *Service }

// Exec hands the request to the service.
func (a UseServiceAction) Exec(t *Txn) Verdict {
	t.Service = a.Service
	return Answer
}

// Services lists the service names gohap runs, for the compile step.
var Services = map[string]bool{"prometheus-exporter": true}
