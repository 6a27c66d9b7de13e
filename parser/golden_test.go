package parser

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .err golden files")

// compileTestFile parses and compiles a file of testdata as if gohap ran
// from the repository root, naming it by its base name in messages.
func compileTestFile(path string, env map[string]string) (*Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	opt := Options{Version: "2.6", Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	p, err := ParseFile(filepath.Base(path), string(src), opt)
	if err != nil {
		return nil, err
	}
	return Compile([]*Parsed{p}, Config{Options: opt, ReadFile: func(n string) ([]byte, error) {
		if filepath.IsAbs(n) {
			return os.ReadFile(n)
		}
		return os.ReadFile(filepath.Join("..", n))
	}})
}

func TestValidConfigs(t *testing.T) {
	files, _ := filepath.Glob("../testdata/valid/*.cfg")
	files = append(files, "../testdata/site.cfg", "../testdata/demo.cfg")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := compileTestFile(f, nil)
			if err != nil {
				t.Fatalf("want valid, got:\n%v", err)
			}
			if len(res.Graph.Frontends) == 0 {
				t.Fatalf("no frontend compiled")
			}
		})
	}
}

// TestInvalidConfigs checks every error of each invalid config against its
// .err file: one "file:line:col: message" a line, sorted by position.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("../testdata/invalid/*.cfg")
	if len(files) == 0 {
		t.Fatal("no invalid configs found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := compileTestFile(f, nil)
			if err == nil {
				t.Fatalf("want errors, config was accepted")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".cfg") + ".err"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("missing golden file: %v", rerr)
			}
			if got != string(want) {
				t.Errorf("errors differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
