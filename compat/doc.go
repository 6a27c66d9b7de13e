// Package compat holds gohap's compatibility tests: each case under
// testdata/compat runs one configuration through gohap and, when it is
// installed, through haproxy, sends the same requests to both and
// requires byte-identical responses. The package has no non-test code.
package compat
