package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// logFormatVars are the short log-format variables gohap evaluates, as the
// fetch each stands for.
var logFormatVars = map[string]string{"ci": "src", "cp": "src_port", "fi": "dst", "fp": "dst_port"}

// format compiles a log-format string: text, "%[fetch]" samples, "%%",
// and the variables of logFormatVars. It returns nil after reporting an
// error.
func (c *compiler) format(p *proxy, pos lexer.Position, s string) *rules.Format {
	var b rules.FormatBuilder
	for len(s) > 0 {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.Lit(s)
			break
		}
		b.Lit(s[:i])
		s = s[i+1:]
		switch {
		case strings.HasPrefix(s, "%"):
			b.Lit("%")
			s = s[1:]
		case strings.HasPrefix(s, "["):
			end := strings.IndexByte(s, ']')
			if end < 0 {
				c.errorf(pos, "missing ']' after '%%[' in '%s'", s)
				return nil
			}
			sf := c.sampleFetch(p, pos, s[1:end], false)
			if sf == nil {
				return nil
			}
			b.Sample(sf.fetch, sf.convs...)
			s = s[end+1:]
		default:
			n := 0
			for n < len(s) && (isAlpha(s[n]) || isDigit(s[n])) {
				n++
			}
			fetch, ok := logFormatVars[s[:n]]
			if ok && p == nil {
				c.errorf(pos, "log-format variable '%%%s' needs a connection, which a global set-var-fmt has not", s[:n])
				return nil
			}
			if !ok {
				c.errorf(pos, "log-format variable '%%%s' is not supported (gohap evaluates %%[...], %%ci, %%cp, %%fi, %%fp and %%%%)", s[:n])
				return nil
			}
			f, _ := rules.LookupFetch(fetch)
			fr, _ := rules.NewFetch(f, nil, c.resolver(p))
			b.Sample(fr)
			s = s[n:]
		}
	}
	return b.Format()
}
