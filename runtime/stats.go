package runtime

import (
	"bytes"
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

// statsFields is the header line of haproxy 2.6's CSV export: monitoring
// tools read columns by position, so gohap keeps the same columns and
// fills those it tracks.
const statsFields = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"

// statsColumn gives each column name its position.
var statsColumn = func() map[string]int {
	m := map[string]int{}
	for i, f := range strings.Split(strings.TrimSuffix(statsFields, ","), ",") {
		m[f] = i
	}
	return m
}()

// statsRow is one line of the page: a frontend, a server or a backend.
type statsRow map[string]string

func (r statsRow) csv(b *bytes.Buffer) {
	cols := make([]string, len(statsColumn))
	for k, v := range r {
		cols[statsColumn[k]] = v
	}
	b.WriteString(strings.Join(cols, ","))
	b.WriteString(",\n")
}

// statsRows lists the rows of every proxy in scope as haproxy does: proxy
// by proxy in configuration order, a frontend's row, then its servers and
// its backend row.
func statsRows(gen *generation, st *rules.Stats) []statsRow {
	var rows []statsRow
	feConns := frontendConns(gen)
	for _, p := range proxiesInOrder(gen) {
		if p.fe >= 0 {
			fe := gen.g.Frontends[p.fe]
			if st.Shows(fe.Name) {
				rows = append(rows, statsRow{"pxname": fe.Name, "svname": "FRONTEND",
					"scur": strconv.FormatInt(feConns[p.fe], 10), "stot": strconv.FormatInt(gen.frontends[p.fe].sessions.Load(), 10),
					"status": "OPEN", "pid": "1", "iid": strconv.Itoa(p.fe + 1), "sid": "0", "type": "0", "mode": fe.Mode.String()})
			}
		}
		if p.be != nil && st.Shows(p.be.Name) {
			rows = appendBackendRows(rows, gen, p.be)
		}
	}
	return rows
}

// proxy is one proxy as haproxy counts them: a frontend, a backend, or
// both halves of a listen section.
type proxy struct {
	name string
	pos  string
	fe   int // index in Frontends, or -1
	be   *rules.Backend
}

// proxiesInOrder lists gen's proxies in configuration order, the order
// in which haproxy reports them.
func proxiesInOrder(gen *generation) []*proxy {
	var order []*proxy
	byName := map[string]*proxy{}
	for i, fe := range gen.g.Frontends {
		p := &proxy{name: fe.Name, pos: fe.Pos, fe: i}
		byName[fe.Name] = p
		order = append(order, p)
	}
	for _, be := range gen.g.Backends {
		if p, ok := byName[be.Name]; ok && p.be == nil {
			p.be = be // the backend half of a listen section
			continue
		}
		order = append(order, &proxy{name: be.Name, pos: be.Pos, fe: -1, be: be})
	}
	sort.SliceStable(order, func(i, j int) bool { return rules.PosLess(order[i].pos, order[j].pos) })
	return order
}

// status is the server's status as the statistics page words it, and its
// check's.
func (ss *serverState) status() (status, check string) {
	checked := ss.cfg.Check && !ss.checksOff.Load()
	switch {
	case ss.adminState() == AdminMaint:
		return "MAINT", ""
	case ss.live.Load().none:
		return "MAINT (resolution)", ""
	case !ss.up.Load() && checked:
		return "DOWN", "L4CON"
	case !ss.up.Load():
		return "DOWN", ""
	case ss.adminState() == AdminDrain && checked:
		return "DRAIN", "L4OK"
	case ss.adminState() == AdminDrain:
		return "DRAIN", ""
	case checked && ss.nolb.Load():
		return "NOLB", "L7OKC"
	case checked:
		return "UP", "L4OK"
	}
	return "no check", ""
}

// appendBackendRows adds a backend's server rows and its BACKEND row.
func appendBackendRows(rows []statsRow, gen *generation, be *rules.Backend) []statsRow {
	bs := gen.backend(be)
	if bs == nil {
		return rows
	}
	var cur int64
	act, bck := bs.counts()
	weight := 0
	for _, ss := range bs.servers {
		c := ss.cur.Load()
		cur += c
		status, check := ss.status()
		la := ss.live.Load()
		w := int(ss.weight.Load())
		if ss.usable() && (ss.cfg.Backup == (act == 0)) {
			weight += w
		}
		isAct, isBck := "1", "0"
		if ss.cfg.Backup {
			isAct, isBck = "0", "1"
		}
		rows = append(rows, statsRow{"pxname": be.Name, "svname": ss.cfg.Name, "scur": strconv.FormatInt(c, 10),
			"status": status, "weight": strconv.Itoa(w), "act": isAct, "bck": isBck, "pid": "1",
			"iid": strconv.Itoa(be.Index + 1), "sid": strconv.Itoa(ss.cfg.ID), "type": "2",
			"check_status": check, "addr": la.addr, "cookie": la.cookie, "mode": be.Mode.String()})
	}
	status := "UP"
	if act+bck == 0 && len(bs.servers) > 0 {
		status = "DOWN"
	}
	return append(rows, statsRow{"pxname": be.Name, "svname": "BACKEND", "scur": strconv.FormatInt(cur, 10),
		"status": status, "weight": strconv.Itoa(weight), "act": strconv.Itoa(act), "bck": strconv.Itoa(bck),
		"pid": "1", "iid": strconv.Itoa(be.Index + 1), "sid": "0", "type": "1", "mode": be.Mode.String(),
		"algo": be.Balance.String()})
}

// writeCSV writes the CSV export: the header line, then rows.
func writeCSV(b *bytes.Buffer, rows []statsRow) {
	b.WriteString("# " + statsFields + "\n")
	for _, r := range rows {
		r.csv(b)
	}
}

// WriteStats writes what the statistics page's ";csv" export shows, for
// every proxy: the runtime API's "show stat".
func (e *Engine) WriteStats(b *bytes.Buffer) {
	writeCSV(b, statsRows(e.gen.Load(), &rules.Stats{}))
}

// serveStats answers a request for the statistics page and reports
// whether the connection stays open.
func (s *session) serveStats(gen *generation, st *rules.Stats, fe *rules.Frontend, be *rules.Backend) bool {
	t := &s.txn
	if !st.Authorized(t) {
		s.logStats(false)
		keep := s.reply(st.Reply401, fe, be)
		// haproxy 2.6 logs the page's 401 as status 400.
		t.Log.Status = 400
		return keep
	}
	s.logStats(true)
	opts := t.Req.PathQuery()[len(st.URI):]
	csv := bytes.Contains(opts, []byte(";csv"))
	var body bytes.Buffer
	rows := statsRows(gen, st)
	ctype := "text/html"
	if csv {
		ctype = "text/plain"
		writeCSV(&body, rows)
	} else {
		statsHTML(&body, st, rows)
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: " + ctype + "\r\n")
	if st.Refresh > 0 && !bytes.Contains(opts, []byte(";norefresh")) {
		fmt.Fprintf(&b, "refresh: %d\r\n", int(st.Refresh.Seconds()))
	}
	if string(t.Req.Method) == "HEAD" {
		b.WriteString("\r\n")
		return s.reply(&rules.Reply{Status: 200, Raw: b.Bytes(), HeadLen: b.Len()}, fe, be)
	}
	b.WriteString("transfer-encoding: chunked\r\n\r\n")
	head := b.Len()
	fmt.Fprintf(&b, "%X\r\n", body.Len())
	b.Write(body.Bytes())
	b.WriteString("\r\n0\r\n\r\n")
	return s.reply(&rules.Reply{Status: 200, Raw: b.Bytes(), HeadLen: head}, fe, be)
}

// statsHTML renders gohap's own page: one table per proxy.
func statsHTML(b *bytes.Buffer, st *rules.Stats, rows []statsRow) {
	title := "Statistics Report for gohap"
	b.WriteString("<!DOCTYPE html>\n<html><head><title>" + title + "</title>\n<meta charset=\"utf-8\">\n" +
		"<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}" +
		"td,th{border:1px solid #999;padding:2px 8px}.UP{background:#c0ffc0}.DOWN{background:#ffc0c0}.OPEN{background:#c0ffc0}</style>\n" +
		"</head><body><h1>" + title + "</h1>\n")
	if !st.HideVersion {
		b.WriteString("<p>HAProxy-compatible 2.6</p>\n")
	}
	px := ""
	for _, r := range rows {
		if r["pxname"] != px {
			if px != "" {
				b.WriteString("</table>\n")
			}
			px = r["pxname"]
			b.WriteString("<h2>" + html.EscapeString(px) + "</h2>\n<table><tr><th>name</th><th>status</th><th>current sessions</th><th>weight</th><th>active</th><th>backup</th><th>check</th><th>address</th></tr>\n")
		}
		fmt.Fprintf(b, "<tr class=%q><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			strings.Fields(r["status"] + " x")[0], html.EscapeString(r["svname"]), r["status"], r["scur"], r["weight"], r["act"], r["bck"], r["check_status"], html.EscapeString(r["addr"]))
	}
	if px != "" {
		b.WriteString("</table>\n")
	}
	b.WriteString("</body></html>\n")
}
