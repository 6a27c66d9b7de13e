package compat

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// compCase is one request of TestCompression: the request, and the
// Content-Encoding gohap must answer with ("" none, "identity" for a
// response chunked by the identity algorithm).
type compCase struct {
	name    string
	req     request
	want    string
	resHead string // the server's head without framing ("" 200 text/html)
	resMode string // "" Content-Length, "chunked", "close"
	resLen  int
}

// compConfigs are the configurations TestCompression runs, with their
// cases.
var compConfigs = []struct {
	name, config string
	cases        []compCase
}{
	{"defaults", `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    compression algo gzip
    compression type text/html text/plain
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    default_backend be
backend be
    server s1 "127.0.0.1:${BE1_PORT}"
`, []compCase{
		{name: "gzip", req: compReq("Accept-Encoding:gzip"), want: "gzip"},
		{name: "no accept-encoding", req: compReq(), want: ""},
		{name: "HTTP/1.0 request", req: compReq("Accept-Encoding:gzip").proto10(), want: ""},
		{name: "chunked response", req: compReq("Accept-Encoding:gzip"), resMode: "chunked", want: "gzip"},
		{name: "empty chunked response", req: compReq("Accept-Encoding:gzip"), resMode: "chunked", resLen: -1, want: "gzip"},
		{name: "close-delimited response", req: compReq("Accept-Encoding:gzip"), resMode: "close", want: ""},
		{name: "empty response", req: compReq("Accept-Encoding:gzip"), resLen: -1, want: ""},
		{name: "HEAD", req: compReq("Accept-Encoding:gzip").withMethod("HEAD"), want: ""},
		{name: "404", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 404 Not Found\r\nContent-Type: text/html", want: ""},
		{name: "201", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 201 Created\r\nContent-Type: text/html", want: "gzip"},
		{name: "203", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 203 OK\r\nContent-Type: text/plain", want: "gzip"},
		{name: "206", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 206 Partial\r\nContent-Type: text/html", want: ""},
		{name: "type not listed", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: application/json", want: ""},
		{name: "no type", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK", want: ""},
		{name: "type case and parameters", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: TEXT/HTML; charset=utf-8", want: "gzip"},
		{name: "strong etag", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"abc\"\r\nVary: Origin", want: "gzip"},
		{name: "weak etag and vary", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: W/\"abc\"\r\nVary: Accept-Encoding", want: "gzip"},
		{name: "invalid etag", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: abc", want: ""},
		{name: "two etags", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"a\"\r\nETag: \"b\"", want: ""},
		{name: "no-transform", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: public, NO-TRANSFORM", want: ""},
		{name: "no-transform=1", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: no-transform=1", want: "gzip"},
		{name: "already encoded", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br", want: "br"}, // passed on
		{name: "multipart", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK\r\nContent-Type: MultiPart/mixed", want: ""},
		{name: "HTTP/1.0 response", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.0 200 OK\r\nContent-Type: text/html", want: ""},
		{name: "large body", req: compReq("Accept-Encoding:gzip"), resLen: 300000, want: "gzip"},
		{name: "large chunked body", req: compReq("Accept-Encoding:gzip"), resMode: "chunked", resLen: 300000, want: "gzip"},
	}},
	{"frontend", `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    compression algo gzip deflate
    default_backend be
backend be
    server s1 "127.0.0.1:${BE1_PORT}"
`, []compCase{
		{name: "q-values", req: compReq(`"Accept-Encoding:gzip;q=0.5, deflate"`), want: "deflate"},
		{name: "q-values 2", req: compReq(`"Accept-Encoding:deflate;q=0.5, gzip;q=0.6"`), want: "gzip"},
		{name: "q=0", req: compReq("Accept-Encoding:gzip;q=0"), want: ""},
		{name: "star", req: compReq("Accept-Encoding:*"), want: "deflate"},
		{name: "star low", req: compReq(`"Accept-Encoding:br, *;q=0.1"`), want: "deflate"},
		{name: "tie", req: compReq(`"Accept-Encoding:gzip, deflate"`), want: "gzip"},
		{name: "tie 2", req: compReq(`"Accept-Encoding:deflate, gzip"`), want: "deflate"},
		{name: "case", req: compReq("Accept-Encoding:GZIP"), want: "gzip"},
		{name: "two headers", req: compReq("Accept-Encoding:br", "Accept-Encoding:gzip"), want: "gzip"},
		{name: "MSIE 7", req: compReq("Accept-Encoding:gzip", `"User-Agent:Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"`), want: "gzip"},
		{name: "Mozilla/4", req: compReq("Accept-Encoding:gzip", `"User-Agent:Mozilla/4.0 (foo)"`), want: ""},
		{name: "spaces", req: compReq(`"Accept-Encoding:gzip ; q=0.3 , deflate; q=0.2"`), want: "gzip"},
		{name: "x-gzip", req: compReq("Accept-Encoding:x-gzip"), want: ""},
		{name: "bad q", req: compReq("Accept-Encoding:gzip;q=abc"), want: "gzip"},
		{name: "other parameter", req: compReq(`"Accept-Encoding:gzip;level=1;q=0.2, deflate;q=0.1"`), want: "gzip"},
		{name: "q=1.0", req: compReq(`"Accept-Encoding:deflate;q=1.0, gzip;q=1"`), want: "deflate"},
		{name: "any type", req: compReq("Accept-Encoding:gzip"), resHead: "HTTP/1.1 200 OK", want: "gzip"},
		{name: "deflate body", req: compReq("Accept-Encoding:deflate"), resLen: 100000, want: "deflate"},
	}},
	{"offload", `
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind "127.0.0.1:${FE_PORT}"
    compression algo identity raw-deflate
    compression offload
    http-response add-header X-Fe 1
    default_backend be
backend be
    http-response set-header Cache-Control max-age=10
    http-request del-header Accept-Encoding if { path /delae }
    server s1 "127.0.0.1:${BE1_PORT}"
`, []compCase{
		{name: "raw deflate", req: compReq("Accept-Encoding:deflate"), resLen: 50000, want: "deflate"},
		{name: "identity by default", req: compReq(), want: "identity"},
		{name: "identity for br", req: compReq("Accept-Encoding:br"), want: "identity"},
		{name: "header removed by a rule", req: compReq("Accept-Encoding:deflate").path("/delae"), want: "identity"},
		{name: "identity, chunked", req: compReq(), resMode: "chunked", want: "identity"},
		{name: "identity, 404", req: compReq(), resHead: "HTTP/1.1 404 Not Found", want: ""},
	}},
}

// compReq is a GET with the given header words (as in case files).
func compReq(hdrs ...string) request {
	r, err := parseRequest("GET /c " + strings.Join(hdrs, " ") + " => 200")
	if err != nil {
		panic(err)
	}
	return r
}

func (r request) proto10() request            { r.proto = "HTTP/1.0"; return r }
func (r request) withMethod(m string) request { r.method = m; return r }
func (r request) path(p string) request       { r.target = p; return r }
func (r request) with(name, v string) request {
	r.headers = append(r.headers, [2]string{name, v})
	return r
}

// TestCompression runs the compression cases through gohap and, when it
// is installed, haproxy: the heads must be identical, and the bodies once
// de-chunked and decompressed (the compressed bytes differ: haproxy uses
// libslz, gohap Go's compress/flate).
func TestCompression(t *testing.T) {
	haproxy, _ := exec.LookPath("haproxy")
	be := startReplyBackend(t)
	for _, cfg := range compConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			env := map[string]string{"BE1_PORT": strconv.Itoa(be.port()), "FE_PORT": strconv.Itoa(freePort(t))}
			tc := &testCase{file: "compress_" + cfg.name + ".txt", config: cfg.config}
			reqs := make([]request, len(cfg.cases))
			for i, c := range cfg.cases {
				r := c.req.with("X-R", url.QueryEscape(c.resHead))
				r = r.with("X-Mode", c.resMode).with("X-Len", strconv.Itoa(c.resLen))
				r.pos = cfg.name + "/" + c.name
				reqs[i] = r
			}
			addr := startGohap(t, tc, env)
			got := make([]*response, len(reqs))
			for i, r := range reqs {
				got[i] = roundTrip(addr, r)
				checkCompressed(t, r, got[i], cfg.cases[i])
			}
			if haproxy == "" {
				t.Skip("haproxy not installed: not compared")
			}
			env["FE_PORT"] = strconv.Itoa(freePort(t))
			addr = startHAProxy(t, haproxy, tc, env)
			for i, r := range reqs {
				want := roundTrip(addr, r)
				if d := diffDecoded(want, got[i]); d != "" {
					t.Errorf("%s: gohap differs from haproxy:\n%s", r, d)
				}
			}
		})
	}
}

// checkCompressed checks gohap's answer to one case: the encoding, and
// the body once decoded.
func checkCompressed(t *testing.T, r request, resp *response, c compCase) {
	t.Helper()
	if resp.err != "" || resp.status != 200 && c.resHead == "" {
		t.Errorf("%s: %s %d\nraw: %.300q", r, resp.err, resp.status, resp.raw)
		return
	}
	ce, te := resp.get("content-encoding"), resp.get("transfer-encoding")
	switch {
	case c.want == "identity" && (ce != "" || te != "chunked" || resp.get("vary") != "Accept-Encoding"):
		t.Errorf("%s: want identity (chunked, no Content-Encoding), got %q", r, resp.header)
	case c.want != "identity" && ce != c.want:
		t.Errorf("%s: Content-Encoding %q, want %q\n%q", r, ce, c.want, resp.header)
	case c.want != "" && c.want != "br" && resp.get("content-length") != "":
		t.Errorf("%s: compressed response kept its Content-Length: %q", r, resp.header)
	}
	body, err := decodeBody(resp)
	if err != nil {
		t.Errorf("%s: %v", r, err)
		return
	}
	if r.method != "HEAD" && !bytes.Equal(body, replyBody(c.resLen)) {
		t.Errorf("%s: decoded body of %d bytes differs from the %d the server sent", r, len(body), max(c.resLen, 0))
	}
}

// diffDecoded compares two responses as diff does, but the bodies once
// decoded.
func diffDecoded(want, got *response) string {
	w, g := *want, *got
	var errs []string
	var err error
	if w.body, err = decodeBody(want); err != nil {
		errs = append(errs, "haproxy: "+err.Error())
	}
	if g.body, err = decodeBody(got); err != nil {
		errs = append(errs, "gohap: "+err.Error())
	}
	d := diff(&w, &g)
	if len(errs) > 0 {
		d += "\n  " + strings.Join(errs, "; ")
	}
	return d
}

// decodeBody returns the body of r de-chunked and decompressed.
func decodeBody(r *response) ([]byte, error) {
	body := r.body
	if strings.EqualFold(r.get("transfer-encoding"), "chunked") {
		br := bufio.NewReader(bytes.NewReader(body))
		b, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			return nil, fmt.Errorf("de-chunking: %v", err)
		}
		body = b
	}
	switch r.get("content-encoding") {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "deflate":
		// haproxy's "deflate" is zlib, its "raw-deflate" is not.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				return b, nil
			}
		}
		return io.ReadAll(flate.NewReader(bytes.NewReader(body)))
	}
	return body, nil
}

// replyBody is the body of n bytes replyBackend sends.
func replyBody(n int) []byte {
	if n == 0 {
		n = 1000
	}
	if n < 0 {
		return []byte{}
	}
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		b = append(b, "line "+strconv.Itoa(i)+" of some text to compress\n"...)
	}
	return b[:n]
}

// startReplyBackend starts a backend that answers each request as its
// headers say: X-R is the response head (URL-encoded, without framing;
// default 200 text/html), X-Len the body length (0: 1000, -1: none),
// X-Mode its framing (Content-Length, "chunked" with a trailer, or
// "close").
func startReplyBackend(t *testing.T) *backend {
	return startBackendFunc(t, "reply", serveReply)
}

func serveReply(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		head, err := readHead(br)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
		hdr := map[string]string{}
		for _, l := range lines[1:] {
			n, v, _ := strings.Cut(l, ":")
			hdr[strings.ToLower(n)] = strings.TrimSpace(v)
		}
		resHead, _ := url.QueryUnescape(hdr["x-r"])
		if resHead == "" {
			resHead = "HTTP/1.1 200 OK\r\nContent-Type: text/html"
		}
		n, _ := strconv.Atoi(hdr["x-len"])
		body := replyBody(n)
		bodyless := strings.HasPrefix(lines[0], "HEAD ") || strings.Contains(resHead, " 204 ") || strings.Contains(resHead, " 304 ")
		var out bytes.Buffer
		out.WriteString(resHead + "\r\n")
		switch hdr["x-mode"] {
		case "chunked":
			out.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			for rest := body; len(rest) > 0 && !bodyless; {
				k := min(len(rest), 7000)
				fmt.Fprintf(&out, "%x\r\n%s\r\n", k, rest[:k])
				rest = rest[k:]
			}
			if !bodyless {
				out.WriteString("0\r\nX-Trailer: t\r\n\r\n")
			}
		case "close":
			out.WriteString("Connection: close\r\n\r\n")
			out.Write(body)
		default:
			fmt.Fprintf(&out, "Content-Length: %d\r\n\r\n", len(body))
			if !bodyless {
				out.Write(body)
			}
		}
		if _, err := c.Write(out.Bytes()); err != nil || hdr["x-mode"] == "close" {
			return
		}
	}
}
