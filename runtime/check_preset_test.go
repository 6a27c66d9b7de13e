package runtime

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"
)

// replyServer answers each connection by reading what the check sends and
// writing reply, then closing.
func replyServer(t *testing.T, reply []byte) string {
	return serveConns(t, func(c net.Conn) {
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write(reply)
	})
}

// waitUp waits until server i of backend b has state up.
func waitUp(t *testing.T, e *Engine, b, i int, up bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for e.gen.Load().backends[b].servers[i].up.Load() != up {
		if time.Now().After(deadline) {
			t.Fatalf("backend %d server %d: up=%v never reached", b, i, up)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPresetChecks(t *testing.T) {
	tlsLn, _ := tlsListener(t, "check.example")
	go func() {
		for {
			c, err := tlsLn.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	plain := replyServer(t, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	pgOK := replyServer(t, []byte("R\x00\x00\x00\x08\x00\x00\x00\x00"))                 // AuthenticationOk
	pgMD5 := replyServer(t, []byte("R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"))            // MD5 password request
	pgErr := replyServer(t, []byte("E\x00\x00\x00\x20SFATAL\x00Mno such role\x00\x00")) // an error
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout check 1s
    default-server check inter 100ms fall 1 rise 1
backend tlsb
    option ssl-hello-chk
    server ok %s
    server plain %s
backend pg
    option pgsql-check user postgres
    server ok %s
    server md5 %s
    server err %s
`, tlsLn.Addr(), plain, pgOK, pgMD5, pgErr))
	waitUp(t, e, 0, 1, false)
	waitUp(t, e, 1, 2, false)
	for _, s := range []struct{ b, i int }{{0, 0}, {1, 0}, {1, 1}} {
		time.Sleep(300 * time.Millisecond) // several check rounds
		waitUp(t, e, s.b, s.i, true)
	}
}

// mysqlServer greets like a MySQL 5.7 server, reads the login and
// answers reply.
func mysqlServer(t *testing.T, reply []byte) string {
	payload := append([]byte("\x0a5.7.40\x00\x07\x00\x00\x00abcdefgh\x00\xff\xf7\x21\x02\x00\xff\x81\x15"), make([]byte, 10)...)
	payload = append(payload, "ijklmnopqrst\x00mysql_native_password\x00"...)
	greeting := append([]byte{byte(len(payload)), 0, 0, 0}, payload...)
	return serveConns(t, func(c net.Conn) {
		c.Write(greeting)
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write(reply)
	})
}

func TestMysqlCheck(t *testing.T) {
	ok := mysqlServer(t, []byte("\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00"))
	denied := mysqlServer(t, []byte("\x17\x00\x00\x02\xff\x15\x04#28000Access denied"))
	e := startConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout check 1s
backend db
    option mysql-check user root
    server ok %s check inter 100ms fall 1 rise 1
    server denied %s check inter 100ms fall 1 rise 1
`, ok, denied))
	waitUp(t, e, 0, 1, false)
	time.Sleep(300 * time.Millisecond)
	waitUp(t, e, 0, 0, true)
}
