package rules

import (
	"os"
	"sort"
	"time"
)

var uniqueIDFetches = []Fetch{
	{Name: "unique-id", Out: TypeStr, New: newConst(fetchUniqueID{})},
}

// logVars are the log-format variables gohap evaluates ("%ci"), each a
// fetch with no argument; VarOpts say how they print.
var logVars = map[string]Fetcher{
	"ci":  fetchSrc{},
	"cp":  fetchSrcPort{},
	"fi":  fetchDst{},
	"fp":  fetchDstPort{},
	"Ts":  fetchTs{},
	"rt":  fetchReqCounter{},
	"pid": fetchPID{},
	"H":   fetchHostname{},
	"ID":  fetchUniqueID{},
}

func init() { registerFetches(uniqueIDFetches) }

// LogVar returns the fetch behind log-format variable name ("ci" for
// %ci); ok is false for a variable gohap does not evaluate.
func LogVar(name string) (f Fetcher, ok bool) {
	f, ok = logVars[name]
	return f, ok
}

// LogVarNames lists the variables LogVar knows, sorted, for messages.
func LogVarNames() []string {
	out := make([]string, 0, len(logVars))
	for n := range logVars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MaxUniqueIDLen is the longest unique ID haproxy keeps (UNIQUEID_LEN
// less its NUL); a longer one is cut.
const MaxUniqueIDLen = 127

// UniqueID returns the request's unique ID ("unique-id-format"),
// evaluated on first use and kept for the rest of the request, as
// haproxy's stream_generate_unique_id; ok is false when UniqueIDFormat
// is nil. The bytes are valid until Reset. While the ID is being built,
// a %ID or unique-id inside its own format reads as empty.
func (t *Txn) UniqueID() (id []byte, ok bool) {
	if t.UniqueIDFormat == nil {
		return nil, false
	}
	if !t.uidDone {
		t.uidDone = true
		t.uid = t.UniqueIDFormat.Append(t, t.uid[:0])
		t.uid = t.uid[:min(len(t.uid), MaxUniqueIDLen)]
	}
	return t.uid, true
}

type fetchUniqueID struct{}

func (fetchUniqueID) Fetch(t *Txn, s *Sample) bool {
	id, ok := t.UniqueID()
	s.Type, s.Str = TypeStr, id
	return ok
}

// fetchTs is %Ts: the current date in seconds since the epoch. haproxy
// prints the request's accept date; the ID is built when the request is
// in, so the two differ only across a second's edge.
type fetchTs struct{}

func (fetchTs) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, time.Now().Unix()
	return true
}

// fetchReqCounter is %rt: the request's number in the process.
type fetchReqCounter struct{}

func (fetchReqCounter) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(t.ReqCounter)
	return true
}

// fetchPID is %pid, the proxy's process id.
type fetchPID struct{}

func (fetchPID) Fetch(t *Txn, s *Sample) bool {
	pid := t.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	s.Type, s.Int = TypeInt, int64(pid)
	return true
}

// hostname is %H, read once as haproxy does at start.
var hostname = func() []byte {
	h, _ := os.Hostname()
	return []byte(h)
}()

type fetchHostname struct{}

func (fetchHostname) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Str = TypeStr, hostname
	return true
}

// appendVar appends s as haproxy prints a log-format variable with
// opts: hexadecimal addresses and integers, quoted strings and addresses.
func appendVar(dst []byte, s *Sample, opts VarOpts) []byte {
	hex := opts&VarHex != 0
	switch {
	case s.Type == TypeIP && hex && s.Addr.Is4():
		a := s.Addr.As4()
		return appendHexBytes(dst, a[:])
	case s.Type == TypeIP && hex:
		a := s.Addr.As16()
		return appendHexBytes(dst, a[:])
	case s.Type == TypeInt && hex:
		return appendHex4(dst, uint64(s.Int))
	case s.Type == TypeInt || s.Type == TypeBool || opts&VarQuote == 0:
		return AppendText(dst, s)
	}
	dst = append(dst, '"')
	return append(AppendText(dst, s), '"')
}

const hexDigits = "0123456789ABCDEF"

// appendHexBytes appends b as upper-case hexadecimal, two digits a byte.
func appendHexBytes(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// appendHex4 appends n as haproxy's "%04X".
func appendHex4(dst []byte, n uint64) []byte {
	var tmp [16]byte
	i := len(tmp)
	for n > 0 || i > len(tmp)-4 {
		i--
		tmp[i] = hexDigits[n&15]
		n >>= 4
	}
	return append(dst, tmp[i:]...)
}
