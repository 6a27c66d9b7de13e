package lua

import (
	"bytes"
	"errors"
	"fmt"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// compile parses and compiles a script. A syntax error reads like Lua's
// own, "file:line: message"; one caused by an operator Lua 5.3 added says
// so, since gohap's interpreter is a Lua 5.1.
func compile(file string, src []byte) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), file)
	if err != nil {
		var pe *parse.Error
		if !errors.As(err, &pe) {
			return nil, fmt.Errorf("error in Lua file '%s': %v", file, err)
		}
		line := pe.Pos.Line
		if op, opLine := lua53Operator(src); op != "" && (opLine <= line || line <= 0) {
			what := "bitwise operator"
			if op == "//" {
				what = "integer division"
			}
			return nil, fmt.Errorf("error in Lua file '%s': %s:%d: Lua 5.3 %s '%s' is not available: gohap runs Lua 5.1", file, file, opLine, what, op)
		}
		if line <= 0 {
			return nil, fmt.Errorf("error in Lua file '%s': %s: %s at the end of the file", file, file, pe.Message)
		}
		return nil, fmt.Errorf("error in Lua file '%s': %s:%d: %s near '%s'", file, file, line, pe.Message, pe.Token)
	}
	proto, err := glua.Compile(chunk, file)
	if err != nil {
		return nil, fmt.Errorf("error in Lua file '%s': %v", file, err)
	}
	return proto, nil
}

// lua53Operator finds the first operator of Lua 5.3 that Lua 5.1 lacks
// (integer division and the bitwise operators) outside strings and
// comments, and its line.
func lua53Operator(src []byte) (op string, line int) {
	line = 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		next := byte(0)
		if i+1 < len(src) {
			next = src[i+1]
		}
		switch {
		case c == '\n':
			line++
		case c == '-' && next == '-':
			i += 2
			if lvl, ok := longBracket(src[i:]); ok {
				i, line = skipLong(src, i, lvl, line)
				continue
			}
			for i < len(src) && src[i] != '\n' {
				i++
			}
			line++
		case c == '[':
			if lvl, ok := longBracket(src[i:]); ok {
				i, line = skipLong(src, i, lvl, line)
			}
		case c == '"' || c == '\'':
			for i++; i < len(src) && src[i] != c && src[i] != '\n'; i++ {
				if src[i] == '\\' && i+1 < len(src) {
					if src[i+1] == '\n' {
						line++
					}
					i++
				}
			}
		case c == '/' && next == '/':
			return "//", line
		case c == '<' && next == '<', c == '>' && next == '>':
			return string([]byte{c, next}), line
		case c == '&', c == '|', c == '~' && next != '=':
			return string(c), line
		}
	}
	return "", 0
}

// longBracket reports whether b opens a long bracket ("[[", "[==[") and
// its level.
func longBracket(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != '[' {
		return 0, false
	}
	n := 1
	for n < len(b) && b[n] == '=' {
		n++
	}
	if n < len(b) && b[n] == '[' {
		return n - 1, true
	}
	return 0, false
}

// skipLong skips a long string or comment that opens at src[i], returning
// the index of its last byte and the line there.
func skipLong(src []byte, i, level int, line int) (int, int) {
	closing := append(append([]byte{']'}, bytes.Repeat([]byte{'='}, level)...), ']')
	for j := i + level + 2; j < len(src); j++ {
		if src[j] == '\n' {
			line++
		}
		if bytes.HasPrefix(src[j:], closing) {
			return j + len(closing) - 1, line
		}
	}
	return len(src), line
}
