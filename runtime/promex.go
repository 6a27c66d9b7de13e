package runtime

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gohap/runtime/rules"
)

// promexVersion is the version the exporter's build_info reports: the
// haproxy version gohap behaves as.
const promexVersion = "2.6"

// promScope is one of the exporter's "scope" filters.
type promScope uint8

const (
	scopeGlobal promScope = 1 << iota
	scopeFrontend
	scopeBackend
	scopeServer
	scopeAll = scopeGlobal | scopeFrontend | scopeBackend | scopeServer
)

// promQuery is what the query string of a scrape asks for: the scopes,
// the metrics to keep or drop ("metrics=a,-b"), and "no-maint".
type promQuery struct {
	scopes  promScope
	only    map[string]bool // nil: every metric
	drop    map[string]bool
	noMaint bool
}

func parsePromQuery(q string) promQuery {
	pq := promQuery{scopes: scopeAll}
	seenScope := false
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		v, _ = url.QueryUnescape(v)
		switch k {
		case "scope":
			if !seenScope {
				pq.scopes, seenScope = 0, true
			}
			switch v {
			case "":
				pq.scopes = 0
			case "*":
				pq.scopes = scopeAll
			case "global":
				pq.scopes |= scopeGlobal
			case "frontend":
				pq.scopes |= scopeFrontend
			case "backend":
				pq.scopes |= scopeBackend
			case "server":
				pq.scopes |= scopeServer
			}
		case "metrics":
			for _, m := range strings.Split(v, ",") {
				switch {
				case strings.HasPrefix(m, "-"):
					if pq.drop == nil {
						pq.drop = map[string]bool{}
					}
					pq.drop[m[1:]] = true
				case m != "":
					if pq.only == nil {
						pq.only = map[string]bool{}
					}
					pq.only[m] = true
				}
			}
		case "no-maint":
			pq.noMaint = true
		}
	}
	return pq
}

// promWriter writes metric families in Prometheus' text format.
type promWriter struct {
	b bytes.Buffer
	q promQuery
}

// family starts metric name; it reports false when the query leaves it
// out, and the caller then writes no sample.
func (w *promWriter) family(name, typ, help string) bool {
	if w.q.drop[name] || (w.q.only != nil && !w.q.only[name]) {
		return false
	}
	w.b.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
	return true
}

// sample writes one value with labels given as name, value pairs.
func (w *promWriter) sample(name string, v int64, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i] + "=\"" + promEscape(labels[i+1]) + "\"")
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatInt(v, 10))
	w.b.WriteByte('\n')
}

// promEscape escapes a label value: backslash, double quote, newline.
func promEscape(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", "\\n").Replace(s)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// servePromex is haproxy's "prometheus-exporter" service: the process,
// frontend, backend and server metrics gohap keeps, with haproxy's names
// and labels, in the text exposition format.
func (s *session) servePromex(gen *generation, fe *rules.Frontend, be *rules.Backend) bool {
	_, query, _ := strings.Cut(string(s.txn.Req.URI), "?")
	w := &promWriter{q: parsePromQuery(query)}
	if w.q.scopes&scopeGlobal != 0 {
		s.e.promProcess(w, gen)
	}
	if w.q.scopes&scopeFrontend != 0 {
		s.e.promFrontends(w, gen)
	}
	if w.q.scopes&scopeBackend != 0 {
		promBackends(w, gen)
	}
	if w.q.scopes&scopeServer != 0 {
		promServers(w, gen)
	}
	body := w.b.Bytes()
	raw := []byte("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\ntransfer-encoding: chunked\r\n\r\n")
	head := len(raw)
	if len(body) > 0 {
		raw = appendHex(raw, int64(len(body)))
		raw = append(append(append(raw, "\r\n"...), body...), "\r\n"...)
	}
	raw = append(raw, "0\r\n\r\n"...)
	return s.reply(&rules.Reply{Status: 200, Raw: raw, HeadLen: head}, fe, be)
}

// promProcess writes the global scope.
func (e *Engine) promProcess(w *promWriter, gen *generation) {
	var cur, conns, reqs int64
	for _, c := range gen.frontends {
		cur += c.cur.Load() + c.idle.Load()
		conns += c.sessions.Load()
		reqs += c.requests.Load()
	}
	for _, m := range []struct {
		name, typ, help string
		v               int64
	}{
		{"haproxy_process_nbthread", "gauge", "Threads running the proxy (GOMAXPROCS, or worker processes)", int64(e.workers.threads())},
		{"haproxy_process_nbproc", "gauge", "Worker processes (always 1)", 1},
		{"haproxy_process_relative_process_id", "gauge", "This worker's number (always 1)", 1},
		{"haproxy_process_uptime_seconds", "gauge", "Seconds since the configuration started", int64(time.Since(gen.start) / time.Second)},
		{"haproxy_process_max_connections", "gauge", "Process connection limit (global maxconn; 0: none)", int64(gen.g.Global.MaxConn)},
		{"haproxy_process_current_connections", "gauge", "Client connections open now", cur},
		{"haproxy_process_connections_total", "counter", "Client connections accepted", conns},
		{"haproxy_process_requests_total", "counter", "HTTP requests received", reqs},
		{"haproxy_process_stopping", "gauge", "1 while the process stops", 0},
		{"haproxy_process_start_time_seconds", "gauge", "Unix time the configuration started", gen.start.Unix()},
	} {
		if w.family(m.name, m.typ, m.help) {
			w.sample(m.name, m.v)
		}
	}
	if w.family("haproxy_process_build_info", "gauge", "Build information; the version label is the haproxy version gohap follows") {
		w.sample("haproxy_process_build_info", 1, "version", promexVersion)
	}
}

// frontendConns counts the open client connections of each of gen's
// frontends, by index: those being served and those parked idle, by
// every worker process that serves gen. A connection counts in the
// generation it last served a request or was parked idle under: those
// an earlier configuration still holds (a tcp session, a connection
// idle since, a follower the reload retired) count in that one's, as
// haproxy's old process keeps its own after a reload.
func frontendConns(gen *generation) []int64 {
	cur := make([]int64, len(gen.frontends))
	for i, c := range gen.frontends {
		cur[i] = c.cur.Load() + c.idle.Load()
	}
	return cur
}

// promFrontends writes the frontend scope.
func (e *Engine) promFrontends(w *promWriter, gen *generation) {
	fes := gen.g.Frontends
	cur := frontendConns(gen)
	gauge := func(name, help string, v func(i int, fe *rules.Frontend) int64) {
		if !w.family(name, "gauge", help) {
			return
		}
		for i, fe := range fes {
			w.sample(name, v(i, fe), "proxy", fe.Name)
		}
	}
	counter := func(name, help string, v func(c *counters) int64) {
		if !w.family(name, "counter", help) {
			return
		}
		for i, fe := range fes {
			w.sample(name, v(gen.frontends[i]), "proxy", fe.Name)
		}
	}
	gauge("haproxy_frontend_current_sessions", "Client connections open now", func(i int, _ *rules.Frontend) int64 { return cur[i] })
	gauge("haproxy_frontend_limit_sessions", "Connection limit (maxconn; 0: none)", func(_ int, fe *rules.Frontend) int64 {
		if fe.MaxConn > 0 {
			return int64(fe.MaxConn)
		}
		return int64(gen.g.Global.MaxConn)
	})
	counter("haproxy_frontend_sessions_total", "Client connections accepted", func(c *counters) int64 { return c.sessions.Load() })
	if w.family("haproxy_frontend_status", "gauge", "Frontend state, one sample per state") {
		for _, fe := range fes {
			w.sample("haproxy_frontend_status", 0, "proxy", fe.Name, "state", "DOWN")
			w.sample("haproxy_frontend_status", 1, "proxy", fe.Name, "state", "UP")
		}
	}
	if w.family("haproxy_frontend_http_responses_total", "counter", "HTTP responses by status class") {
		for k, cl := range respClasses { // haproxy writes each code for every proxy in turn
			for i, fe := range fes {
				if fe.Mode == rules.ModeHTTP {
					w.sample("haproxy_frontend_http_responses_total", gen.frontends[i].resp[k].Load(), "proxy", fe.Name, "code", cl)
				}
			}
		}
	}
	counter("haproxy_frontend_http_requests_total", "HTTP requests received", func(c *counters) int64 { return c.requests.Load() })
	counter("haproxy_frontend_connections_total", "Client connections accepted", func(c *counters) int64 { return c.sessions.Load() })
}

// promBackends writes the backend scope.
func promBackends(w *promWriter, gen *generation) {
	each := func(name, typ, help string, v func(bs *backendState) int64) {
		if !w.family(name, typ, help) {
			return
		}
		for _, bs := range gen.backends {
			w.sample(name, v(bs), "proxy", bs.cfg.Name)
		}
	}
	each("haproxy_backend_current_queue", "gauge", "Requests waiting for a server", func(bs *backendState) int64 { return bs.queued.Load() })
	each("haproxy_backend_current_sessions", "gauge", "Requests being served by the backend's servers", func(bs *backendState) int64 {
		var n int64
		for _, ss := range bs.servers {
			n += ss.cur.Load()
		}
		return n
	})
	each("haproxy_backend_sessions_total", "counter", "Requests given to the backend", func(bs *backendState) int64 { return bs.ctr.sessions.Load() })
	if w.family("haproxy_backend_status", "gauge", "Backend state, one sample per state") {
		for _, bs := range gen.backends {
			up := bs.usable() > 0 || len(bs.servers) == 0
			w.sample("haproxy_backend_status", b2i(!up), "proxy", bs.cfg.Name, "state", "DOWN")
			w.sample("haproxy_backend_status", b2i(up), "proxy", bs.cfg.Name, "state", "UP")
		}
	}
	each("haproxy_backend_weight", "gauge", "Total weight of the servers taking traffic", func(bs *backendState) int64 {
		act, _ := bs.counts()
		var n int64
		for _, ss := range bs.servers {
			if ss.usable() && ss.cfg.Backup == (act == 0) {
				n += int64(ss.weight.Load())
			}
		}
		return n
	})
	each("haproxy_backend_active_servers", "gauge", "Active servers up with a weight", func(bs *backendState) int64 { a, _ := bs.counts(); return int64(a) })
	each("haproxy_backend_backup_servers", "gauge", "Backup servers up with a weight", func(bs *backendState) int64 { _, b := bs.counts(); return int64(b) })
	if w.family("haproxy_backend_http_responses_total", "counter", "HTTP responses by status class") {
		for k, cl := range respClasses {
			for _, bs := range gen.backends {
				if bs.cfg.Mode == rules.ModeHTTP {
					w.sample("haproxy_backend_http_responses_total", bs.ctr.resp[k].Load(), "proxy", bs.cfg.Name, "code", cl)
				}
			}
		}
	}
	each("haproxy_backend_http_requests_total", "counter", "HTTP requests given to the backend", func(bs *backendState) int64 { return bs.ctr.requests.Load() })
}

// serverState names haproxy's server states, in the exporter's order.
var serverStates = [...]string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}

// promState is the exporter's state of ss: an index in serverStates.
func promState(ss *serverState) int {
	switch {
	case ss.adminState() == AdminMaint || ss.live.Load().none:
		return 2
	case !ss.up.Load():
		return 0
	case ss.nolb.Load():
		return 4
	case ss.weight.Load() == 0 || ss.adminState() == AdminDrain:
		return 3
	}
	return 1
}

// promServers writes the server scope; "no-maint" leaves servers in
// maintenance out.
func promServers(w *promWriter, gen *generation) {
	each := func(name, typ, help string, v func(ss *serverState) int64) {
		if !w.family(name, typ, help) {
			return
		}
		for _, bs := range gen.backends {
			for _, ss := range bs.servers {
				if w.q.noMaint && promState(ss) == 2 {
					continue
				}
				w.sample(name, v(ss), "proxy", bs.cfg.Name, "server", ss.cfg.Name)
			}
		}
	}
	each("haproxy_server_current_sessions", "gauge", "Requests the server is serving now", func(ss *serverState) int64 { return ss.cur.Load() })
	each("haproxy_server_sessions_total", "counter", "Requests given to the server", func(ss *serverState) int64 { return ss.ctr.sessions.Load() })
	if w.family("haproxy_server_status", "gauge", "Server state, one sample per state") {
		for _, bs := range gen.backends {
			for _, ss := range bs.servers {
				st := promState(ss)
				if w.q.noMaint && st == 2 {
					continue
				}
				for k, name := range serverStates {
					w.sample("haproxy_server_status", b2i(k == st), "proxy", bs.cfg.Name, "server", ss.cfg.Name, "state", name)
				}
			}
		}
	}
	each("haproxy_server_weight", "gauge", "The server's effective weight", func(ss *serverState) int64 { return int64(ss.weight.Load()) })
	if w.family("haproxy_server_http_responses_total", "counter", "HTTP responses by status class") {
		for k, cl := range respClasses {
			for _, bs := range gen.backends {
				if bs.cfg.Mode != rules.ModeHTTP {
					continue
				}
				for _, ss := range bs.servers {
					if !w.q.noMaint || promState(ss) != 2 {
						w.sample("haproxy_server_http_responses_total", ss.ctr.resp[k].Load(), "proxy", bs.cfg.Name, "server", ss.cfg.Name, "code", cl)
					}
				}
			}
		}
	}
	each("haproxy_server_uweight", "gauge", "The server's configured weight", func(ss *serverState) int64 { return int64(ss.cfg.Weight) })
}
