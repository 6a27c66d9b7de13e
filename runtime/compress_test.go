package runtime

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

func TestSelectCompression(t *testing.T) {
	gz, def, id := rules.CompGzip, rules.CompDeflate, rules.CompIdentity
	none := rules.CompNone
	// "compression algo gzip deflate": haproxy tries deflate first.
	algos := []rules.CompAlgo{def, gz}
	for _, c := range []struct {
		algos []rules.CompAlgo
		hdrs  []string
		want  rules.CompAlgo
	}{
		{algos, []string{"gzip"}, gz},
		{algos, nil, none},
		{algos, []string{"gzip;q=0.5, deflate"}, def},
		{algos, []string{"deflate;q=0.5, gzip;q=0.6"}, gz},
		{algos, []string{"gzip;q=0"}, none},
		{algos, []string{"gzip;q=0.000"}, none},
		{algos, []string{"gzip;q=0.001"}, gz},
		{algos, []string{"*"}, def},
		{algos, []string{"br, *;q=0.1"}, def},
		{algos, []string{"gzip, deflate"}, gz},
		{algos, []string{"deflate, gzip"}, def},
		{algos, []string{"GZip"}, gz},
		{algos, []string{"br", "gzip"}, gz},
		{algos, []string{"gzip ; q=0.3 , deflate; q=0.2"}, gz},
		{algos, []string{"x-gzip"}, none},
		{algos, []string{"gzip;q=abc"}, gz},
		{algos, []string{"gzip;level=1;q=0.2, deflate;q=0.1"}, gz},
		{algos, []string{"deflate;q=1.0, gzip;q=1"}, def},
		{algos, []string{"gzip;q=2, deflate;q=1"}, gz},
		{[]rules.CompAlgo{gz, id}, []string{"br"}, id},
		{[]rules.CompAlgo{gz, id}, nil, id},
		{[]rules.CompAlgo{gz, id}, []string{"identity;q=0.5, gzip;q=0.4"}, id},
		{[]rules.CompAlgo{rules.CompRawDeflate}, []string{"deflate"}, rules.CompRawDeflate},
	} {
		fe := &rules.Frontend{Compression: &rules.Compression{Algos: c.algos}}
		be := &rules.Backend{}
		var req rules.Request
		for _, h := range c.hdrs {
			req.Headers = append(req.Headers, rules.Header{Name: []byte("accept-encoding"), Value: []byte(h)})
		}
		if got := selectCompression(fe, be, &req); got != c.want {
			t.Errorf("%v with Accept-Encoding %q: got %v, want %v", c.algos, c.hdrs, got, c.want)
		}
	}
}

func TestOldMozilla(t *testing.T) {
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (X11)": false,
		"Mozilla/4.0 (foo)": true,
		"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)":      false,
		"Mozilla/4.0 (compatible; MSIE 5.5; Windows NT 5.0)":      true,
		"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)":      true,
		"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)": false,
		"curl/8": false,
	} {
		if got := oldMozilla([]byte(ua)); got != want {
			t.Errorf("oldMozilla(%q) = %v", ua, got)
		}
	}
}

func TestCompressionOffload(t *testing.T) {
	fe := &rules.Frontend{}
	be := &rules.Backend{Compression: &rules.Compression{Algos: []rules.CompAlgo{rules.CompGzip}, Offload: true}}
	req := rules.Request{Headers: []rules.Header{
		{Name: []byte("accept-encoding"), Value: []byte("br")},
		{Name: []byte("host"), Value: []byte("x")},
		{Name: []byte("Accept-Encoding"), Value: []byte("gzip")},
	}}
	if got := selectCompression(fe, be, &req); got != rules.CompGzip {
		t.Fatalf("got %v", got)
	}
	if len(req.Headers) != 1 || string(req.Headers[0].Name) != "host" {
		t.Fatalf("offload left %q", req.Headers)
	}
}

// TestCompressionStreams checks that a compressed body is not held back:
// the server sends its next piece only once the client decoded the
// previous one, which deadlocks (and times out) if gohap buffers.
func TestCompressionStreams(t *testing.T) {
	const pieces, size = 8, 40000
	piece := func(i int) string {
		return strings.Repeat(strconv.Itoa(i)+" some text ", size/12+1)[:size]
	}
	next := make(chan struct{})
	addr := serveConns(t, func(c net.Conn) {
		if _, _, err := readRawRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := range pieces {
			io.WriteString(c, strconv.FormatInt(size, 16)+"\r\n"+piece(i)+"\r\n")
			if _, ok := <-next; !ok {
				return
			}
		}
		io.WriteString(c, "0\r\n\r\n")
	})
	g := newGraph(rules.ModeHTTP)
	g.fe.Compression = &rules.Compression{Algos: []rules.CompAlgo{rules.CompGzip}}
	g.backend("be", addr)
	_, feAddr, _ := start(t, g)
	c := dial(t, feAddr)
	defer close(next)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
	tp := httputilHead(t, c.br)
	if !strings.Contains(tp, "content-encoding: gzip\r\n") {
		t.Fatalf("not compressed: %q", tp)
	}
	zr, err := gzip.NewReader(httputil.NewChunkedReader(c.br))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	for i := range pieces {
		if _, err := io.ReadFull(zr, buf); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		if string(buf) != piece(i) {
			t.Fatalf("piece %d differs", i)
		}
		next <- struct{}{}
	}
	if _, err := zr.Read(buf); err != io.EOF {
		t.Fatalf("after the last piece: %v", err)
	}
}

// httputilHead reads a response head.
func httputilHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head: %v (%q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

// compLoopback is a keep-alive client of a proxy that gzips a 16 kB
// response on every request.
func compLoopback(tb testing.TB) (*client, func()) {
	body := strings.Repeat("<p>hello, compressed world</p>\n", 16384/31)
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	g := newGraph(rules.ModeHTTP)
	g.fe.Compression = &rules.Compression{Algos: []rules.CompAlgo{rules.CompGzip}, Types: [][]byte{[]byte("text/html")}}
	g.backend("be", fixedServer(tb, resp))
	_, addr, _ := start(tb, g)
	c := dial(tb, addr)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate\r\n\r\n")
	end := []byte("\r\n0\r\n\r\n")
	buf := make([]byte, 64<<10)
	return c, func() {
		c.c.Write(req)
		// The compressed body ends with the last chunk.
		n := 0
		for !bytes.HasSuffix(buf[:n], end) {
			k, err := c.c.Read(buf[n:])
			if err != nil {
				tb.Fatal(err)
			}
			n += k
		}
	}
}

func TestCompressionAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the writers come from a sync.Pool, which -race makes drop them")
	}
	_, do := compLoopback(t)
	for range 50 {
		do()
	}
	if n := testing.AllocsPerRun(200, do); n > 0 {
		t.Fatalf("%v allocations per compressed response, want 0", n)
	}
}

func BenchmarkCompressedResponse(b *testing.B) {
	_, do := compLoopback(b)
	do()
	b.ReportAllocs()
	b.SetBytes(16384)
	b.ResetTimer()
	for range b.N {
		do()
	}
}
