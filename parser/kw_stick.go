package parser

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// tableDecl is a stick table and the section that declared it.
type tableDecl struct {
	t       *rules.StickTable
	kind    string         // "frontend", "backend", "listen"
	section lexer.Position // the section's header
}

// unsupportedStore are data types HAProxy 2.6 stores that gohap does not
// count: a table storing them is an error rather than a table whose
// fetches read zero.
var unsupportedStore = map[string]bool{
	"gpc": true, "gpc_rate": true, "gpt": true,
}

// declareTables builds the stick tables of f's proxies before any rule is
// compiled: rules and fetches name tables of proxies further down, and an
// ACL may come before its proxy's stick-table line.
func (c *compiler) declareTables(f *File) {
	for _, s := range f.Sections {
		if (s.Kind != "frontend" && s.Kind != "backend" && s.Kind != "listen") || len(s.Args) == 0 {
			continue
		}
		name := c.value(s.Args[0])
		for _, st := range s.Stmts {
			g := st.Generic
			if g == nil || c.value(g.Keyword) != "stick-table" {
				continue
			}
			if prev, dup := c.tables[name]; dup {
				c.errorf(g.Pos, "stick-table name '%s' conflicts with table declared in %s '%s' at %s", name, prev.kind, name, prev.t.Pos)
				continue
			}
			if t := c.stickTable(name, g); t != nil {
				c.tables[name] = &tableDecl{t: t, kind: s.Kind, section: s.Pos}
				c.g.Tables = append(c.g.Tables, t)
			}
		}
	}
}

// stickTable compiles "stick-table type T [len N] size N [expire T]
// [nopurge] [peers P] [srvkey K] [store D,...]" for the proxy name.
func (c *compiler) stickTable(name string, g *Generic) *rules.StickTable {
	args := c.values(g.Args)
	var (
		typ          rules.KeyType
		haveType     bool
		keyLen, size int
		expire       time.Duration
		nopurge      bool
		stores       []int // index of each store list
	)
	for i := 0; i < len(args); i++ {
		opt := args[i]
		if opt == "nopurge" {
			nopurge = true
			continue
		}
		switch opt {
		case "type", "size", "expire", "peers", "srvkey", "store":
		default:
			c.errorf(g.Args[i].Pos, "stick-table: unknown argument '%s'", opt)
			return nil
		}
		if i+1 >= len(args) {
			c.errorf(g.Args[i].Pos, "stick-table: missing argument after '%s'", opt)
			return nil
		}
		i++
		v, pos := args[i], g.Args[i].Pos
		var err error
		switch opt {
		case "type":
			if typ, haveType = rules.ParseKeyType(v); !haveType {
				c.errorf(pos, "stick-table: unknown type '%s'", v)
				return nil
			}
			if (typ == rules.KeyString || typ == rules.KeyBinary) && i+2 < len(args) && args[i+1] == "len" {
				i += 2
				if keyLen, err = strconv.Atoi(args[i]); err != nil || keyLen <= 0 {
					c.errorf(g.Args[i].Pos, "stick-table: invalid length '%s': a positive integer is expected", args[i])
					return nil
				}
			}
		case "size":
			if size, err = parseSize(v); err != nil {
				c.errorf(pos, "stick-table: %v", err)
				return nil
			}
		case "expire":
			if expire, err = parseTime(v); err != nil {
				c.errorf(pos, "stick-table: 'expire': %v", err)
				return nil
			}
		case "peers":
			c.warnf(pos, "stick-table: gohap does not synchronise tables with peers: 'peers %s' has no effect", v)
		case "srvkey":
			// gohap's stick rules always key servers by name: with
			// "srvkey addr" a table shared by backends whose same-named
			// servers differ in address matches differently from haproxy.
			if v != "name" && v != "addr" {
				c.errorf(pos, "stick-table: unexpected value '%s' for 'srvkey' (expected 'name' or 'addr')", v)
				return nil
			}
		case "store":
			stores = append(stores, i)
		}
	}
	if !haveType {
		c.errorf(g.Pos, "stick-table: missing type")
		return nil
	}
	if size == 0 {
		c.errorf(g.Pos, "stick-table: missing size")
		return nil
	}
	t := rules.NewStickTable(name, typ)
	t.Pos, t.Size, t.Expire, t.NoPurge = posString(g.Pos), size, expire, nopurge
	if keyLen > 0 {
		t.KeyLen = keyLen
	}
	// A bad store list is reported, but the table still counts as
	// declared: rules naming it would only repeat the error.
	for _, i := range stores {
		c.storeList(t, g.Args[i], args[i])
	}
	return t
}

// storeList adds the data types of a "store" list to t; it reports
// false after an error.
func (c *compiler) storeList(t *rules.StickTable, w *Word, list string) bool {
	for _, item := range splitConverters(list) {
		item = strings.TrimSpace(item)
		name, args, closed := splitCall(item)
		if !closed {
			c.errorf(w.Pos, "stick-table: missing ')' in store option '%s'", item)
			return false
		}
		d, known := rules.ParseDataType(name)
		switch {
		case name == "server_id" || name == "server_key":
			// What "stick" rules record: every entry keeps it.
			continue
		case !known && unsupportedStore[name]:
			c.errorf(w.Pos, "stick-table: store option '%s' is not supported", name)
			return false
		case !known:
			c.errorf(w.Pos, "stick-table: unknown store option '%s'", name)
			return false
		case d.IsRate() && len(args) == 0:
			c.errorf(w.Pos, "stick-table: missing argument to store option '%s'", name)
			return false
		case !d.IsRate() && strings.Contains(item, "("):
			c.errorf(w.Pos, "stick-table: unexpected argument to store option '%s'", name)
			return false
		case d.IsRate():
			p, err := parseTime(strings.TrimSpace(args[0]))
			if len(args) != 1 || err != nil {
				c.errorf(w.Pos, "stick-table: error when processing store option '%s'", name)
				return false
			}
			t.Period[d] = p.Milliseconds()
		}
		t.Store[d] = true
	}
	return true
}

// parseSize reads a table size: a number with an optional k, m or g
// suffix for 2^10, 2^20 and 2^30.
func parseSize(s string) (int, error) {
	mult := 1
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("invalid size '%s'", s)
	}
	return n * mult, nil
}

// Table implements rules.Resolver for the proxy being compiled.
func (r proxyResolver) Table(name string) (*rules.StickTable, error) {
	if name == "" {
		if d := r.tables[r.p.name]; d != nil && d.section == r.p.pos {
			return d.t, nil
		}
		return nil, fmt.Errorf("unable to find table '%s': %s '%s' has no stick-table", r.p.name, r.p.kind, r.p.name)
	}
	if d := r.tables[name]; d != nil {
		return d.t, nil
	}
	return nil, fmt.Errorf("unable to find table '%s'", name)
}

// kwStickTable checks the "stick-table" line once more in its section:
// declareTables built the table.
func kwStickTable(c *compiler, p *proxy, g *Generic, args []string) {}

// trackStage is where a rule that tracks counters runs.
type trackStage uint8

const (
	stageConn    trackStage = iota // tcp-request connection or session
	stageContent                   // tcp-request content
	stageHTTP                      // http-request
)

// stickAction compiles the actions on sticky counters that http-request
// and tcp-request rules share: track-scN, sc-inc-gpc0(N), sc-inc-gpc1(N),
// sc-set-gpt0(N) and silent-drop. words are the action's words, name
// first; handled is false when the action is none of these.
func (c *compiler) stickAction(p *proxy, kind string, words []*Word, args []string, stage trackStage) (act rules.Action, handled bool) {
	name := args[0]
	switch {
	case name == "silent-drop":
		if len(args) > 1 {
			c.errorf(words[1].Pos, "'%s silent-drop' takes no argument", kind)
			return nil, true
		}
		return rules.SilentDropAction{}, true
	case strings.HasPrefix(name, "track-sc"):
		return c.trackAction(p, kind, words, args, stage), true
	case strings.HasPrefix(name, "sc-inc-gpc0"), strings.HasPrefix(name, "sc-inc-gpc1"):
		idx, ok := c.scID(kind, words[0], name, len("sc-inc-gpc0"))
		if !ok {
			return nil, true
		}
		if len(args) > 1 {
			c.errorf(words[1].Pos, "'%s %s' takes no argument", kind, name)
			return nil, true
		}
		gpc := rules.DataGPC0
		if name[len("sc-inc-gpc")] == '1' {
			gpc = rules.DataGPC1
		}
		return rules.IncGPCAction{Idx: idx, GPC: gpc}, true
	case strings.HasPrefix(name, "sc-set-gpt0"):
		idx, ok := c.scID(kind, words[0], name, len("sc-set-gpt0"))
		if !ok {
			return nil, true
		}
		if len(args) != 2 {
			c.errorf(words[0].Pos, "'%s %s' expects an integer or a sample expression", kind, name)
			return nil, true
		}
		a := &rules.SetGPT0Action{Idx: idx}
		if n, err := strconv.ParseInt(args[1], 10, 64); err == nil {
			a.Value = n
			return a, true
		}
		sf := c.sampleFetch(p, words[1].Pos, args[1], false)
		if sf == nil {
			return nil, true
		}
		a.Expr = rules.SampleExpr{Fetch: sf.fetch, Convs: sf.convs}
		return a, true
	}
	return nil, false
}

// scID reads the sticky counter number of "sc-inc-gpc0(N)": what follows
// the first n bytes of name, 0 when nothing does.
func (c *compiler) scID(kind string, w *Word, name string, n int) (int, bool) {
	rest := name[n:]
	if rest == "" {
		return 0, true
	}
	inner, found := strings.CutPrefix(rest, "(")
	inner, closed := strings.CutSuffix(inner, ")")
	id, err := strconv.Atoi(inner)
	if !found || !closed || err != nil || id < 0 || id >= rules.MaxTrackers {
		c.errorf(w.Pos, "'%s %s': invalid stick table track ID: the max allowed ID is %d", kind, name, rules.MaxTrackers-1)
		return 0, false
	}
	return id, true
}

// trackAction compiles "track-scN KEY [table TABLE]".
func (c *compiler) trackAction(p *proxy, kind string, words []*Word, args []string, stage trackStage) rules.Action {
	name := args[0]
	idx, err := strconv.Atoi(strings.TrimPrefix(name, "track-sc"))
	if err != nil || idx < 0 {
		c.errorf(words[0].Pos, "'%s %s' is not supported", kind, name)
		return nil
	}
	if idx >= rules.MaxTrackers {
		c.errorf(words[0].Pos, "'%s %s': %d track-sc number exceeding %d (MAX_SESS_STKCTR-1) value", kind, name, idx, rules.MaxTrackers-1)
		return nil
	}
	if len(args) < 2 {
		c.errorf(words[0].Pos, "'%s %s' expects a key expression", kind, name)
		return nil
	}
	tableName := ""
	switch {
	case len(args) == 4 && args[2] == "table":
		tableName = args[3]
	case len(args) == 3 && args[2] == "table":
		c.errorf(words[2].Pos, "'%s %s': missing table name after 'table'", kind, name)
		return nil
	case len(args) > 2:
		c.errorf(words[2].Pos, "'%s %s': unexpected '%s' after the key (expected 'table NAME')", kind, name, args[2])
		return nil
	}
	tb, err := c.resolver(p).Table(tableName)
	if err != nil {
		if tableName == "" {
			tableName = p.name
		}
		c.errorf(words[0].Pos, "unable to find table '%s' referenced by %s", tableName, name)
		return nil
	}
	sf := c.sampleFetch(p, words[1].Pos, args[1], false)
	if sf == nil {
		return nil
	}
	return &rules.TrackAction{
		Idx: idx, Table: tb, Key: rules.SampleExpr{Fetch: sf.fetch, Convs: sf.convs},
		Conn:    stage == stageConn,
		Backend: p.fe == nil,
		HTTP:    stage == stageHTTP,
	}
}

// kwStick compiles "stick match|on|store-request|store-response PATTERN
// [table TABLE] [if|unless COND]": server persistence through a stick
// table, the backend's own by default. haproxy ignores it, with a
// warning, in a proxy without a backend.
func kwStick(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 || (args[0] != "on" && args[0] != "match" && args[0] != "store-request" && args[0] != "store-response") {
		c.errorf(g.Pos, "'stick' expects 'on', 'match', or 'store'")
		return
	}
	if len(args) < 2 {
		c.errorf(g.Pos, "'stick' expects a fetch method")
		return
	}
	tableName := p.name
	switch {
	case len(args) == 2:
	case args[2] != "table":
		c.errorf(g.Args[2].Pos, "'stick': unknown keyword '%s'", args[2])
		return
	case len(args) == 3:
		tableName = ""
	case len(args) == 4:
		tableName = args[3]
	default:
		c.errorf(g.Args[4].Pos, "'stick': unknown keyword '%s'", args[4])
		return
	}
	cond, ok := c.cond(p, g.Cond)
	if !ok {
		return
	}
	if p.be == nil {
		c.warnf(g.Pos, "'stick' ignored because %s '%s' has no backend capability", p.kind, p.name)
		return
	}
	d := c.tables[tableName]
	if d == nil || (len(args) == 2 && d.section != p.pos) {
		c.errorf(g.Pos, "proxy '%s': unable to find stick-table '%s'", p.name, tableName)
		return
	}
	sf := c.sampleFetch(p, g.Args[1].Pos, args[1], false)
	if sf == nil {
		return
	}
	r := rules.StickRule{Match: args[0] == "on" || args[0] == "match", Store: args[0] != "match",
		Table: d.t, Key: rules.SampleExpr{Fetch: sf.fetch, Convs: sf.convs}, Cond: cond}
	if args[0] == "store-response" {
		p.be.StickResponse = append(p.be.StickResponse, r)
		return
	}
	p.be.StickRules = append(p.be.StickRules, r)
}
