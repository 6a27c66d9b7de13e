package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// corpusDir holds the real-world configurations of ../shared/corpus: CI
// clones the repository with shared/ beside it.
const corpusDir = "../shared/corpus"

// alertLine is how every rejection must read: the file, line and column,
// and the keyword or word in quotes.
var alertLine = regexp.MustCompile(`^\[ALERT\] cfg/\d+\.cfg:\d+:\d+: .*'[^']+'`)

// TestCorpus runs "gohap -c" over every configuration of the corpus from
// its folder, as an operator would, and reports how many are accepted.
// Each rejection must name file:line and the keyword it does not support.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "cfg", "*.cfg"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s", corpusDir)
	}
	// A plain build: checking configurations needs no race detector,
	// which would make each of the 79 runs slow.
	bin := filepath.Join(t.TempDir(), "gohap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type result struct {
		rel      string
		accepted bool
	}
	results := make(chan result)
	work := make(chan string)
	for range 4 {
		go func() {
			for f := range work {
				rel, _ := filepath.Rel(corpusDir, f)
				results <- result{rel, checkCorpusFile(t, bin, rel)}
			}
		}()
	}
	go func() {
		for _, f := range files {
			work <- f
		}
		close(work)
	}()
	accepted := 0
	for range files {
		if r := <-results; r.accepted {
			accepted++
		}
	}
	t.Logf("corpus: %d of %d configurations accepted", accepted, len(files))
	// A ratchet, not a target: support must not go backwards.
	if accepted < 79 {
		t.Errorf("only %d of %d configurations accepted, fewer than before", accepted, len(files))
	}
}

// checkCorpusFile runs "gohap -c" on one file and reports whether it was
// accepted; a rejection must be well formed.
func checkCorpusFile(t *testing.T, bin, rel string) bool {
	cmd := exec.Command(bin, "-c", "-q", "-f", rel)
	cmd.Dir = corpusDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case !errors.As(err, &exit) || exit.ExitCode() != 1:
		t.Errorf("%s: %v\n%s", rel, err, stderr.String())
		return false
	}
	lines := bytes.Split(bytes.TrimSpace(stderr.Bytes()), []byte("\n"))
	for _, l := range lines[:len(lines)-1] { // the last line counts the errors
		if !alertLine.Match(l) {
			t.Errorf("%s: rejection without file:line:col and keyword: %q", rel, l)
		}
	}
	return false
}
