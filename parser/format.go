package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"gohap/runtime/rules"
)

// format compiles a log-format string: text, "%[fetch]" samples, "%%",
// the variables of rules.LogVar ("%ci") with optional flags ("%{+X}ci",
// "%{+Q}o" for all the variables after it). It returns nil after
// reporting an error.
func (c *compiler) format(p *proxy, pos lexer.Position, s string) *rules.Format {
	return c.formatString(p, pos, s, false, false)
}

// logFormat compiles a log line's format ("unique-id-format"), where
// runs of spaces are separators (rules.FormatBuilder.LogLit).
func (c *compiler) logFormat(p *proxy, pos lexer.Position, s string) *rules.Format {
	return c.formatString(p, pos, s, true, false)
}

// trafficFormat compiles a traffic log line ("log-format"): a log line
// that may also use the variables known when the request ends
// (rules.TrafficLogVar), and prints a missing sample as "-".
func (c *compiler) trafficFormat(p *proxy, pos lexer.Position, s string) *rules.Format {
	f := c.formatString(p, pos, s, true, true)
	if f != nil {
		f.DashMissing = true
	}
	return f
}

func (c *compiler) formatString(p *proxy, pos lexer.Position, s string, logLine, traffic bool) *rules.Format {
	lookup, names := rules.LogVar, rules.LogVarNames
	if traffic {
		lookup, names = rules.TrafficLogVar, rules.TrafficLogVarNames
	}
	var b rules.FormatBuilder
	lit := b.Lit
	if logLine {
		lit = b.LogLit
	}
	var all rules.VarOpts // the flags of "%o"
	for len(s) > 0 {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			lit(s)
			break
		}
		lit(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			lit("%")
			s = s[1:]
			continue
		}
		opts, rest, ok := c.formatFlags(pos, s, all)
		if !ok {
			return nil
		}
		if s = rest; strings.HasPrefix(s, "[") {
			// haproxy quotes and hexes samples in traffic log lines only.
			if !traffic {
				opts = 0
			}
			if s, ok = c.formatSample(&b, p, pos, s, opts); !ok {
				return nil
			}
			continue
		}
		n := 0
		for n < len(s) && (isAlpha(s[n]) || isDigit(s[n])) {
			n++
		}
		name := s[:n]
		s = s[n:]
		if name == "o" {
			all = opts
			continue
		}
		f, ok := lookup(name)
		if ok && p == nil {
			c.errorf(pos, "log-format variable '%%%s' needs a connection, which a global set-var-fmt has not", name)
			return nil
		}
		if !ok {
			c.errorf(pos, "log-format variable '%%%s' is not supported (gohap evaluates %%[...], %%%s, %%o and %%%%)", name, strings.Join(names(), ", %"))
			return nil
		}
		b.Var(f, opts)
	}
	return b.Format()
}

// formatSample compiles the "[fetch,conv...]" that starts s into b and
// returns what follows it; ok is false after reporting an error.
func (c *compiler) formatSample(b *rules.FormatBuilder, p *proxy, pos lexer.Position, s string, opts rules.VarOpts) (rest string, ok bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		c.errorf(pos, "missing ']' after '%%[' in '%s'", s)
		return "", false
	}
	sf := c.sampleFetch(p, pos, s[1:end], false)
	if sf == nil {
		return "", false
	}
	if opts != 0 {
		b.QuotedSample(opts, sf.fetch, sf.convs...)
	} else {
		b.Sample(sf.fetch, sf.convs...)
	}
	return s[end+1:], true
}

// formatFlags reads the "{+X,-Q}" that may start s, after a '%': the
// flags, from all on, and what follows. gohap knows Q and X.
func (c *compiler) formatFlags(pos lexer.Position, s string, all rules.VarOpts) (rules.VarOpts, string, bool) {
	if !strings.HasPrefix(s, "{") {
		return all, s, true
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		c.errorf(pos, "missing '}' after '%%{' in '%s'", s)
		return 0, "", false
	}
	opts := all
	for _, f := range strings.Split(s[1:end], ",") {
		var bit rules.VarOpts
		switch f[min(1, len(f)):] {
		case "Q":
			bit = rules.VarQuote
		case "X":
			bit = rules.VarHex
		}
		switch {
		case bit != 0 && f[0] == '+':
			opts |= bit
		case bit != 0 && f[0] == '-':
			opts &^= bit
		default:
			c.errorf(pos, "log-format flag '%s' is not supported (gohap knows +Q, -Q, +X and -X)", f)
			return 0, "", false
		}
	}
	return opts, s[end+1:], true
}
