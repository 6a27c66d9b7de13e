package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// stickOp is what a stick table fetch does with its data type.
type stickOp uint8

const (
	opGet     stickOp = iota // read the counter or the rate
	opKBytes                 // read a byte counter in kilobytes
	opInc                    // add one to a general purpose counter and its rate, return it
	opClr                    // set a general purpose counter to zero, return what it was
	opTracked                // whether the counter is tracked (sc only)
	opUsers                  // how many trackers hold the entry (sc only)
)

// stickFetches are the fetches after their prefix: "src_conn_cur",
// "sc0_conn_cur", "sc_conn_cur(0)".
var stickFetches = []struct {
	name string
	data DataType
	op   stickOp
}{
	{"conn_cnt", DataConnCnt, opGet}, {"conn_cur", DataConnCur, opGet}, {"conn_rate", DataConnRate, opGet},
	{"sess_cnt", DataSessCnt, opGet}, {"sess_rate", DataSessRate, opGet},
	{"http_req_cnt", DataHTTPReqCnt, opGet}, {"http_req_rate", DataHTTPReqRate, opGet},
	{"http_err_cnt", DataHTTPErrCnt, opGet}, {"http_err_rate", DataHTTPErrRate, opGet},
	{"http_fail_cnt", DataHTTPFailCnt, opGet}, {"http_fail_rate", DataHTTPFailRate, opGet},
	{"kbytes_in", DataBytesInCnt, opKBytes}, {"bytes_in_rate", DataBytesInRate, opGet},
	{"kbytes_out", DataBytesOutCnt, opKBytes}, {"bytes_out_rate", DataBytesOutRate, opGet},
	{"get_gpt0", DataGPT0, opGet},
	{"get_gpc0", DataGPC0, opGet}, {"inc_gpc0", DataGPC0, opInc}, {"clr_gpc0", DataGPC0, opClr},
	{"gpc0_rate", DataGPC0Rate, opGet},
	{"get_gpc1", DataGPC1, opGet}, {"inc_gpc1", DataGPC1, opInc}, {"clr_gpc1", DataGPC1, opClr},
	{"gpc1_rate", DataGPC1Rate, opGet},
	{"tracked", 0, opTracked}, {"trackers", 0, opUsers},
}

func init() {
	var list []Fetch
	for _, sf := range stickFetches {
		data, op := sf.data, sf.op
		out := TypeInt
		if op == opTracked {
			out = TypeBool
		}
		list = append(list, Fetch{Name: "sc_" + sf.name, MinArgs: 1, MaxArgs: 2, Out: out,
			New: func(args []string, r Resolver) (Fetcher, error) {
				return newStickFetch("sc_"+sf.name, -1, data, op, args, r)
			}})
		for i := range MaxTrackers {
			name := "sc" + strconv.Itoa(i) + "_" + sf.name
			list = append(list, Fetch{Name: name, MaxArgs: 1, Out: out,
				New: func(args []string, r Resolver) (Fetcher, error) { return newStickFetch(name, i, data, op, args, r) }})
		}
		if op != opTracked && op != opUsers {
			name := "src_" + sf.name
			list = append(list, Fetch{Name: name, MaxArgs: 1, Out: out,
				New: func(args []string, r Resolver) (Fetcher, error) { return newSrcFetch(name, data, op, args, r) }})
		}
	}
	list = append(list, Fetch{Name: "table_cnt", MaxArgs: 1, Out: TypeInt, New: newTableCnt})
	registerFetches(list)
}

// IsStickFetch reports whether name is a fetch of stick table data:
// sc_*, sc0_* to sc2_*, src_* of a data type, and table_cnt.
func IsStickFetch(name string) bool {
	if name == "table_cnt" {
		return true
	}
	_, rest, ok := strings.Cut(name, "_")
	for _, sf := range stickFetches {
		if ok && rest == sf.name {
			return true
		}
	}
	return false
}

// fetchSticky reads a data type of a tracked counter's entry (sc0_*,
// sc_*(N)), or of the entry with the same key in another table.
type fetchSticky struct {
	idx   int
	other *StickTable // nil: the tracked entry's own table
	data  DataType
	op    stickOp
}

// newStickFetch builds sc_NAME(ctr[,table]) (idx < 0) or scN_NAME([table]).
func newStickFetch(name string, idx int, data DataType, op stickOp, args []string, r Resolver) (Fetcher, error) {
	if idx < 0 {
		n, err := argInt(name, args[0])
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("fetch method '%s': invalid sticky counter '%s'", name, args[0])
		}
		idx, args = int(min(n, MaxTrackers)), args[1:] // past sc2: never tracked
	}
	f := &fetchSticky{idx: idx, data: data, op: op}
	if len(args) > 0 && strings.TrimSpace(args[0]) != "" {
		tb, err := r.Table(args[0])
		if err != nil {
			return nil, fmt.Errorf("fetch method '%s': %v", name, err)
		}
		f.other = tb
	}
	return f, nil
}

func (f *fetchSticky) Fetch(t *Txn, s *Sample) bool {
	if f.idx >= MaxTrackers {
		return false
	}
	c := &t.Track[f.idx]
	if c.entry == nil {
		return false
	}
	if f.op == opTracked {
		s.Type, s.Int = TypeBool, 1
		return true
	}
	if f.other != nil {
		t.keyBuf = append(t.keyBuf[:0], c.entry.key...)
		return f.other.fetch(t.keyBuf, false, f.data, f.op, s)
	}
	tb, e := c.table, c.entry
	sh := tb.lock(e)
	ok := tb.apply(sh, e, f.data, f.op, tb.now(), s)
	sh.mu.Unlock()
	return ok
}

// fetchSrcSticky reads a data type of the entry of the client's address
// in a table (src_*).
type fetchSrcSticky struct {
	table *StickTable
	data  DataType
	op    stickOp
}

func newSrcFetch(name string, data DataType, op stickOp, args []string, r Resolver) (Fetcher, error) {
	tb, err := r.Table(argOr(args, 0))
	if err != nil {
		return nil, fmt.Errorf("fetch method '%s': %v", name, err)
	}
	return &fetchSrcSticky{table: tb, data: data, op: op}, nil
}

func (f *fetchSrcSticky) Fetch(t *Txn, s *Sample) bool {
	a := t.Src.Addr().Unmap()
	if !a.IsValid() {
		return false
	}
	// The key is built from the address in place of the sample, which
	// the caller may be using.
	key, ok := f.table.keyOf(&Sample{Type: TypeIP, Addr: a}, &t.keyBuf)
	if !ok {
		return false
	}
	// Incrementing creates the entry, as haproxy's src_inc_gpc0 does.
	return f.table.fetch(key, f.op == opInc, f.data, f.op, s)
}

// fetch applies op to data type d of the entry of key, created when
// create is set; a missing entry reads as zero.
func (tb *StickTable) fetch(key []byte, create bool, d DataType, op stickOp, s *Sample) bool {
	now := tb.now()
	var e *stkEntry
	var sh *stkShard
	if create {
		e, sh = tb.get(key, now)
	} else {
		sh = &tb.shard[tb.shardOf(key)]
		sh.mu.Lock()
		if e = tb.find(sh, key, now); e == nil {
			sh.mu.Unlock()
		}
	}
	if e == nil {
		s.Type, s.Int = TypeInt, 0
		return true
	}
	ok := tb.apply(sh, e, d, op, now, s)
	sh.mu.Unlock()
	return ok
}

// apply runs op on data type d of e into s. Guarded by sh, e's shard.
func (tb *StickTable) apply(sh *stkShard, e *stkEntry, d DataType, op stickOp, now int64, s *Sample) bool {
	s.Type = TypeInt
	switch op {
	case opUsers:
		s.Int = int64(e.refs)
		return true
	case opInc:
		rate := DataGPC0Rate
		if d == DataGPC1 {
			rate = DataGPC1Rate
		}
		if !tb.countEvent(sh, e, d, rate, now) {
			return false
		}
		s.Int = int64(e.cnt[d])
		return true
	case opClr:
		if !tb.Store[d] {
			return false
		}
		s.Int = int64(e.cnt[d])
		e.cnt[d] = 0
		tb.touched(sh, e, now)
		return true
	}
	v, ok := tb.value(e, d, now)
	if op == opKBytes {
		v >>= 10
	}
	s.Int = v
	return ok
}

// fetchTableCnt is table_cnt([table]): the entries in use.
type fetchTableCnt struct{ table *StickTable }

func newTableCnt(args []string, r Resolver) (Fetcher, error) {
	tb, err := r.Table(argOr(args, 0))
	if err != nil {
		return nil, fmt.Errorf("fetch method 'table_cnt': %v", err)
	}
	return fetchTableCnt{tb}, nil
}

func (f fetchTableCnt) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(f.table.Len())
	return true
}

// argOr returns args[i], trimmed, or "" when absent.
func argOr(args []string, i int) string {
	if i < len(args) {
		return strings.TrimSpace(args[i])
	}
	return ""
}
