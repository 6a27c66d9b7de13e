package rules

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Conv describes a converter keyword: ",lower", ",field(2,:)".
type Conv struct {
	Name             string
	MinArgs, MaxArgs int
	Out              Type
	// SameType: the output is the input as it came (set-var); Out is
	// then unused.
	SameType bool
	// New builds the converter from its arguments, already unquoted.
	New func(args []string, r Resolver) (Converter, error)
}

var convs = map[string]*Conv{}

var stringConvs = []Conv{
	{Name: "lower", Out: TypeStr, New: newConvConst(convCase{upper: false})},
	{Name: "upper", Out: TypeStr, New: newConvConst(convCase{upper: true})},
	{Name: "length", Out: TypeInt, New: newConvConst(convLen{})},
	{Name: "bool", Out: TypeBool, New: newConvConst(convBool{})},
	{Name: "not", Out: TypeBool, New: newConvConst(convBool{not: true})},
	{Name: "base64", Out: TypeStr, New: newConvConst(convBase64{})},
	{Name: "hex", Out: TypeStr, New: newConvConst(convHex{})},
	{Name: "field", MinArgs: 2, MaxArgs: 3, Out: TypeStr, New: newConvField(false)},
	{Name: "word", MinArgs: 2, MaxArgs: 3, Out: TypeStr, New: newConvField(true)},
	{Name: "regsub", MinArgs: 2, MaxArgs: 3, Out: TypeStr, New: newConvRegsub},
}

func init() { registerConvs(stringConvs) }

func registerConvs(list []Conv) {
	register(convs, list, func(c *Conv) string { return c.Name }, "converter")
}

// LookupConv returns the converter keyword named name.
func LookupConv(name string) (*Conv, bool) {
	c, ok := convs[name]
	return c, ok
}

// ConvNames lists the converter keywords, sorted, for the README.
func ConvNames() []string {
	out := make([]string, 0, len(convs))
	for n := range convs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NewConv checks a converter's arguments and builds it.
func NewConv(c *Conv, args []string, r Resolver) (Converter, error) {
	if len(args) < c.MinArgs || len(args) > c.MaxArgs {
		return nil, fmt.Errorf("converter '%s' expects %d to %d argument(s), got %d", c.Name, c.MinArgs, c.MaxArgs, len(args))
	}
	return c.New(args, r)
}

func newConvConst(c Converter) func([]string, Resolver) (Converter, error) {
	return func([]string, Resolver) (Converter, error) { return c, nil }
}

// convOut appends the converted bytes to the Txn's converter buffer and
// points the sample at them: earlier samples of the request stay valid.
func convOut(t *Txn, s *Sample, b []byte) {
	n := len(t.convBuf)
	t.convBuf = append(t.convBuf, b...)
	s.Type, s.Str = TypeStr, t.convBuf[n:len(t.convBuf):len(t.convBuf)]
}

type convCase struct{ upper bool }

func (c convCase) Convert(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	n := len(t.convBuf)
	for _, ch := range v {
		switch {
		case c.upper && ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		case !c.upper && ch >= 'A' && ch <= 'Z':
			ch += 'a' - 'A'
		}
		t.convBuf = append(t.convBuf, ch)
	}
	s.Type, s.Str = TypeStr, t.convBuf[n:len(t.convBuf):len(t.convBuf)]
	return true
}

type convLen struct{}

func (convLen) Convert(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(len(asStr(t, s)))
	return true
}

type convBool struct{ not bool }

func (c convBool) Convert(t *Txn, s *Sample) bool {
	v := s.Int != 0
	if s.Type == TypeStr {
		n, err := strconv.ParseInt(string(s.Str), 10, 64)
		v = err == nil && n != 0
	}
	s.Type, s.Int = TypeBool, 0
	if v != c.not {
		s.Int = 1
	}
	return true
}

type convBase64 struct{}

func (convBase64) Convert(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	n := len(t.convBuf)
	t.convBuf = base64.StdEncoding.AppendEncode(t.convBuf, v)
	s.Type, s.Str = TypeStr, t.convBuf[n:len(t.convBuf):len(t.convBuf)]
	return true
}

type convHex struct{}

func (convHex) Convert(t *Txn, s *Sample) bool {
	const digits = "0123456789ABCDEF"
	v := asStr(t, s)
	n := len(t.convBuf)
	for _, b := range v {
		t.convBuf = append(t.convBuf, digits[b>>4], digits[b&15])
	}
	s.Type, s.Str = TypeStr, t.convBuf[n:len(t.convBuf):len(t.convBuf)]
	return true
}

// convField is field(index,delimiters[,count]) and word(...): the
// index-th part (from 1; negative from the end) between delimiters;
// word skips empty parts.
type convField struct {
	index, count int
	delims       string
	word         bool
}

func newConvField(word bool) func([]string, Resolver) (Converter, error) {
	return func(args []string, _ Resolver) (Converter, error) {
		c := &convField{delims: args[1], word: word, count: 1}
		var err error
		if c.index, err = strconv.Atoi(args[0]); err != nil || c.index == 0 {
			return nil, fmt.Errorf("invalid index '%s'", args[0])
		}
		if len(args) > 2 {
			if c.count, err = strconv.Atoi(args[2]); err != nil || c.count < 0 {
				return nil, fmt.Errorf("invalid count '%s'", args[2])
			}
		}
		return c, nil
	}
}

func (c *convField) Convert(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	// Part boundaries: every delimiter character ends a part; word
	// skips empty parts.
	var starts, ends [64]int
	n, start := 0, 0
	for i := 0; i <= len(v) && n < len(starts); i++ {
		if i < len(v) && strings.IndexByte(c.delims, v[i]) < 0 {
			continue
		}
		if !c.word || i > start {
			starts[n], ends[n] = start, i
			n++
		}
		start = i + 1
	}
	i := c.index - 1
	if c.index < 0 {
		i = n + c.index
	}
	if i < 0 || i >= n {
		convOut(t, s, nil)
		return true
	}
	last := n - 1
	if c.count > 0 {
		last = min(last, i+c.count-1)
	}
	convOut(t, s, v[starts[i]:ends[last]])
	return true
}

// convRegsub is regsub(regex,subst[,flags]): the first match (all with
// flag g) replaced by subst, where \1.. are groups.
type convRegsub struct {
	re     *regexp.Regexp
	subst  []byte
	global bool
}

func newConvRegsub(args []string, _ Resolver) (Converter, error) {
	c := &convRegsub{}
	pattern := args[0]
	if len(args) > 2 {
		for _, f := range args[2] {
			switch f {
			case 'g':
				c.global = true
			case 'i':
				pattern = "(?i)" + pattern
			default:
				return nil, fmt.Errorf("unknown regsub flag '%c'", f)
			}
		}
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid regex '%s': %v", args[0], err)
	}
	c.re = re
	c.subst = []byte(regexp.MustCompile(`\\([0-9])`).ReplaceAllString(strings.ReplaceAll(args[1], "$", "$$"), "$${$1}"))
	return c, nil
}

func (c *convRegsub) Convert(t *Txn, s *Sample) bool {
	v := asStr(t, s)
	var out []byte
	if c.global {
		out = c.re.ReplaceAll(v, c.subst)
	} else if m := c.re.FindSubmatchIndex(v); m != nil {
		out = append(append(append([]byte{}, v[:m[0]]...), c.re.Expand(nil, c.subst, v, m)...), v[m[1]:]...)
	} else {
		out = v
	}
	convOut(t, s, out)
	return true
}
