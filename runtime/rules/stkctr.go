package rules

// MaxTrackers is how many sticky counters a connection tracks at once:
// sc0 to sc2, HAProxy's default MAX_SESS_STKCTR.
const MaxTrackers = 3

// StkCtr is a sticky counter: the stick table entry a track-sc rule chose
// for the connection or the request, whose counters the connection's
// events then update.
type StkCtr struct {
	table *StickTable
	entry *stkEntry
	// conn: tracked by a tcp-request connection or session rule, so held
	// until the connection ends; otherwise until the request ends.
	conn bool
	// backend: tracked by a backend's tcp-request content rule, so its
	// HTTP request is counted when the backend's rules start.
	backend bool
}

// Tracked reports whether the counter is in use.
func (c *StkCtr) Tracked() bool { return c.entry != nil }

// Trackers are the sticky counters sc0 to sc2 of a connection and its
// current request. Owned by the connection's goroutine.
type Trackers [MaxTrackers]StkCtr

// track makes counter i follow the entry of key in table tb, creating
// it: the entry counts one more connection, current and total, as in
// haproxy whatever the rule that tracks it, and with http one more HTTP
// request. It returns false when the table is full and may not purge.
func (tr *Trackers) track(i int, tb *StickTable, key []byte, conn, backend, http bool) bool {
	now := tb.now()
	e, sh := tb.get(key, now)
	if e == nil {
		return false
	}
	e.refs++
	if tb.Store[DataConnCur] {
		e.cnt[DataConnCur]++
	}
	tb.bump(e, DataConnCnt, DataConnRate, now)
	if http {
		tb.bump(e, DataHTTPReqCnt, DataHTTPReqRate, now)
	}
	tb.touched(sh, e, now) // tracking starts the expiry again, stored data or not
	sh.mu.Unlock()
	tr[i] = StkCtr{table: tb, entry: e, conn: conn, backend: backend}
	return true
}

// release stops counter c: the entry counts one connection less, and
// goes if it expired meanwhile.
func (c *StkCtr) release() {
	tb, e := c.table, c.entry
	*c = StkCtr{}
	now := tb.now()
	sh := tb.lock(e)
	e.refs--
	if tb.Store[DataConnCur] {
		if e.cnt[DataConnCur] > 0 {
			e.cnt[DataConnCur]--
		}
		tb.touched(sh, e, now)
	}
	if e.next != nil && tb.expired(e, now) {
		tb.remove(sh, e)
	}
	sh.mu.Unlock()
}

// count records an event (counter cnt, rate rate) on counter c.
func (c *StkCtr) count(cnt, rate DataType) {
	tb, e := c.table, c.entry
	now := tb.now()
	sh := tb.lock(e)
	tb.countEvent(sh, e, cnt, rate, now)
	sh.mu.Unlock()
}

// countBytes adds in bytes from the client and out bytes to it on
// counter c.
func (c *StkCtr) countBytes(in, out int64) {
	tb, e := c.table, c.entry
	now := tb.now()
	sh := tb.lock(e)
	stored := tb.addBytes(e, in, DataBytesInCnt, DataBytesInRate, now)
	if tb.addBytes(e, out, DataBytesOutCnt, DataBytesOutRate, now) || stored {
		tb.touched(sh, e, now)
	}
	sh.mu.Unlock()
}

// Any reports whether a counter is tracked: a parked connection carries
// its counters only then.
func (tr *Trackers) Any() bool {
	for i := range tr {
		if tr[i].Tracked() {
			return true
		}
	}
	return false
}

// EndRequest stops the counters the request tracked; those of the
// connection stay.
func (tr *Trackers) EndRequest() {
	for i := range tr {
		if c := &tr[i]; c.entry != nil && !c.conn {
			c.release()
		}
	}
}

// End stops every counter: the connection is over.
func (tr *Trackers) End() {
	for i := range tr {
		if c := &tr[i]; c.entry != nil {
			c.release()
		}
	}
}

// countAll records an event on every tracked counter.
func (tr *Trackers) countAll(cnt, rate DataType) {
	for i := range tr {
		if c := &tr[i]; c.entry != nil {
			c.count(cnt, rate)
		}
	}
}

// CountsBytes reports whether a tracked counter's table stores byte
// counts or rates: only then need the connection's bytes be counted.
func (tr *Trackers) CountsBytes() bool {
	for i := range tr {
		if c := &tr[i]; c.entry != nil && c.table.StoresBytes() {
			return true
		}
	}
	return false
}

// CountBytes adds in bytes read from the client and out bytes sent to it
// to the tracked counters whose tables store them. Like haproxy, which
// counts a stream's bytes as it goes and at its end, the caller counts
// them at the end of each request and while long bodies pass.
func (tr *Trackers) CountBytes(in, out int64) {
	for i := range tr {
		if c := &tr[i]; c.entry != nil && c.table.StoresBytes() {
			c.countBytes(in, out)
		}
	}
}

// CountSession counts a new session on the counters the connection
// tracks, once its tcp-request connection and session rules accepted it.
func (tr *Trackers) CountSession() {
	for i := range tr {
		if c := &tr[i]; c.entry != nil && c.conn {
			c.count(DataSessCnt, DataSessRate)
		}
	}
}

// CountRequest counts an HTTP request on every tracked counter: called
// once the request head is in and the frontend's tcp-request content
// rules ran, before the http-request rules.
func (tr *Trackers) CountRequest() { tr.countAll(DataHTTPReqCnt, DataHTTPReqRate) }

// CountBackendRequest counts the HTTP request on the counters the
// backend's tcp-request content rules tracked, before the backend's
// http-request rules run.
func (tr *Trackers) CountBackendRequest() {
	for i := range tr {
		if c := &tr[i]; c.entry != nil && c.backend {
			c.count(DataHTTPReqCnt, DataHTTPReqRate)
		}
	}
}

// CountClientError counts an HTTP request error (http_err_cnt): a bad,
// denied or unauthenticated request.
func (tr *Trackers) CountClientError() { tr.countAll(DataHTTPErrCnt, DataHTTPErrRate) }

// CountResponse counts a server's response status: a 4xx is the client's
// error, a 5xx other than 501 and 505 the server's failure.
func (tr *Trackers) CountResponse(status int) {
	switch {
	case status >= 400 && status < 500:
		tr.CountClientError()
	case status >= 500 && status < 600 && status != 501 && status != 505:
		tr.countAll(DataHTTPFailCnt, DataHTTPFailRate)
	}
}
