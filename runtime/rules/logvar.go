package rules

import (
	"sort"
	"strconv"
	"time"
)

// logField is a log-format variable read from Txn.Log, which the runtime
// fills before a log line is built.
type logField uint8

const (
	lfTR logField = iota
	lfTw
	lfTc
	lfTr
	lfTa
	lfTt
	lfTh
	lfTi
	lfTq
	lfTd
	lfTu
	lfST
	lfB
	lfU
	lfFront
	lfFrontT
	lfBack
	lfServer
	lfSrvIP
	lfSrvPort
	lfBackIP
	lfBackPort
	lfTs
	lfTsc
	lfCC
	lfCS
	lfAc
	lfFc
	lfBc
	lfSc
	lfRc
	lfSq
	lfBq
	lfLc
	lfMs
	lfDate     // %t
	lfReqDate  // %tr
	lfReqGMT   // %trg
	lfReqLocal // %trl
	lfGMT      // %T
	lfLocal    // %Tl
	lfReq      // %r
	lfMethod   // %HM
	lfURI      // %HU
	lfPath     // %HP
	lfPathOnly // %HPO
	lfQuery    // %HQ
	lfVersion  // %HV
	lfEmpty    // %hr %hs %hrl %hsl: no capture
	lfSSLv     // %sslv
	lfSSLc     // %sslc
)

// txnLogVars are the variables read from Txn.Log, by name.
var txnLogVars = map[string]logField{
	"TR": lfTR, "Tw": lfTw, "Tc": lfTc, "Tr": lfTr, "Ta": lfTa, "Tt": lfTt, "Th": lfTh, "Ti": lfTi,
	"Tq": lfTq, "Td": lfTd, "Tu": lfTu, "ST": lfST, "B": lfB, "U": lfU, "f": lfFront, "ft": lfFrontT,
	"b": lfBack, "s": lfServer, "si": lfSrvIP, "sp": lfSrvPort, "bi": lfBackIP, "bp": lfBackPort,
	"ts": lfTs, "tsc": lfTsc, "CC": lfCC, "CS": lfCS, "ac": lfAc, "fc": lfFc, "bc": lfBc, "sc": lfSc,
	"rc": lfRc, "sq": lfSq, "bq": lfBq, "lc": lfLc, "ms": lfMs, "t": lfDate, "tr": lfReqDate,
	"trg": lfReqGMT, "trl": lfReqLocal, "T": lfGMT, "Tl": lfLocal, "r": lfReq, "HM": lfMethod,
	"HU": lfURI, "HP": lfPath, "HPO": lfPathOnly, "HQ": lfQuery, "HV": lfVersion,
	"hr": lfEmpty, "hs": lfEmpty, "hrl": lfEmpty, "hsl": lfEmpty, "sslv": lfSSLv, "sslc": lfSSLc,
}

// HTTPLogVars are the variables that need an HTTP request; haproxy
// refuses them in a "mode tcp" log-format.
var HTTPLogVars = map[string]bool{"CC": true, "CS": true, "HM": true, "HP": true, "HPO": true, "HQ": true,
	"HU": true, "HV": true, "Ta": true, "Ti": true, "Tq": true, "TR": true, "Tr": true, "r": true,
	"tr": true, "trg": true, "trl": true, "tsc": true}

// TrafficLogVar returns the fetch behind a variable of a traffic log
// line: those of LogVar and those read from Txn.Log, which are known
// only when the request ends.
func TrafficLogVar(name string) (f Fetcher, ok bool) {
	if lf, ok := txnLogVars[name]; ok {
		return lf, true
	}
	return LogVar(name)
}

// TrafficLogVarNames lists the variables TrafficLogVar knows, sorted.
func TrafficLogVarNames() []string {
	out := LogVarNames()
	for n := range txnLogVars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// unquoted reports whether +Q leaves the variable as is, as haproxy
// does for dates, termination states and captures.
func (f logField) unquoted() bool {
	switch f {
	case lfDate, lfReqDate, lfReqGMT, lfReqLocal, lfGMT, lfLocal, lfMs, lfTs, lfTsc, lfEmpty:
		return true
	}
	return false
}

// Fetch reads the field from t.Log; dates and texts are built in t's
// scratch buffer.
func (f logField) Fetch(t *Txn, s *Sample) bool {
	l := &t.Log
	switch f {
	case lfTR, lfTw, lfTc, lfTr, lfTa, lfTt, lfTh, lfTi, lfTq, lfTd, lfTu:
		return setInt(s, l.timer(f))
	case lfST:
		return setInt(s, int64(l.Status))
	case lfB:
		return setInt(s, l.BytesOut)
	case lfU:
		return setInt(s, l.BytesIn)
	case lfAc, lfFc, lfBc, lfSc, lfRc, lfSq, lfBq, lfLc:
		return setInt(s, l.count(f))
	case lfSrvIP, lfSrvPort, lfBackIP, lfBackPort:
		return l.addr(f, s)
	case lfDate, lfReqDate, lfReqGMT, lfReqLocal, lfGMT, lfLocal, lfMs:
		return t.date(f, s)
	case lfMethod, lfURI, lfPath, lfPathOnly, lfQuery, lfVersion, lfReq:
		return t.request(f, s)
	}
	return t.name(f, s)
}

func setInt(s *Sample, n int64) bool {
	s.Type, s.Int = TypeInt, n
	return true
}

func (t *Txn) setText(s *Sample, b []byte) bool {
	s.Type, s.Str = TypeStr, b
	return true
}

// timer returns timer f; the sums are -1 as soon as one part is.
func (l *LogInfo) timer(f logField) int64 {
	switch f {
	case lfTR:
		return l.TR
	case lfTw:
		return l.Tw
	case lfTc:
		return l.Tc
	case lfTr:
		return l.Tr
	case lfTa:
		return l.Ta
	case lfTt:
		return l.Tt
	case lfTh:
		return l.Th
	case lfTi:
		return l.Ti
	case lfTq:
		return sumTimers(l.Th, l.Ti, l.TR)
	case lfTu:
		// Tu = Tt - Ti: the time the user saw.
		return l.Tt - l.Ti
	}
	// Td = Tt - (Tq + Tw + Tc + Tr)
	if sum := sumTimers(l.Th, l.Ti, l.TR, l.Tw, l.Tc, l.Tr); sum >= 0 {
		return l.Tt - sum
	}
	return -1
}

func sumTimers(ts ...int64) int64 {
	var n int64
	for _, t := range ts {
		if t < 0 {
			return -1
		}
		n += t
	}
	return n
}

func (l *LogInfo) count(f logField) int64 {
	switch f {
	case lfAc:
		return l.ActConn
	case lfFc:
		return l.FeConn
	case lfBc:
		return l.BeConn
	case lfSc:
		return l.SrvConn
	case lfRc:
		return int64(l.Retries)
	case lfSq:
		return l.SrvQueue
	case lfBq:
		return l.BeQueue
	}
	return l.Counter
}

// addr yields %si, %sp, %bi or %bp; nothing before a server was reached.
func (l *LogInfo) addr(f logField, s *Sample) bool {
	a := l.ServerAddr
	if f == lfBackIP || f == lfBackPort {
		a = l.BackendSrc
	}
	if !a.IsValid() {
		return false
	}
	if f == lfSrvPort || f == lfBackPort {
		return setInt(s, int64(a.Port()))
	}
	s.Type, s.Addr = TypeIP, a.Addr().Unmap()
	return true
}

// name yields the names and states: %f %ft %b %s %ts %tsc %CC %CS, and
// the empty captures.
func (t *Txn) name(f logField, s *Sample) bool {
	l := &t.Log
	b := t.scratch[:0]
	switch f {
	case lfFront:
		b = append(b, l.Frontend...)
	case lfFrontT:
		b = append(b, l.Frontend...)
		if l.TLS {
			b = append(b, '~')
		}
	case lfBack:
		if b = append(b, l.Backend...); l.Backend == "" {
			b = append(b, l.Frontend...)
		}
	case lfServer:
		if b = append(b, l.Server...); l.Server == "" {
			b = append(b, "<NOSRV>"...)
		}
	case lfTs:
		b = append(b, l.Term[:]...)
	case lfTsc:
		b = append(append(b, l.Term[:]...), l.Cookie[:]...)
	case lfCC, lfCS:
		return false // no capture: "-"
	case lfSSLv, lfSSLc:
		v := l.TLSVersion
		if f == lfSSLc {
			v = l.TLSCipher
		}
		if v == "" {
			return false
		}
		b = append(b, v...)
	}
	t.scratch = b
	return t.setText(s, b)
}

var badReq = []byte("<BADREQ>")

// request yields the parts of the request line: %r %HM %HU %HP %HPO %HQ
// %HV.
func (t *Txn) request(f logField, s *Sample) bool {
	r := &t.Req
	if t.Log.BadReq || r.Method == nil {
		return t.setText(s, badReq)
	}
	switch f {
	case lfMethod:
		return t.setText(s, r.Method)
	case lfURI:
		return t.setText(s, r.URI)
	case lfPath:
		u := r.URI
		if i := indexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return t.setText(s, u)
	case lfPathOnly:
		return t.setText(s, r.Path())
	case lfQuery:
		if i := indexByte(r.URI, '?'); i >= 0 {
			return t.setText(s, r.URI[i:])
		}
		return false
	case lfVersion:
		return t.setText(s, r.Version)
	}
	b := append(t.scratch[:0], r.Method...)
	b = append(append(b, ' '), r.URI...)
	b = append(append(b, ' '), r.Version...)
	t.scratch = b
	return t.setText(s, b)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// date yields the dates: %t and %tr as "24/Nov/2026:05:46:41.286" in
// local time, %T %Tl %trg %trl as "24/Nov/2026:05:46:41 +0000", %ms.
func (t *Txn) date(f logField, s *Sample) bool {
	l := &t.Log
	d := l.Accept
	switch f {
	case lfReqDate, lfReqGMT, lfReqLocal:
		d = l.Request
	}
	b := t.scratch[:0]
	switch f {
	case lfMs:
		n := d.Nanosecond() / 1e6
		b = append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
	case lfDate, lfReqDate:
		b = AppendLogDate(b, d.Local(), true)
	case lfGMT, lfReqGMT:
		b = AppendLogDate(b, d.UTC(), false)
	default:
		b = AppendLogDate(b, d.Local(), false)
	}
	t.scratch = b
	return t.setText(s, b)
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendLogDate appends d as haproxy's log dates: "02/Jan/2006:15:04:05"
// then ".000" (ms) or " -0700" (!ms).
func AppendLogDate(b []byte, d time.Time, ms bool) []byte {
	y, mo, day := d.Date()
	h, mi, sec := d.Clock()
	b = append2(b, day)
	b = append(append(b, '/'), monthNames[mo-1]...)
	b = strconv.AppendInt(append(b, '/'), int64(y), 10)
	b = append2(append(b, ':'), h)
	b = append2(append(b, ':'), mi)
	b = append2(append(b, ':'), sec)
	if ms {
		n := d.Nanosecond() / 1e6
		return append(append2(append(b, '.'), n/10), byte('0'+n%10))
	}
	_, off := d.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, ' ', sign)
	return append2(append2(b, off/3600), off/60%60)
}

// append2 appends n (0 to 99; more for ms/10) with at least two digits.
func append2(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// fetchZero yields 0: haproxy's task profiling counters (cpu_calls,
// lat_ns_avg...), which are 0 while profiling is off, its default, and
// which gohap does not keep.
type fetchZero struct{}

func (fetchZero) Fetch(t *Txn, s *Sample) bool { return setInt(s, 0) }

func init() {
	var list []Fetch
	for _, n := range []string{"cpu_calls", "cpu_ns_avg", "cpu_ns_tot", "lat_ns_avg", "lat_ns_tot"} {
		list = append(list, Fetch{Name: n, Out: TypeInt, New: newConst(fetchZero{})})
	}
	registerFetches(list)
}
