package parser

import (
	"fmt"
	"strings"
)

// unquote resolves a word as HAProxy does: single quotes keep everything,
// double quotes expand "${VAR}", "${VAR-default}" and "$VAR" and take
// backslash escapes, and outside quotes backslash escapes apply but
// variables are left as written (HAProxy 2.6 expands only within double
// quotes).
func unquote(raw string, env func(string) (string, bool)) (string, error) {
	if !strings.ContainsAny(raw, "'\"\\$") {
		return raw, nil
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\'' && quote == 0, c == '"' && quote == 0:
			quote = c
		case c == '"' && quote == '"':
			quote = 0
		case c == '\\':
			if i+1 >= len(raw) {
				b.WriteByte(c)
				continue
			}
			i++
			switch e := raw[i]; e {
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'x':
				if i+2 < len(raw) {
					var v byte
					if _, err := fmt.Sscanf(raw[i+1:i+3], "%02x", &v); err == nil {
						b.WriteByte(v)
						i += 2
						continue
					}
				}
				return "", fmt.Errorf("invalid '\\x' escape in '%s'", raw)
			case ' ', '#', '\\', '\'', '"':
				b.WriteByte(e)
			case '$':
				// an escape only where '$' would expand: in double quotes
				if quote != '"' {
					b.WriteByte('\\')
				}
				b.WriteByte(e)
			default:
				// haproxy keeps the backslash of an escape it does not
				// know: "\1" reaches a regex replacement as written.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '$' && quote == '"':
			n, err := expand(&b, raw[i:], env)
			if err != nil {
				return "", err
			}
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	if quote != 0 {
		return "", fmt.Errorf("unmatched quote (%c)", quote)
	}
	return b.String(), nil
}

// expand writes the value of the variable reference at the start of s
// ("${NAME}", "${NAME-default}" or "$NAME") and returns how many bytes it
// used. A '$' that starts no reference is kept.
func expand(b *strings.Builder, s string, env func(string) (string, bool)) (int, error) {
	lookup := func(name string) (string, bool) {
		if env == nil {
			return "", false
		}
		return env(name)
	}
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, fmt.Errorf("missing '}' after '%s'", s)
		}
		ref := s[2:end]
		name, def, hasDef := strings.Cut(ref, "-")
		if !validVarName(name) {
			return 0, fmt.Errorf("invalid variable name '%s'", name)
		}
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		}
		return end + 1, nil
	}
	n := 1
	for n < len(s) && (isAlpha(s[n]) || s[n] == '_' || (n > 1 && isDigit(s[n]))) {
		n++
	}
	if n == 1 {
		b.WriteByte('$')
		return 1, nil
	}
	v, _ := lookup(s[1:n])
	b.WriteString(v)
	return n, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlpha(c) || c == '_' || (i > 0 && isDigit(c))) {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
