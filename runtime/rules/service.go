package rules

import (
	"context"
	"errors"
	"io"
	"log"
)

// Service answers a request, or talks to a client, in place of a backend:
// what "http-request use-service" and "tcp-request content use-service"
// name. A Lua script registers services (core.register_service);
// BuiltinService stands for haproxy's own.
type Service interface {
	// ServeHTTP answers the request of t through a. It runs on the
	// connection's goroutine and may block on a. An error returned
	// before a.WriteHead was called gets the client a 500; after it, the
	// connection is closed.
	ServeHTTP(t *Txn, a HTTPApplet) error
	// ServeTCP talks to the client of a mode tcp connection over c,
	// which starts with the bytes the content rules inspected. The
	// connection is closed when it returns.
	ServeTCP(t *Txn, c io.ReadWriter) error
}

// HTTPApplet is the client side of a request a Service answers; the
// runtime implements it for one request at a time.
type HTTPApplet interface {
	// Read reads the request body, without its transfer coding; it
	// returns io.EOF at the end of the body.
	Read(p []byte) (int, error)
	// WriteHead sends the response status and headers; reason "" stands
	// for the standard reason of status. Without a content-length among
	// hdrs the body is sent chunked. http-response rules run on the head
	// first, as on a server's response.
	WriteHead(status int, reason string, hdrs []Header) error
	// Write sends body bytes, after WriteHead.
	Write(p []byte) (int, error)
}

// ServiceAction is "use-service NAME": the rule list stops and the service
// answers (Verdict Answer with Txn.Service set).
type ServiceAction struct{ Service Service }

// Exec hands the request to the service.
func (a ServiceAction) Exec(t *Txn) Verdict {
	t.Service = a.Service
	return Answer
}

// BuiltinService is a service haproxy itself provides, such as
// "prometheus-exporter". The runtime recognises it by Name before it
// calls ServeHTTP, because what it answers is the runtime's own live
// state; its methods only fail.
type BuiltinService struct{ Name string }

var _ Service = BuiltinService{}

// BuiltinServices are the names of the built-in services gohap runs; all
// of them answer HTTP requests.
var BuiltinServices = map[string]bool{"prometheus-exporter": true}

var errBuiltin = errors.New("built-in service served outside the runtime")

// ServeHTTP fails: the runtime serves a built-in service itself.
func (BuiltinService) ServeHTTP(*Txn, HTTPApplet) error { return errBuiltin }

// ServeTCP fails: built-in services answer HTTP requests only.
func (BuiltinService) ServeTCP(*Txn, io.ReadWriter) error { return errBuiltin }

// Extension is live machinery a configuration brings along, such as the
// tasks of its Lua scripts: the runtime starts it once before serving and
// stops it when the engine closes.
type Extension interface {
	// Start runs what must run once before the first connection (Lua's
	// register_init functions) and, with tasks, starts background work
	// (register_task) that lasts until ctx is done: of several worker
	// processes only the leader runs it, as haproxy runs a task once.
	// It logs to log; state is the live state of the graph's servers.
	Start(ctx context.Context, log *log.Logger, state StateView, tasks bool) error
	// Wait returns once the background work started by Start ended.
	Wait()
}
