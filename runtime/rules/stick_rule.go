package rules

// StickRule is one "stick match", "stick on", "stick store-request" or
// "stick store-response" rule of a backend: server persistence through
// a stick table, keyed by a sample of the request or response.
type StickRule struct {
	Match bool // looks the key up to choose the server
	Store bool // records the server that serves the request
	Table *StickTable
	Key   SampleExpr
	Cond  *Cond
}

// KeyOf evaluates the rule's condition and key on t; ok is false when the
// condition fails or the key has no value of the table's type. The bytes
// are t's until the next key is built.
func (r *StickRule) KeyOf(t *Txn) (key []byte, ok bool) {
	if !r.Cond.Eval(t) {
		return nil, false
	}
	s := &t.smp
	*s = Sample{}
	if !r.Key.Eval(t, s) {
		return nil, false
	}
	return r.Table.keyOf(s, &t.keyBuf)
}

// StickServer returns the name of the server the entry of key records
// ("" when it records none), and refreshes the entry's expiry as
// haproxy does on a match; ok is false when there is no live entry.
func (t *StickTable) StickServer(key []byte) (name string, ok bool) {
	now := t.now()
	sh := &t.shard[t.shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := t.find(sh, key, now)
	if e == nil {
		return "", false
	}
	t.touched(sh, e, now)
	return e.srv, true
}

// SetServer records server name in the entry of key, creating the entry
// if needed (nothing happens when the table is full and may not purge).
func (t *StickTable) SetServer(key []byte, name string) {
	now := t.now()
	e, sh := t.get(key, now)
	if e == nil {
		return
	}
	e.srv = name
	t.touched(sh, e, now)
	sh.mu.Unlock()
}
