package parser

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeKeywordTable keeps README.md's keyword table equal to what the
// code implements. Run with -update to rewrite it.
func TestReadmeKeywordTable(t *testing.T) {
	const begin, end = "<!-- keywords:begin -->\n", "<!-- keywords:end -->"
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no keyword table markers")
	}
	want := KeywordMarkdown()
	if got := s[i+len(begin) : j]; got != want {
		if *update {
			os.WriteFile("../README.md", []byte(s[:i+len(begin)]+want+s[j:]), 0o644)
			return
		}
		t.Errorf("README.md keyword table is out of date; run: go test ./parser -run TestReadmeKeywordTable -update")
	}
}
