package parser

import (
	"fmt"
	"sort"
	"strings"

	"gohap/runtime/rules"
)

// statementKeywords are the keywords with their own grammar production,
// described for the README next to the table-driven ones.
var statementKeywords = []struct{ name, where, note string }{
	{"acl", "frontend, backend, listen", "fetches: " + strings.Join(sortedFetches(), ", ") + "; sticky counters (see stick-table): sc_*(N), sc0_* to sc2_*, src_*, table_cnt; converters: " + strings.Join(rules.ConvNames(), ", ") + "; flags -i -m -f --"},
	{"acl variable", "frontend, backend, listen", "gohap extension: runtime variable in shared memory, set with gohap -S"},
	{"bind", "frontend, listen", "ADDR:PORT lists, *:PORT, :PORT, port ranges, ipv4@, ipv6@, unix@, abns@, fd@N; ssl crt, crt-list (SNI filters with ! and wildcards, [options]), alpn, ssl-min-ver, ssl-max-ver, no-tlsv1x, ca-file, verify, accept-proxy"},
	{"http-request", "frontend, backend, listen", "actions: allow, auth [realm], redirect, deny [deny_status] and return [status] with the options of http-error (content-type, string, lf-string, file, lf-file, errorfile, errorfiles, default-errorfiles, hdr), set-header, add-header, del-header, replace-header, set-path, set-query, set-uri, replace-path, replace-uri, set-method, set-var(SCOPE.NAME[,COND...]) EXPR, set-var-fmt, unset-var (scopes proc, sess, txn, req, res), track-sc0..2 [table], sc-inc-gpc0(N), sc-inc-gpc1(N), sc-set-gpt0(N), silent-drop, use-service prometheus-exporter, use-service lua.NAME, lua.NAME [args]"},
	{"http-response", "frontend, backend, listen", "actions: allow, set-header, add-header, del-header, replace-header, replace-value, set-status [reason], set-var, set-var-fmt, unset-var, lua.NAME [args]; backend rules run before frontend rules; fetches status, res.hdr, res.fhdr, res.hdr_cnt"},
	{"http-after-response", "frontend, backend, listen", "actions: allow, set-header, add-header, del-header, replace-header, replace-value, set-status [reason], set-var, set-var-fmt, unset-var; run on every response sent (the server's, services', and gohap's own: deny, return, redirects, auth, monitor-uri, stats, 502/503/504), after the http-response rules, backend rules first; not on the 400 and 408 pages of the HTTP/1 layer, as in haproxy"},
	{"tcp-request", "frontend, backend, listen", "inspect-delay; connection, session and content rules: accept, reject (a reset), silent-drop, set-var, set-var-fmt, unset-var, track-sc0..2 [table], sc-inc-gpc0(N), sc-inc-gpc1(N), sc-set-gpt0(N); content rules see req.ssl_sni, req.ssl_alpn, req.ssl_hello_type, req.len in mode tcp (TLS passthrough routing), the request head in mode http; content lua.NAME [args], content use-service lua.NAME (mode tcp)"},
	{"server", "backend, listen", "options: " + strings.Join(append(append(sortedKeys(serverFlags, serverValues), sortedKeys(serverTLSFlags, serverTLSValues)...), sortedKeys(serverDNSValues, map[string]bool{})...), ", ")},
	{"resolvers", "section", "DNS for servers with 'resolvers NAME': nameserver ID IP:PORT (UDP), parse-resolv-conf, resolve_retries, timeout resolve|retry, hold valid|nx|other|refused|timeout|obsolete, accepted_payload_size; host names re-resolved every 'hold valid', SRV names fill server-templates (target, port, weight); a server without an address waits in maintenance"},
	{"userlist", "section", "user NAME password CRYPT-HASH or insecure-password PASS [groups G1,G2], group NAME [users U1,U2]; for http_auth(NAME), http_auth_group(NAME) and http-request auth"},
	{"http-errors", "section", "errorfile CODE FILE lines, used by 'errorfiles NAME [CODE...]' in proxies"},
	{"use_backend", "frontend, listen", "if/unless conditions with !, ||, or, { anonymous ACLs }; log-format names (use_backend be_%[req.hdr(host),lower]): a name that is no backend leads to default_backend"},
}

// sortedFetches lists the fetch names but the sticky counter ones, which
// the note on acl sums up.
func sortedFetches() []string {
	var names []string
	for _, n := range rules.FetchNames() {
		if !rules.IsStickFetch(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func sortedKeys[A, B any](a map[string]A, b map[string]B) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KeywordMarkdown renders the keyword support table of README.md from the
// keyword tables, so the two cannot drift apart.
func KeywordMarkdown() string {
	var b strings.Builder
	b.WriteString("| keyword | where | notes |\n|---|---|---|\n")
	type row struct{ name, where, note string }
	var rows []row
	for _, s := range statementKeywords {
		rows = append(rows, row{s.name, s.where, s.note})
	}
	var warn, unsup []string
	for _, name := range keywordNames() {
		k := keywords[name]
		switch k.class {
		case tuning:
			warn = append(warn, name)
		case unsupported:
			unsup = append(unsup, name)
		default:
			rows = append(rows, row{name, sectionNames(k.where), keywordNotes[name]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.name, r.where, r.note)
	}
	opts := sortedKeys(proxyOptions, map[string]bool{"forwardfor": true, "httpchk": true, "tcp-check": true})
	fmt.Fprintf(&b, "\nOptions run by gohap: %s.\n", codeList(opts))
	var tuneOpts []string
	for o := range tuningOptions {
		tuneOpts = append(tuneOpts, o)
	}
	sort.Strings(tuneOpts)
	fmt.Fprintf(&b, "\nAccepted with a warning, because they only tune HAProxy's internals, logging or management: %s; options %s.\n", codeList(warn), codeList(tuneOpts))
	fmt.Fprintf(&b, "\nSections read and checked, then ignored with a warning saying what gohap does instead: %s.\n", codeList(sortedKeys(sideSections, map[string]bool{})))
	fmt.Fprintf(&b, "\nRejected with `file:line:col: 'keyword' is not supported`, because running without them would change what clients get: %s, every other `option`, the rule family `tcp-response`, and the sections `%s`.\n", codeList(unsup), strings.Join(unsupportedSections(), "`, `"))
	var rem []string
	for k := range removed {
		rem = append(rem, k)
	}
	sort.Strings(rem)
	fmt.Fprintf(&b, "\nRemoved from HAProxy, rejected with the name of their replacement: %s.\n", codeList(rem))
	return b.String()
}

// keywordNotes describe implemented table keywords.
var keywordNotes = map[string]string{
	"setenv":                "NAME VALUE: later lines, .if conditions, later files and env() see it; the gohap process environment is left as it is",
	"presetenv":             "NAME VALUE: as setenv, unless NAME is already set",
	"resetenv":              "[NAME...]: only the names listed stay set",
	"unsetenv":              "NAME...",
	"set-var":               "proc.NAME EXPR: the variable's initial value, set at start and reload only while it is unset (empty), so a value set with gohap -S survives; EXPR uses str, int, bool, env, var(proc.*), always_true/false and converters",
	"set-var-fmt":           "proc.NAME FMT: as set-var, with a log-format string",
	"balance":               "roundrobin, static-rr, leastconn, first, random, random(N); hashed as haproxy 2.6 (same server for the same key): source, uri [whole] [len N] [depth N] [path-only], url_param NAME, hdr(NAME) [use_domain_only]; not rdp-cookie, hash, url_param check_post",
	"hash-type":             "map-based|consistent [sdbm|djb2|wt6|crc32 [avalanche]]: haproxy's weighted map and its ring of weight×16 points per server id",
	"hash-balance-factor":   "bounded load for consistent hashing, as haproxy computes it",
	"default-server":        "same options as server",
	"errorfile":             "raw HTTP response file, re-emitted as HAProxy does",
	"errorloc":              "CODE URL: a 302 redirect instead of the error",
	"errorloc302":           "CODE URL: a 302 redirect instead of the error",
	"errorloc303":           "CODE URL: a 303 redirect instead of the error",
	"maxconn":               "global: process limit; in proxies: warning",
	"rate-limit":            "sessions RATE: new connections a second a frontend accepts, counted as haproxy's freq_ctr; above it the accept loop waits and connections stay in the kernel's backlog; backend: warning",
	"mode":                  "http, tcp",
	"nbthread":              "sets GOMAXPROCS, the number of threads running Go code",
	"no-memory-trimming":    "keeps the memory a process no longer uses; without it, a process that has gone quiet for a second after allocating gives its free memory back to the system",
	"hard-stop-after":       "bounds a soft stop (SIGUSR1); then, as haproxy, requests waiting for a server get a 502 and every connection closes",
	"monitor":               "monitor fail if/unless COND",
	"monitor-uri":           "answered before any rule: 200, or 503 when monitor fail holds",
	"option":                "see below",
	"no option":             "see below",
	"stats":                 "the statistics page: enable, uri, realm, auth, refresh, hide-version, scope (HTML and ;csv with haproxy's columns); admin: warning; global stats socket (unix path, abns@, ipv4@/ipv6@ address; mode, uid, gid, user, group, level) , stats timeout and stats maxconn (10 by default; past it clients wait unanswered): the runtime API",
	"timeout":               "client, server, connect, queue, check, http-request, http-keep-alive, tunnel, client-fin, server-fin",
	"retries":               "connection retries (default 3)",
	"redirect":              "location, prefix, scheme; code, drop-query, append-slash, set-cookie; run after http-request rules",
	"pidfile":               "like -p",
	"lua-load":              "FILE: a Lua script (Lua 5.1, see Lua above); its services, actions, fetches and converters are lua.NAME",
	"lua-load-per-thread":   "as lua-load: gohap's Lua states are never shared",
	"lua-prepend-path":      "PATH [path or cpath]: in front of package.path (cpath: a warning, no C modules)",
	"default_backend":       "",
	"server-template":       "PREFIX NUM|LOW-HIGH ADDR OPTIONS: numbered servers; with resolvers, a name is resolved for each and _service._proto.name fills them from SRV records",
	"default-path":          "current, config, parent, origin PATH",
	"http-send-name-header": "NAME: the chosen server's name in a request header",
	"cookie":                "NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] [httponly] [secure] [domain D]* [maxidle T] [maxlife T] [dynamic] [attr A]*; servers: cookie VALUE",
	"dynamic-cookie-key":    "KEY: server cookie values hashed from KEY and the address, as haproxy's",
	"force-persist":         "if/unless COND: the cookie's server even when down",
	"ignore-persist":        "if/unless COND: the cookie is neither read nor set",
	"stick-table":           "type ip|ipv6|integer|string [len N]|binary [len N] size N[k|m|g] [expire T] [nopurge] [store conn_cur, conn_cnt, conn_rate(P), sess_cnt, sess_rate(P), http_req_cnt, http_req_rate(P), http_err_cnt, http_err_rate(P), http_fail_cnt, http_fail_rate(P), gpc0, gpc0_rate(P), gpc1, gpc1_rate(P), gpt0, bytes_in_cnt, bytes_in_rate(P), bytes_out_cnt, bytes_out_rate(P), server_id, server_key]; peers: warning (no synchronisation); gpc/gpt arrays are not supported",
	"stick":                 "match|on|store-request|store-response PATTERN [table T] [if|unless COND]: server persistence (server_id) in a stick table; store-response in mode http only",
	"crt-base":              "base directory of relative crt paths",
	"ca-base":               "base directory of relative ca-file paths",
}

func sectionNames(s section) string {
	var out []string
	if s&secGlobal != 0 {
		out = append(out, "global")
	}
	if s&secDefaults != 0 {
		out = append(out, "defaults")
	}
	if s&secFrontend != 0 {
		out = append(out, "frontend")
	}
	if s&secBackend != 0 {
		out = append(out, "backend")
	}
	if s&secFrontend != 0 || s&secBackend != 0 {
		out = append(out, "listen")
	}
	return strings.Join(out, ", ")
}

func unsupportedSections() []string {
	var out []string
	for s := range sectionKeywords {
		switch s {
		case "global", "defaults", "frontend", "backend", "listen", "resolvers", "userlist", "http-errors":
		default:
			if _, side := sideSections[s]; !side {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

func codeList(names []string) string {
	return "`" + strings.Join(names, "`, `") + "`"
}
