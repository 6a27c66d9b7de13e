package parser

import "github.com/alecthomas/participle/v2/lexer"

// File is a parsed configuration file: sections, each a header line and
// the statements under it.
type File struct {
	Sections []*Section `parser:"EOL* @@*"`
}

// Section is "global", "defaults [NAME]", "frontend NAME", and so on.
type Section struct {
	Pos   lexer.Position
	Kind  string       `parser:"@Section"`
	Args  []*Word      `parser:"@@* EOL+"`
	Stmts []*Statement `parser:"@@*"`
}

// Statement is one line inside a section. Lines that carry logic have
// their own production; the rest are a keyword, words and an optional
// condition, checked by the keyword tables of the compile step.
type Statement struct {
	Pos        lexer.Position
	ACL        *ACLStmt    `parser:"( @@"`
	UseBackend *UseBackend `parser:"| @@"`
	Rule       *RuleStmt   `parser:"| @@"`
	Server     *ServerStmt `parser:"| @@"`
	Bind       *BindStmt   `parser:"| @@"`
	Generic    *Generic    `parser:"| @@ ) EOL+"`
}

// ACLStmt is "acl NAME FETCH [FLAGS] [PATTERNS]", or gohap's extension
// "acl variable NAME [VALUES]" which declares a runtime variable and an
// ACL true while the variable holds one of VALUES.
type ACLStmt struct {
	Pos  lexer.Position
	Var  *VarDecl `parser:"'acl' ( 'variable' @@"`
	Name *Word    `parser:"| @@"`
	Expr *Expr    `parser:"  @@ )"`
}

// VarDecl is the body of "acl variable".
type VarDecl struct {
	Pos    lexer.Position
	Name   *Word   `parser:"@@"`
	Values []*Word `parser:"@@*"`
}

// Expr is a sample expression with its ACL flags and patterns:
// "path_beg -i /static /images" or "nbsrv(dynamic) lt 1".
type Expr struct {
	Pos   lexer.Position
	Fetch *Word   `parser:"@@"`
	Args  []*Word `parser:"( (?! '}') @@ )*"`
}

// UseBackend is "use_backend NAME [if|unless COND]".
type UseBackend struct {
	Pos     lexer.Position
	Backend *Word `parser:"'use_backend' @@"`
	Cond    *Cond `parser:"@@?"`
}

// RuleStmt is an "http-request", "http-response", "tcp-request" or
// similar rule: an action with its words and an optional condition.
type RuleStmt struct {
	Pos  lexer.Position
	Kind string  `parser:"@( 'http-request' | 'http-response' | 'http-after-response' | 'tcp-request' | 'tcp-response' )"`
	Args []*Word `parser:"( (?! 'if' | 'unless') @@ )*"`
	Cond *Cond   `parser:"@@?"`
}

// ServerStmt is "server NAME ADDR [OPTIONS]".
type ServerStmt struct {
	Pos  lexer.Position
	Name *Word   `parser:"'server' @@"`
	Addr *Word   `parser:"@@?"`
	Opts []*Word `parser:"@@*"`
}

// BindStmt is "bind ADDR [OPTIONS]".
type BindStmt struct {
	Pos  lexer.Position
	Addr *Word   `parser:"'bind' @@"`
	Opts []*Word `parser:"@@*"`
}

// Generic is any other statement: a keyword and its words, and a
// condition for the keywords that take one.
type Generic struct {
	Pos     lexer.Position
	Keyword *Word   `parser:"@@"`
	Args    []*Word `parser:"( (?! 'if' | 'unless') @@ )*"`
	Cond    *Cond   `parser:"@@?"`
}

// Cond is "if ..." or "unless ...": an OR of AND-groups, as HAProxy reads it.
type Cond struct {
	Pos    lexer.Position
	Unless bool     `parser:"( 'if' | @'unless' )"`
	Or     []*Terms `parser:"@@ ( ( '||' | 'or' ) @@ )*"`
}

// Terms is an AND-group of a condition.
type Terms struct {
	List []*Term `parser:"@@+"`
}

// Term is one ACL reference: a name or an anonymous "{ ... }" ACL. HAProxy
// accepts "! a", "!a" and "!!a"; the compile step counts the bangs.
type Term struct {
	Pos   lexer.Position
	Bangs []string `parser:"@'!'*"`
	Anon  *Expr    `parser:"( '{' @@ '}'"`
	Name  *Word    `parser:"| (?! '||' | 'or' | '}') @@ )"`
}

// Word is one word as written, quotes and backslashes included.
type Word struct {
	Pos lexer.Position
	Raw string `parser:"@Word"`
}
