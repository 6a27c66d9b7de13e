package parser

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text through the lexer, the parser and the
// compile step: any input must end in a graph or an error, never a panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/*.cfg")
	more, _ := filepath.Glob("../testdata/*/*.cfg")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("frontend f\n bind :80\n use_backend b if { path_beg \"/a\\\"b\" } || !c or d\n")
	f.Add(".if defined(X) && (version_atleast(2.4) || !feature(Y))\n.elif 1\n.else\n.endif\n")
	f.Fuzz(func(t *testing.T, src string) {
		opt := Options{Version: "2.6", Env: func(k string) (string, bool) { return "v" + k, k != "" }}
		p, err := ParseFile("fuzz.cfg", src, opt)
		if err != nil {
			checkErrors(t, err)
			return
		}
		_, err = Compile([]*Parsed{p}, Config{Options: opt, ReadFile: func(string) ([]byte, error) {
			return nil, errors.New("no files in fuzzing")
		}})
		if err != nil {
			checkErrors(t, err)
		}
	})
}

// checkErrors asserts every error names the file and a line.
func checkErrors(t *testing.T, err error) {
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is not an ErrorList: %T %v", err, err)
	}
	for _, e := range list {
		if !strings.HasPrefix(e.Error(), "fuzz.cfg:") || e.Pos.Line < 1 {
			t.Fatalf("error without position: %q", e.Error())
		}
	}
}

// TestBadInput covers the inputs issue 3 names: each ends in a clear error.
func TestBadInput(t *testing.T) {
	deep := "frontend f\n bind :80\n acl a path /\n use_backend b if " + strings.Repeat("!", 10000) + "a\nbackend b\n"
	cases := map[string]struct{ src, want string }{
		"nul":          {"global\n maxconn 1\x00\n", "fuzz.cfg:2:1: NUL character"},
		"invalid utf8": {"global\n \xff\xfe 1\n", "fuzz.cfg:2:2: unknown keyword '\xff\xfe'"},
		"unterminated": {"global\n log \"x\n", "fuzz.cfg:2:6: unmatched quote"},
		"if no endif":  {".if 1\nglobal\n", "fuzz.cfg:1:1: unterminated '.if'"},
		"endif alone":  {".endif\n", "fuzz.cfg:1:1: '.endif' without a matching '.if'"},
		"long line":    {"global\n description " + strings.Repeat("x", 1<<20) + "\n frob\n", "fuzz.cfg:3:2: unknown keyword 'frob'"},
		"deep bangs":   {deep, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := ParseFile("fuzz.cfg", c.src, Options{})
			if err == nil {
				_, err = Compile([]*Parsed{p}, Config{})
			}
			if c.want == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
