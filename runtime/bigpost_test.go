package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gohap/runtime/rules"
)

// discardServer answers 200 to each request once it read its body
// (Content-Length or chunked), which it drops; it reports how many body
// bytes it read.
func discardServer(t *testing.T) (addr string, got *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				for {
					cl, chunked := int64(0), false
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						line = strings.TrimSpace(line)
						if line == "" {
							break
						}
						name, v, _ := strings.Cut(line, ":")
						switch strings.ToLower(name) {
						case "content-length":
							cl, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
						case "transfer-encoding":
							chunked = true
						}
					}
					if chunked {
						for {
							line, err := br.ReadString('\n')
							if err != nil {
								return
							}
							n, _ := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
							if n == 0 {
								br.ReadString('\n')
								break
							}
							br.Discard(int(n))
							got.Add(n)
							br.ReadString('\n')
						}
					} else {
						n, _ := br.Discard(int(cl))
						got.Add(int64(n))
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestLargePostFlatMemory streams a 100 MB body through the proxy, with
// Content-Length and chunked, and checks the heap stays flat meanwhile.
func TestLargePostFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB transfer")
	}
	const size = 100 << 20
	beAddr, got := discardServer(t)
	g := newGraph(rules.ModeHTTP)
	g.backend("be", beAddr)
	_, addr, _ := start(t, g)

	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			got.Store(0)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			goruntime.GC()
			var ms goruntime.MemStats
			goruntime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ms goruntime.MemStats
				for {
					goruntime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()

			buf := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KB
			if chunked {
				io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
				head := []byte(fmt.Sprintf("%x\r\n", len(buf)))
				for sent := 0; sent < size; sent += len(buf) {
					if _, err := c.Write(head); err != nil {
						t.Fatal(err)
					}
					c.Write(buf)
					c.Write([]byte("\r\n"))
				}
				io.WriteString(c, "0\r\n\r\n")
			} else {
				fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
				for sent := 0; sent < size; sent += len(buf) {
					if _, err := c.Write(buf); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			status, err := bufio.NewReader(c).ReadString('\n')
			close(stop)
			wg.Wait()
			if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
				t.Fatalf("response %q, %v", status, err)
			}
			if n := got.Load(); n != size {
				t.Fatalf("server got %d bytes, want %d", n, size)
			}
			growth := int64(peak.Load()) - int64(base)
			t.Logf("HeapInuse growth during the transfer: %d kB", growth>>10)
			if growth > 8<<20 {
				t.Fatalf("HeapInuse grew by %d MB while streaming 100 MB", growth>>20)
			}
		})
	}
}
