package compat

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hashCase is one backend of TestHashBalance: its balancing lines, its
// servers (written with ${S1}... for the addresses of the raw servers
// s1..s5, which answer with their name), and the requests to spread.
type hashCase struct {
	name    string
	mode    string // "http" unless set
	backend string // balance, hash-type... and the server lines
	// probes are "SRC METHOD TARGET [Name:value...]": SRC is the last
	// byte of the 127.0.0.x address the client connects from.
	probes []string
}

// hashProbes returns n probes built by f from 0..n-1.
func hashProbes(n int, f func(i int) string) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = f(i)
	}
	return p
}

func sourceProbes(n int) []string {
	return hashProbes(n, func(i int) string { return strconv.Itoa(i+1) + " GET /" })
}

func uriProbes(n int) []string {
	return hashProbes(n, func(i int) string { return fmt.Sprintf("1 GET /dir%d/sub%d/page%d?q=%d", i%7, i%5, i, i) })
}

const fiveServers = `server s1 "${S1}"
    server s2 "${S2}"
    server s3 "${S3}"
    server s4 "${S4}"
    server s5 "${S5}"`

var hashCases = []hashCase{
	{name: "source map", backend: "balance source\n    " + fiveServers, probes: sourceProbes(40)},
	{name: "source map weights", backend: "balance source\n    server s1 \"${S1}\" weight 10\n    server s2 \"${S2}\" weight 30\n    server s3 \"${S3}\" weight 20", probes: sourceProbes(40)},
	{name: "source map avalanche", backend: "balance source\n    hash-type map-based sdbm avalanche\n    " + fiveServers, probes: sourceProbes(40)},
	{name: "source map down", backend: "balance source\n    server s1 \"${S1}\"\n    server s2 \"${S2}\" disabled\n    server s3 \"${S3}\"\n    server s4 \"${S4}\" weight 0\n    server s5 \"${S5}\"", probes: sourceProbes(40)},
	{name: "source consistent", backend: "balance source\n    hash-type consistent\n    " + fiveServers, probes: sourceProbes(40)},
	{name: "source consistent down", backend: "balance source\n    hash-type consistent\n    server s1 \"${S1}\"\n    server s2 \"${S2}\" disabled\n    server s3 \"${S3}\"\n    server s4 \"${S4}\"\n    server s5 \"${S5}\"", probes: sourceProbes(40)},
	{name: "source consistent ids", backend: "balance source\n    hash-type consistent wt6\n    server s1 \"${S1}\" id 7\n    server s2 \"${S2}\"\n    server s3 \"${S3}\" id 2 weight 3", probes: sourceProbes(40)},
	{name: "source tcp", mode: "tcp", backend: "balance source\n    " + fiveServers, probes: sourceProbes(20)},
	{name: "source backups", backend: "balance source\n    server s1 \"${S1}\" disabled\n    server s2 \"${S2}\" backup weight 2\n    server s3 \"${S3}\" backup weight 5", probes: sourceProbes(8)},
	{name: "uri map", backend: "balance uri\n    " + fiveServers, probes: uriProbes(40)},
	{name: "uri whole djb2", backend: "balance uri whole\n    hash-type map-based djb2\n    " + fiveServers, probes: uriProbes(40)},
	{name: "uri depth len", backend: "balance uri depth 1 len 9\n    hash-type map-based crc32\n    " + fiveServers, probes: uriProbes(40)},
	{name: "uri path-only", backend: "balance uri path-only\n    hash-type consistent\n    " + fiveServers,
		probes: hashProbes(20, func(i int) string { return fmt.Sprintf("1 GET http://test/p%d", i) })},
	{name: "uri consistent wt6 weights", backend: "balance uri\n    hash-type consistent wt6 avalanche\n    server s1 \"${S1}\" weight 3\n    server s2 \"${S2}\"\n    server s3 \"${S3}\" weight 2", probes: uriProbes(40)},
	{name: "url_param", backend: "balance url_param user\n    " + fiveServers,
		probes: append(hashProbes(30, func(i int) string { return fmt.Sprintf("1 GET /a?x=1&user=u%d&y", i) }),
			"1 GET /a", "1 GET /a?user", "1 GET /a?user=", "1 GET /a?userx=1", "1 GET /a?x=user=3", "1 GET /a?users=1&user=9")},
	{name: "url_param missing round robin", backend: "balance url_param id\n    hash-type consistent\n    " + fiveServers,
		probes: hashProbes(12, func(i int) string { return fmt.Sprintf("1 GET /n%d", i) })},
	{name: "hdr", backend: "balance hdr(X-User)\n    " + fiveServers,
		probes: append(hashProbes(30, func(i int) string { return fmt.Sprintf("1 GET / X-User:id%d", i) }),
			`1 GET / "X-User: a, b"`, "1 GET / x-user:a", `1 GET / "X-User: "`, "1 GET /")},
	{name: "hdr domain only", backend: "balance hdr(Host) use_domain_only\n    hash-type map-based sdbm avalanche\n    " + fiveServers,
		probes: hashProbes(30, func(i int) string {
			// haproxy reads the byte after the value too: with Host the
			// last header (haproxy drops Connection), that byte is
			// whatever an earlier request left in the buffer.
			return "1 GET / Host:" + fmt.Sprintf([]string{"www.site%d.com", "site%d.org", "a.b.site%d.net", "host%d", ".x%d", "x%d."}[i%6], i) + " X-Pad:1"
		})},
	{name: "hdr missing map round robin", backend: "balance hdr(X-None)\n    server s1 \"${S1}\" weight 2\n    server s2 \"${S2}\"\n    server s3 \"${S3}\" weight 3",
		probes: hashProbes(12, func(i int) string { return "1 GET /" })},
}

// TestHashBalance sends each case's requests through gohap and, when it
// is installed, haproxy, and compares which server got each one: the
// hashing algorithms must map keys to servers exactly as haproxy does.
func TestHashBalance(t *testing.T) {
	haproxy, _ := exec.LookPath("haproxy")
	for _, c := range hashCases {
		t.Run(c.name, func(t *testing.T) {
			got := runHashCase(t, c, "")
			t.Logf("gohap: %s", strings.Join(got, " "))
			if haproxy == "" {
				t.Skip("haproxy not installed: not compared")
			}
			want := runHashCase(t, c, haproxy)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s: gohap picked %s, haproxy %s", c.probes[i], got[i], want[i])
				}
			}
		})
	}
}

// serverEnv starts five backends s1..s5, each answering with its name,
// and returns the environment of a case that balances over them: their
// addresses as S1..S5, and a frontend port as FE_PORT.
func serverEnv(t *testing.T) map[string]string {
	env := map[string]string{"FE_PORT": strconv.Itoa(freePort(t))}
	for i := 1; i <= 5; i++ {
		env["S"+strconv.Itoa(i)] = "127.0.0.1:" + strconv.Itoa(startBackend(t, "s"+strconv.Itoa(i)).port())
	}
	return env
}

// runHashCase runs c through gohap (bin "") or haproxy and returns the
// server each probe reached.
func runHashCase(t *testing.T, c hashCase, bin string) []string {
	env := serverEnv(t)
	mode := c.mode
	if mode == "" {
		mode = "http"
	}
	cfg := fmt.Sprintf(`
defaults
    mode %s
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    default_backend be
backend be
    %s
`, mode, c.backend)
	tc := &testCase{file: "hash.txt", config: cfg}
	addr := startProxy(t, bin, tc, env)
	out := make([]string, len(c.probes))
	for i, p := range c.probes {
		out[i] = hashProbe(t, addr, p)
	}
	return out
}

// hashProbe sends probe p to addr and returns the name of the server
// that answered, or "status N" when none did.
func hashProbe(t *testing.T, addr, p string) string {
	words, err := splitWords(p)
	if err != nil || len(words) < 3 {
		t.Fatalf("bad probe %q", p)
	}
	r, err := parseRequest(strings.Join(words[1:], " ") + " => 200")
	if err != nil {
		t.Fatalf("probe %q: %v", p, err)
	}
	d := net.Dialer{Timeout: dialTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0." + words[0])}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("probe %q: %v", p, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(readTimeout))
	conn.Write(r.raw())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("probe %q: %v", p, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if be := resp.Header.Get("X-Backend"); be != "" {
		return be
	}
	return "status " + strconv.Itoa(resp.StatusCode)
}
