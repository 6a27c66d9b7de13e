package runtime

import (
	"strings"
	"testing"
)

// TestShareable lists what keeps a configuration in one process, and
// checks that the plain maintenance scenario runs in workers.
func TestShareable(t *testing.T) {
	const base = testDefaults + `frontend fe
    bind 127.0.0.1:0
    default_backend be
`
	for _, tc := range []struct{ name, cfg, want string }{
		{"plain", base + `backend be
    balance roundrobin
    server s1 127.0.0.1:1 check
    server s2 127.0.0.1:2 check weight 3
`, ""},
		{"stick table", base + `backend be
    stick-table type ip size 10
    server s1 127.0.0.1:1
`, "stick-table be keeps its entries"},
		{"server maxconn", base + `backend be
    server s1 127.0.0.1:1 maxconn 10
`, "server be/s1: maxconn keeps its queue"},
		{"shutdown sessions", base + `backend be
    server s1 127.0.0.1:1 check on-marked-down shutdown-sessions
`, "on-marked-down shutdown-sessions"},
		{"rate limit", testDefaults + `frontend fe
    bind 127.0.0.1:0
    rate-limit sessions 10
    default_backend be
backend be
    server s1 127.0.0.1:1
`, "rate-limit sessions keeps its rate"},
	} {
		res, err := compileString(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = Shareable(res.Graph)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want workers", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestConnLimitSplit(t *testing.T) {
	var alone *Workers
	if got := alone.connLimit(9000); got != 9000 {
		t.Errorf("one process: %d", got)
	}
	w := &Workers{Count: 2}
	if got := w.connLimit(9001); got != 4501 {
		t.Errorf("two processes, 9001: %d each", got)
	}
	if got := w.connLimit(0); got != 0 {
		t.Errorf("no limit: %d", got)
	}
}
