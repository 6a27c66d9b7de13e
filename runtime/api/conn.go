package api

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"time"

	"gohap/runtime/rules"
)

// maxLine bounds a command line, as haproxy's buffer size does.
const maxLine = 16384

// session is one connection's state: its level, whether it is in
// interactive mode, and the answer being built. Owned by its connection.
type session struct {
	srv    *Server
	level  rules.Level
	prompt bool // interactive mode: a "> " prompt after each line
	quit   bool
	out    bytes.Buffer
	// noLF: the command's answer is not followed by the empty line that
	// ends the others (haproxy's answers to some commands lack it).
	noLF bool
}

// serveConn runs the commands of one connection, as haproxy: each line
// holds commands separated by ';'; without "prompt" the connection closes
// once the lines it sent are answered, and in interactive mode it stays
// open until "quit" or the idle timeout.
func (s *Server) serveConn(c net.Conn, opts *sockOpts) {
	br := bufio.NewReaderSize(c, maxLine)
	x := &session{srv: s, level: opts.level}
	for !x.quit {
		c.SetReadDeadline(time.Now().Add(opts.timeout))
		line, err := br.ReadSlice('\n')
		if err != nil {
			return // a last line without its newline is not run, as in haproxy
		}
		x.out.Reset()
		x.runLine(strings.TrimRight(string(line), "\r\n"))
		if x.prompt && !x.quit {
			x.out.WriteString("> ")
		}
		c.SetWriteDeadline(time.Now().Add(opts.timeout))
		if _, err := c.Write(x.out.Bytes()); err != nil {
			return
		}
		if !x.prompt && br.Buffered() == 0 {
			return
		}
	}
}

// runLine runs the commands of one line in turn, up to a "quit".
func (x *session) runLine(line string) {
	for _, cmd := range splitCommands(line) {
		x.noLF = false
		x.run(fields(cmd))
		if x.quit {
			return
		}
		if !x.noLF {
			x.out.WriteByte('\n')
		}
	}
}

// splitCommands cuts a line at each ';' that no backslash escapes.
func splitCommands(line string) []string {
	var cmds []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == ';':
			cur.WriteByte(';')
			i++
		case line[i] == ';':
			cmds = append(cmds, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cmds, cur.String())
}

// fields cuts a command into words at spaces and tabs, as haproxy's
// cli_parse_request: a backslash keeps the next character (a space too)
// in the word and is removed, "\\" giving one.
func fields(cmd string) []string {
	var words []string
	var w []byte
	in := false
	for i := 0; i < len(cmd); i++ {
		switch c := cmd[i]; {
		case c == ' ' || c == '\t':
			if in {
				words, w, in = append(words, string(w)), w[:0], false
			}
		case c == '\\':
			in = true
			if i+1 < len(cmd) {
				i++
				w = append(w, cmd[i])
			}
		default:
			in = true
			w = append(w, c)
		}
	}
	if in {
		words = append(words, string(w))
	}
	return words
}

// run finds the command args name and runs it, or answers as haproxy
// answers an unknown command.
func (x *session) run(args []string) {
	cmd := lookup(args)
	switch {
	case cmd == nil:
		x.out.WriteString(usage(args, false))
	case x.level < cmd.level:
		x.out.WriteString("Permission denied\n")
	default:
		cmd.run(x, args[len(cmd.words):])
	}
}
