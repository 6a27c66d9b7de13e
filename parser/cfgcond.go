package parser

import (
	"fmt"
	"strconv"
	"strings"
)

// evalDirective evaluates the condition of a .if or .elif line: terms are
// integers (true when not zero) or predicates such as defined(VAR),
// combined with '!', '&&', '||' and parentheses.
func evalDirective(words []rawWord, opt Options) (bool, error) {
	if len(words) == 0 {
		return false, fmt.Errorf("missing condition")
	}
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = w.text
	}
	return EvalCond(strings.Join(parts, " "), opt)
}

// EvalCond evaluates a configuration condition expression, the language of
// .if lines and "gohap -cc".
func EvalCond(expr string, opt Options) (bool, error) {
	p := &condParser{s: expr, opt: opt}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	p.skip()
	if p.i < len(p.s) {
		return false, fmt.Errorf("unparsable conditional expression '%s': unexpected '%s'", expr, p.s[p.i:])
	}
	return v, nil
}

type condParser struct {
	s   string
	i   int
	opt Options
}

func (p *condParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *condParser) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *condParser) or() (bool, error) {
	v, err := p.and()
	if err != nil {
		return false, err
	}
	for p.eat("||") {
		w, err := p.and()
		if err != nil {
			return false, err
		}
		v = v || w
	}
	return v, nil
}

func (p *condParser) and() (bool, error) {
	v, err := p.unary()
	if err != nil {
		return false, err
	}
	for p.eat("&&") {
		w, err := p.unary()
		if err != nil {
			return false, err
		}
		v = v && w
	}
	return v, nil
}

func (p *condParser) unary() (bool, error) {
	if p.eat("!") {
		v, err := p.unary()
		return !v, err
	}
	if p.eat("(") {
		v, err := p.or()
		if err != nil {
			return false, err
		}
		if !p.eat(")") {
			return false, fmt.Errorf("unparsable conditional expression '%s': missing ')'", p.s)
		}
		return v, nil
	}
	return p.term()
}

// term is an integer or a predicate call.
func (p *condParser) term() (bool, error) {
	p.skip()
	start := p.i
	for p.i < len(p.s) && (isAlpha(p.s[p.i]) || isDigit(p.s[p.i]) || p.s[p.i] == '_' || p.s[p.i] == '-') {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return false, fmt.Errorf("unparsable conditional expression '%s'", p.s)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		n, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return false, fmt.Errorf("unparsable conditional expression '%s': '%s' is neither a number nor a predicate", p.s, name)
		}
		return n != 0, nil
	}
	p.i++
	args, err := p.args()
	if err != nil {
		return false, err
	}
	return p.call(name, args)
}

// args reads comma-separated arguments up to ')', with quotes resolved.
func (p *condParser) args() ([]string, error) {
	var args []string
	var cur strings.Builder
	var quote byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == '"' && c == '$':
			n, err := expand(&cur, p.s[p.i-1:], p.opt.lookup)
			if err != nil {
				return nil, err
			}
			p.i += n - 1
		case quote == 0 && c == ',':
			args = append(args, strings.TrimSpace(cur.String()))
			cur.Reset()
		case quote == 0 && c == ')':
			if s := strings.TrimSpace(cur.String()); s != "" || len(args) > 0 {
				args = append(args, s)
			}
			return args, nil
		default:
			cur.WriteByte(c)
		}
	}
	return nil, fmt.Errorf("unparsable conditional expression '%s': missing ')'", p.s)
}

func (p *condParser) call(name string, args []string) (bool, error) {
	want := map[string]int{"defined": 1, "feature": 1, "streq": 2, "strneq": 2,
		"version_atleast": 1, "version_before": 1, "enabled": 1}
	n, ok := want[name]
	if !ok {
		return false, fmt.Errorf("unknown conditional predicate '%s'", name)
	}
	if len(args) != n {
		return false, fmt.Errorf("predicate '%s' expects %d argument(s), got %d", name, n, len(args))
	}
	switch name {
	case "defined":
		_, ok := p.opt.lookup(args[0])
		return ok, nil
	case "feature":
		for _, f := range p.opt.Features {
			if f == args[0] {
				return true, nil
			}
		}
		return false, nil
	case "streq":
		return args[0] == args[1], nil
	case "strneq":
		return args[0] != args[1], nil
	case "enabled":
		return false, nil
	case "version_atleast":
		return compareVersion(p.opt.Version, args[0]) >= 0, nil
	}
	return compareVersion(p.opt.Version, args[0]) < 0, nil
}

// compareVersion compares dotted versions numerically, as HAProxy does
// ("2.6" < "2.6.1" < "2.10").
func compareVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(strings.TrimLeft(as[i], "v"))
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
