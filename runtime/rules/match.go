package rules

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// MatchKind is an ACL match method, as chosen by "-m" or implied by the
// fetch's type or an ACL keyword such as path_beg.
type MatchKind uint8

// The match methods gohap implements.
const (
	MatchFound MatchKind = iota
	MatchBool
	MatchInt
	MatchIP
	MatchLen
	MatchStr
	MatchBeg
	MatchEnd
	MatchSub
	MatchDir
	MatchDom
	MatchReg
	// MatchMeth is how the method fetch matches: the methods HTTP knows
	// compare as names, case-sensitively; -i applies only to others.
	MatchMeth
)

var matchNames = [...]string{"found", "bool", "int", "ip", "len", "str", "beg", "end", "sub", "dir", "dom", "reg", "meth"}

func (k MatchKind) String() string { return matchNames[k] }

// ParseMatchKind returns the match method named by "-m NAME".
func ParseMatchKind(name string) (MatchKind, bool) {
	for i, n := range matchNames {
		if n == name {
			return MatchKind(i), true
		}
	}
	return 0, false
}

// DefaultMatch is the method an ACL on fetch f uses when none is given.
func DefaultMatch(f *Fetch) MatchKind {
	if f.HasMatch {
		return f.Match
	}
	switch f.Out {
	case TypeBool:
		return MatchBool
	case TypeInt:
		return MatchInt
	case TypeIP:
		return MatchIP
	}
	return MatchStr
}

// Matcher reports whether a sample matches an ACL's patterns.
type Matcher interface {
	Match(t *Txn, s *Sample) bool
}

// NewMatcher compiles patterns for method kind; icase is the "-i" flag.
func NewMatcher(kind MatchKind, patterns []string, icase bool) (Matcher, error) {
	switch kind {
	case MatchFound:
		if len(patterns) > 0 {
			return nil, fmt.Errorf("'-m found' takes no pattern, got '%s'", patterns[0])
		}
		return matchFound{}, nil
	case MatchBool:
		if len(patterns) > 0 {
			return nil, fmt.Errorf("'-m bool' takes no pattern, got '%s'", patterns[0])
		}
		return matchBool{}, nil
	case MatchInt, MatchLen:
		m, err := newIntMatcher(patterns)
		if err != nil {
			return nil, err
		}
		m.length = kind == MatchLen
		return m, nil
	case MatchIP:
		return newIPMatcher(patterns)
	case MatchMeth:
		m := &matchMeth{icase: icase}
		for _, p := range patterns {
			m.pats = append(m.pats, []byte(p))
		}
		return m, nil
	case MatchReg:
		m := &matchReg{}
		for _, p := range patterns {
			if icase {
				p = "(?i)" + p
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("invalid regex '%s': %v", p, err)
			}
			m.res = append(m.res, re)
		}
		return m, nil
	}
	m := &matchStr{kind: kind, icase: icase}
	for _, p := range patterns {
		m.pats = append(m.pats, []byte(p))
	}
	if kind == MatchStr && !icase && len(patterns) > 8 {
		m.set = make(map[string]struct{}, len(patterns))
		for _, p := range patterns {
			m.set[p] = struct{}{}
		}
	}
	return m, nil
}

type matchFound struct{}

func (matchFound) Match(*Txn, *Sample) bool { return true }

type matchBool struct{}

func (matchBool) Match(t *Txn, s *Sample) bool {
	switch s.Type {
	case TypeBool, TypeInt:
		return s.Int != 0
	case TypeStr:
		return len(s.Str) > 0
	}
	return s.Addr.IsValid()
}

// asStr returns the sample as text, casting integers and addresses.
func asStr(t *Txn, s *Sample) []byte {
	switch s.Type {
	case TypeStr:
		return s.Str
	case TypeInt, TypeBool:
		t.conv.Str = strconv.AppendInt(t.conv.Str[:0], s.Int, 10)
	case TypeIP:
		t.conv.Str = s.Addr.AppendTo(t.conv.Str[:0])
	}
	return t.conv.Str
}

type matchStr struct {
	kind  MatchKind
	icase bool
	pats  [][]byte
	set   map[string]struct{} // exact, case-sensitive and many patterns
}

func (m *matchStr) Match(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	if m.set != nil {
		_, ok := m.set[string(v)]
		return ok
	}
	for _, p := range m.pats {
		if m.one(v, p) {
			return true
		}
	}
	return false
}

func (m *matchStr) one(v, p []byte) bool {
	switch m.kind {
	case MatchStr:
		return len(v) == len(p) && m.eq(v, p)
	case MatchBeg:
		return len(v) >= len(p) && m.eq(v[:len(p)], p)
	case MatchEnd:
		return len(v) >= len(p) && m.eq(v[len(v)-len(p):], p)
	case MatchSub:
		return m.index(v, p) >= 0
	case MatchDir:
		return delimited(m, v, p, func(c byte) bool { return c == '/' })
	case MatchDom:
		return delimited(m, v, p, func(c byte) bool { return c == '/' || c == '.' })
	}
	return false
}

func (m *matchStr) eq(a, b []byte) bool {
	if m.icase {
		return bytes.EqualFold(a, b)
	}
	return bytes.Equal(a, b)
}

func (m *matchStr) index(v, p []byte) int {
	if !m.icase {
		return bytes.Index(v, p)
	}
	for i := 0; i+len(p) <= len(v); i++ {
		if bytes.EqualFold(v[i:i+len(p)], p) {
			return i
		}
	}
	return -1
}

// delimited reports whether p occurs in v bounded on both sides by a
// delimiter or an end of v (HAProxy's -m dir and -m dom). Delimiters at
// the pattern's own ends are ignored.
func delimited(m *matchStr, v, p []byte, isDelim func(byte) bool) bool {
	for len(p) > 0 && isDelim(p[0]) {
		p = p[1:]
	}
	for len(p) > 0 && isDelim(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	if len(p) == 0 {
		return false
	}
	for i := 0; i+len(p) <= len(v); i++ {
		if (i == 0 || isDelim(v[i-1])) && (i+len(p) == len(v) || isDelim(v[i+len(p)])) && m.eq(v[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

type matchReg struct{ res []*regexp.Regexp }

func (m *matchReg) Match(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	for _, re := range m.res {
		if re.Match(v) {
			return true
		}
	}
	return false
}

// intRange is an inclusive range; math.MinInt64/MaxInt64 stand for open ends.
type intRange struct{ lo, hi int64 }

type matchInt struct {
	ranges []intRange
	length bool // compare the sample's length (-m len)
}

func newIntMatcher(patterns []string) (*matchInt, error) {
	m := &matchInt{}
	op := ""
	for _, p := range patterns {
		switch p {
		case "eq", "ge", "gt", "le", "lt":
			op = p
			continue
		}
		if lo, hi, ok := strings.Cut(p, ":"); ok {
			r := intRange{lo: minInt, hi: maxInt}
			var err error
			if lo != "" {
				if r.lo, err = strconv.ParseInt(lo, 10, 64); err != nil {
					return nil, fmt.Errorf("'%s' is not a valid integer range", p)
				}
			}
			if hi != "" {
				if r.hi, err = strconv.ParseInt(hi, 10, 64); err != nil {
					return nil, fmt.Errorf("'%s' is not a valid integer range", p)
				}
			}
			m.ranges = append(m.ranges, r)
			continue
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid integer", p)
		}
		r := intRange{n, n}
		switch op {
		case "ge":
			r.hi = maxInt
		case "gt":
			r = intRange{n + 1, maxInt}
		case "le":
			r.lo = minInt
		case "lt":
			r = intRange{minInt, n - 1}
		}
		m.ranges = append(m.ranges, r)
	}
	if op != "" && len(m.ranges) == 0 {
		return nil, fmt.Errorf("missing value after operator '%s'", op)
	}
	return m, nil
}

const (
	minInt = -1 << 63
	maxInt = 1<<63 - 1
)

func (m *matchInt) Match(t *Txn, s *Sample) bool {
	var n int64
	switch {
	case m.length:
		n = int64(len(asStr(t, s)))
	case s.Type == TypeStr:
		v, err := strconv.ParseInt(string(bytes.TrimSpace(s.Str)), 10, 64)
		if err != nil {
			return false
		}
		n = v
	case s.Type == TypeIP:
		return false
	default:
		n = s.Int
	}
	for _, r := range m.ranges {
		if n >= r.lo && n <= r.hi {
			return true
		}
	}
	return false
}

type matchIP struct{ prefixes []netip.Prefix }

func newIPMatcher(patterns []string) (*matchIP, error) {
	m := &matchIP{}
	for _, p := range patterns {
		if strings.Contains(p, "/") {
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				// HAProxy also takes "addr/mask" with a dotted mask.
				a, mask, _ := strings.Cut(p, "/")
				addr, err1 := netip.ParseAddr(a)
				ma, err2 := netip.ParseAddr(mask)
				if err1 != nil || err2 != nil || !addr.Is4() || !ma.Is4() {
					return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", p)
				}
				bits := 0
				for _, b := range ma.As4() {
					for ; b&0x80 != 0; b <<= 1 {
						bits++
					}
				}
				pf = netip.PrefixFrom(addr, bits)
			}
			m.prefixes = append(m.prefixes, pf.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", p)
		}
		m.prefixes = append(m.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return m, nil
}

func (m *matchIP) Match(t *Txn, s *Sample) bool {
	a := s.Addr
	if s.Type == TypeStr {
		var err error
		if a, err = netip.ParseAddr(string(s.Str)); err != nil {
			return false
		}
	} else if s.Type != TypeIP {
		return false
	}
	a = a.Unmap()
	for _, p := range m.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// knownMethods are the methods HAProxy identifies by code.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true,
	"DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true}

type matchMeth struct {
	icase bool
	pats  [][]byte
}

func (m *matchMeth) Match(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	known := knownMethods[string(v)]
	for _, p := range m.pats {
		switch {
		case knownMethods[string(p)]:
			if string(v) == string(p) {
				return true
			}
		case known:
			// a known method never equals an unknown pattern
		case m.icase && bytes.EqualFold(v, p), string(v) == string(p):
			return true
		}
	}
	return false
}
