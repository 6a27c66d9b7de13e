// Package parser reads HAProxy configuration text into an AST that keeps
// every position, and compiles the AST into a checked rules.Graph.
package parser

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types of HAProxy's line syntax. A line is words separated by
// blanks; the first word of a line that opens a section is a Section token.
const (
	tokSection lexer.TokenType = iota + 1
	tokWord
	tokEOL
)

// sectionKeywords open a new section when they start a line, wherever the
// line is, as in HAProxy.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true, "mailers": true, "http-errors": true,
	"cache": true, "program": true, "ring": true, "traces": true, "log-forward": true,
	"crt-store": true,
}

// lineDefinition describes the token types to participle. Tokens are made
// by lexFile, not by participle, so that .if blocks are resolved first.
type lineDefinition struct{}

func (lineDefinition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{"EOF": lexer.EOF, "Section": tokSection, "Word": tokWord, "EOL": tokEOL}
}

func (lineDefinition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	toks, _, _, err := lexFile(filename, string(src), Options{})
	if err != nil {
		return nil, err
	}
	return &sliceLexer{toks: toks}, nil
}

// sliceLexer replays tokens already made.
type sliceLexer struct {
	toks []lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	if l.i >= len(l.toks) {
		return lexer.EOFToken(l.endPos()), nil
	}
	t := l.toks[l.i]
	l.i++
	return t, nil
}

func (l *sliceLexer) endPos() lexer.Position {
	if len(l.toks) == 0 {
		return lexer.Position{Line: 1, Column: 1}
	}
	return l.toks[len(l.toks)-1].Pos
}

// rawWord is one word of a line as written, quotes and escapes kept.
type rawWord struct {
	text string
	pos  lexer.Position
}

// splitLine cuts one line into words at blanks outside quotes and
// escapes, and stops at an unquoted '#'. It reports an unterminated quote
// at the quote's position.
func splitLine(line string, pos lexer.Position) ([]rawWord, error) {
	var words []rawWord
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			break
		}
		start := i
		var quote byte
		quotePos := 0
		for i < len(line) {
			c := line[i]
			if quote != 0 {
				if c == quote {
					quote = 0
				} else if c == '\\' && quote == '"' && i+1 < len(line) {
					i++
				}
				i++
				continue
			}
			if c == ' ' || c == '\t' || c == '\r' || c == '#' {
				break
			}
			if c == '\'' || c == '"' {
				quote, quotePos = c, i
			} else if c == '\\' && i+1 < len(line) {
				i++
			}
			i++
		}
		if quote != 0 {
			p := pos
			p.Column += quotePos
			p.Offset += quotePos
			return nil, &Error{Pos: p, Msg: fmt.Sprintf("unmatched quote (%c)", quote)}
		}
		p := pos
		p.Column += start
		p.Offset += start
		words = append(words, rawWord{text: line[start:i], pos: p})
	}
	return words, nil
}

// Options are the inputs of parsing that do not come from the file.
type Options struct {
	// Env looks up environment variables for "${VAR}" and .if defined();
	// nil means none is set.
	Env func(string) (string, bool)
	// Features are the names feature() reports as present.
	Features []string
	// Version is what version_atleast/version_before compare with.
	Version string
}

// withEnv returns o looking variables up in env.
func (o Options) withEnv(env *Environ) Options {
	o.Env = env.Lookup
	return o
}

func (o Options) lookup(name string) (string, bool) {
	if o.Env == nil {
		return "", false
	}
	return o.Env(name)
}

// Diag is a message of a .diag/.notice/.warning/.alert line or a warning
// found while reading.
type Diag struct {
	Pos   lexer.Position
	Level string // "DIAG", "NOTICE", "WARNING", "ALERT"
	Msg   string
}

// condFrame is one open .if block.
type condFrame struct {
	pos       lexer.Position
	parentOn  bool // lines around the block are emitted
	on        bool // lines of the current branch are emitted
	taken     bool // a branch was already chosen
	sawElse   bool
	directive string
}

// lexFile turns a file into tokens: words, section starts and line ends,
// with .if/.elif/.else/.endif blocks already resolved and their messages
// returned. The environment changes of global setenv-like lines apply to
// the lines after them, as in haproxy; the timeline says which
// environment each part of the file was read with. Errors carry
// file:line:col.
func lexFile(filename, src string, opt Options) ([]lexer.Token, []Diag, envTimeline, error) {
	var (
		toks    []lexer.Token
		diags   []Diag
		errs    ErrorList
		stack   []condFrame
		section string
	)
	env := newEnviron(opt.lookup)
	timeline := envTimeline{{0, env}}
	on := func() bool { return len(stack) == 0 || stack[len(stack)-1].on }
	offset := 0
	for n, full := range strings.SplitAfter(src, "\n") {
		if full == "" {
			continue
		}
		line := strings.TrimSuffix(full, "\n")
		pos := lexer.Position{Filename: filename, Offset: offset, Line: n + 1, Column: 1}
		offset += len(full)
		if strings.IndexByte(line, 0) >= 0 {
			errs = append(errs, &Error{Pos: pos, Msg: "NUL character is not allowed"})
			continue
		}
		words, err := splitLine(line, pos)
		if err != nil {
			if on() {
				errs = append(errs, err.(*Error))
			}
			continue
		}
		if len(words) == 0 {
			continue
		}
		first := words[0].text
		if strings.HasPrefix(first, ".") {
			if handled, err := directive(&stack, &diags, words, opt.withEnv(env)); handled {
				if err != nil {
					errs = append(errs, err)
				}
				continue
			}
		}
		if !on() {
			continue
		}
		if sectionKeywords[first] {
			section = first
		} else if section == "global" && envKeywords[first] {
			env = envLine(env, words)
			timeline = append(timeline, envMark{offset, env})
		}
		for i, w := range words {
			typ := tokWord
			if i == 0 && sectionKeywords[w.text] {
				typ = tokSection
			}
			if i > 0 && len(w.text) > 1 && strings.TrimLeft(w.text, "!") == "{" {
				// "!{" negates an anonymous ACL: HAProxy reads the bangs
				// and the brace as separate words.
				for j := 0; j < len(w.text)-1; j++ {
					p := w.pos
					p.Column += j
					p.Offset += j
					toks = append(toks, lexer.Token{Type: tokWord, Value: "!", Pos: p})
				}
				p := w.pos
				p.Column += len(w.text) - 1
				p.Offset += len(w.text) - 1
				toks = append(toks, lexer.Token{Type: tokWord, Value: "{", Pos: p})
				continue
			}
			toks = append(toks, lexer.Token{Type: typ, Value: w.text, Pos: w.pos})
		}
		eol := pos
		eol.Column += len(line)
		eol.Offset += len(line)
		toks = append(toks, lexer.Token{Type: tokEOL, Value: "\n", Pos: eol})
	}
	for _, f := range stack {
		errs = append(errs, &Error{Pos: f.pos, Msg: fmt.Sprintf("unterminated '%s' (no matching '.endif')", f.directive)})
	}
	return toks, diags, timeline, errs.Err()
}

// directive handles a line starting with a dot-keyword. It reports whether
// the word was a directive.
func directive(stack *[]condFrame, diags *[]Diag, words []rawWord, opt Options) (bool, *Error) {
	kw := words[0].text
	pos := words[0].pos
	on := len(*stack) == 0 || (*stack)[len(*stack)-1].on
	top := func() *condFrame { return &(*stack)[len(*stack)-1] }
	switch kw {
	case ".if":
		f := condFrame{pos: pos, parentOn: on, directive: ".if"}
		if on {
			v, err := evalDirective(words[1:], opt)
			if err != nil {
				*stack = append(*stack, f)
				return true, &Error{Pos: pos, Msg: err.Error()}
			}
			f.on, f.taken = v, v
		}
		*stack = append(*stack, f)
	case ".elif":
		if len(*stack) == 0 {
			return true, &Error{Pos: pos, Msg: "'.elif' without a matching '.if'"}
		}
		f := top()
		if f.sawElse {
			return true, &Error{Pos: pos, Msg: "'.elif' after '.else'"}
		}
		f.on = false
		if f.parentOn && !f.taken {
			v, err := evalDirective(words[1:], opt)
			if err != nil {
				return true, &Error{Pos: pos, Msg: err.Error()}
			}
			f.on, f.taken = v, v
		}
	case ".else":
		if len(*stack) == 0 {
			return true, &Error{Pos: pos, Msg: "'.else' without a matching '.if'"}
		}
		f := top()
		if f.sawElse {
			return true, &Error{Pos: pos, Msg: "'.else' after '.else'"}
		}
		f.sawElse = true
		f.on = f.parentOn && !f.taken
		f.taken = true
	case ".endif":
		if len(*stack) == 0 {
			return true, &Error{Pos: pos, Msg: "'.endif' without a matching '.if'"}
		}
		*stack = (*stack)[:len(*stack)-1]
	case ".diag", ".notice", ".warning", ".alert":
		if !on {
			return true, nil
		}
		parts := make([]string, 0, len(words)-1)
		for _, w := range words[1:] {
			v, err := unquote(w.text, opt.lookup)
			if err != nil {
				return true, &Error{Pos: w.pos, Msg: err.Error()}
			}
			parts = append(parts, v)
		}
		level := strings.ToUpper(kw[1:])
		*diags = append(*diags, Diag{Pos: pos, Level: level, Msg: strings.Join(parts, " ")})
		if kw == ".alert" {
			return true, &Error{Pos: pos, Msg: strings.Join(parts, " ")}
		}
	default:
		return false, nil
	}
	return true, nil
}
