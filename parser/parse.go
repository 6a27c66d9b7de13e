package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// grammar is built once; it holds no state between parses.
var grammar = participle.MustBuild[File](
	participle.Lexer(lineDefinition{}),
	participle.UseLookahead(4),
)

// Parsed is one file read into an AST, with the messages of its
// .diag/.notice/.warning lines.
type Parsed struct {
	File  *File
	Diags []Diag
	// Truncated is set when the file does not end with a newline:
	// haproxy 2.6 refuses such a file, and Compile reports it with the
	// other errors.
	Truncated *Error
	// name is the file's name; env is the environment each part of the
	// file was read with.
	name string
	env  envTimeline
}

// Env returns the environment at the end of the file: the one it was
// read with, changed by its global setenv, presetenv, resetenv and
// unsetenv lines. The next file of a configuration is read with it.
func (p *Parsed) Env() *Environ { return p.env.last() }

// truncation returns the error for a file that does not end with a
// newline, or nil.
func truncation(filename, src string) *Error {
	if src == "" || strings.HasSuffix(src, "\n") {
		return nil
	}
	i := strings.LastIndexByte(src, '\n')
	pos := lexer.Position{Filename: filename, Offset: len(src), Line: strings.Count(src, "\n") + 1, Column: len(src) - i}
	return &Error{Pos: pos, Msg: "missing LF on last line, file might have been truncated"}
}

// ParseFile reads src (the text of file filename) into an AST.
func ParseFile(filename, src string, opt Options) (*Parsed, error) {
	toks, diags, env, err := lexFile(filename, src, opt)
	if err != nil {
		return nil, err
	}
	pl, err := lexer.Upgrade(&sliceLexer{toks: toks})
	if err != nil {
		return nil, err
	}
	f, err := grammar.ParseFromLexer(pl)
	if err != nil {
		return nil, syntaxError(filename, err, toks)
	}
	return &Parsed{File: f, Diags: diags, Truncated: truncation(filename, src), name: filename, env: env}, nil
}

// syntaxError turns participle's error into ours, with a message an
// operator can act on.
func syntaxError(filename string, err error, toks []lexer.Token) error {
	var pe participle.Error
	if !errors.As(err, &pe) {
		return ErrorList{{Pos: lexer.Position{Filename: filename, Line: 1, Column: 1}, Msg: err.Error()}}
	}
	pos := pe.Position()
	msg := pe.Message()
	var ut *participle.UnexpectedTokenError
	if errors.As(err, &ut) {
		switch {
		case ut.Unexpected.Type == tokWord && ut.Unexpected.Pos.Column == 1:
			msg = fmt.Sprintf("unknown keyword '%s' out of section", ut.Unexpected.Value)
		case ut.Unexpected.Type == tokEOL && precedes(toks, ut.Unexpected.Pos, "if", "unless"):
			msg = fmt.Sprintf("'%s' must be followed by a condition", precedingWord(toks, ut.Unexpected.Pos))
		case ut.Unexpected.Type == tokEOL:
			msg = "unexpected end of line"
			if ut.Expect != "" {
				msg += fmt.Sprintf(" (expected %s)", ut.Expect)
			}
		}
	}
	return ErrorList{{Pos: pos, Msg: msg}}
}

// Value returns the word with quotes removed, escapes applied and
// "${VAR}" expanded from env.
func (w *Word) Value(env func(string) (string, bool)) (string, error) {
	return unquote(w.Raw, env)
}

// precedingWord returns the token just before position pos.
func precedingWord(toks []lexer.Token, pos lexer.Position) string {
	prev := ""
	for _, t := range toks {
		if t.Pos.Offset >= pos.Offset && t.Pos.Line >= pos.Line {
			break
		}
		prev = t.Value
	}
	return prev
}

// precedes reports whether the token before pos is one of words.
func precedes(toks []lexer.Token, pos lexer.Position, words ...string) bool {
	p := precedingWord(toks, pos)
	for _, w := range words {
		if p == w {
			return true
		}
	}
	return false
}
