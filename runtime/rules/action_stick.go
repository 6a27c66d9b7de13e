package rules

import (
	"bytes"
	"strconv"
)

// TrackAction is "track-scN KEY [table TABLE]" in http-request and
// tcp-request rules: counter N follows the entry of KEY in the table,
// unless it already follows one. Only the first rule that tracks a
// counter applies, as in haproxy.
type TrackAction struct {
	Idx   int // N, 0 to MaxTrackers-1
	Table *StickTable
	Key   SampleExpr
	// Conn: a tcp-request connection or session rule, whose counter is
	// held for the whole connection.
	Conn bool
	// Backend: a backend's rule.
	Backend bool
	// HTTP: an http-request rule, which counts the request at once.
	HTTP bool
}

// Exec tracks the key's entry.
func (a *TrackAction) Exec(t *Txn) Verdict {
	if t.Track[a.Idx].entry != nil {
		return Continue
	}
	s := &t.smp
	*s = Sample{}
	if !a.Key.Eval(t, s) {
		return Continue
	}
	key, ok := a.Table.keyOf(s, &t.keyBuf)
	if ok {
		t.Track.track(a.Idx, a.Table, key, a.Conn, a.Backend, a.HTTP)
	}
	return Continue
}

// IncGPCAction is "sc-inc-gpc0(N)" and "sc-inc-gpc1(N)": it adds one to
// a general purpose counter, and its rate, of tracked counter N.
type IncGPCAction struct {
	Idx int
	GPC DataType // DataGPC0 or DataGPC1
}

// Exec increments the counter; nothing happens when N is not tracked.
func (a IncGPCAction) Exec(t *Txn) Verdict {
	if c := &t.Track[a.Idx]; c.entry != nil {
		rate := DataGPC0Rate
		if a.GPC == DataGPC1 {
			rate = DataGPC1Rate
		}
		c.count(a.GPC, rate)
	}
	return Continue
}

// SetGPT0Action is "sc-set-gpt0(N) VALUE": it sets the general purpose
// tag of tracked counter N to an integer or a sample's value.
type SetGPT0Action struct {
	Idx   int
	Value int64      // when Expr.Fetch is nil
	Expr  SampleExpr // Fetch nil: Value
}

// Exec sets the tag; nothing happens when N is not tracked, the table
// has no gpt0 or the sample is not an integer.
func (a *SetGPT0Action) Exec(t *Txn) Verdict {
	c := &t.Track[a.Idx]
	if c.entry == nil || !c.table.Store[DataGPT0] {
		return Continue
	}
	v := a.Value
	if a.Expr.Fetch != nil {
		s := &t.smp
		*s = Sample{}
		if !a.Expr.Eval(t, s) {
			return Continue
		}
		switch s.Type {
		case TypeStr:
			n, err := strconv.ParseInt(string(bytes.TrimSpace(s.Str)), 10, 64)
			if err != nil {
				return Continue
			}
			v = n
		case TypeIP:
			return Continue
		default:
			v = s.Int
		}
	}
	tb, e := c.table, c.entry
	now := tb.now()
	sh := tb.lock(e)
	e.cnt[DataGPT0] = uint32(v)
	tb.touched(sh, e, now)
	sh.mu.Unlock()
	return Continue
}

// SilentDropAction is "silent-drop": the client connection is dropped
// without a word to the client (see the runtime).
type SilentDropAction struct{}

// Exec drops the connection.
func (SilentDropAction) Exec(*Txn) Verdict { return Drop }

// ClientErrAction counts the request as the client's error on the
// tracked counters (http_err_cnt), then runs Action: "http-request deny"
// and "http-request auth", as haproxy counts them.
type ClientErrAction struct{ Action Action }

// Exec counts the error and runs the action; the log says the proxy
// refused the request ("PR").
func (a ClientErrAction) Exec(t *Txn) Verdict {
	t.Track.CountClientError()
	t.Log.SetTerm('P', 'R')
	return a.Action.Exec(t)
}
