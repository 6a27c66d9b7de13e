package runtime

import (
	"bytes"
	"net"
	"strconv"
	"strings"

	"gohap/runtime/rules"
)

// tcpCheck runs the "tcp-check" steps in order on one connection (or
// more, with "tcp-check connect"), as HAProxy's tcpcheck_main. Steps are
// numbered from 1; the implicit first connect is step 0.
func (p *probe) tcpCheck(hc *rules.HealthCheck) checkResult {
	steps := hc.Steps
	last := -1 // index of the last step run; -1: the implicit connect
	if len(steps) == 0 || firstAction(steps) != rules.StepConnect {
		if err := p.dial(p.c.addr()); err != nil {
			return connError(err, " at initial connection step of tcp-check")
		}
	}
	mustRead := true
	for i := range steps {
		st := &steps[i]
		id := i + 1
		switch st.Action {
		case rules.StepComment:
			continue
		case rules.StepConnect:
			if err := p.dialStep(p.stepAddr(st), st); err != nil {
				where := " at step " + strconv.Itoa(id) + " of tcp-check (connect)"
				if st.Port != 0 {
					where = " at step " + strconv.Itoa(id) + " of tcp-check (connect port " + strconv.Itoa(st.Port) + ")"
				}
				return connError(err, where)
			}
			mustRead = true
		case rules.StepSend:
			p.buf = p.buf[:0]
			if err := p.write(st.Data); err != nil {
				return checkResult{status: chkSockErr, info: checkInfo(err) + " at step " + strconv.Itoa(id) + " of tcp-check (send)"}
			}
			mustRead = true
		case rules.StepExpect:
			e := st.Expect
			for {
				if mustRead && !p.eof {
					if err := p.read(); err != nil {
						return checkResult{status: chkL7Tout, info: " at step " + strconv.Itoa(id) + " of tcp-check" + expectWhat(e)}
					}
					mustRead = false
				}
				match := matchTCP(e, p.buf)
				if !match && !p.eof {
					mustRead = true
					continue
				}
				if match == e.Inverse {
					return checkResult{status: chkL7Rsp, info: tcpExpectError(e, match, id)}
				}
				break
			}
		}
		last = i
	}
	if last >= 0 && steps[last].Action == rules.StepConnect {
		return checkResult{status: chkL4OK, info: "(tcp-check)"}
	}
	if last < 0 {
		return checkResult{status: chkL4OK}
	}
	return checkResult{status: chkL7OKD, info: "(tcp-check)"}
}

func firstAction(steps []rules.CheckStep) rules.CheckAction {
	for _, st := range steps {
		if st.Action != rules.StepComment {
			return st.Action
		}
	}
	return rules.StepComment
}

// stepAddr is where a "tcp-check connect" step connects: its addr and
// port, else the server's check address and port.
func (p *probe) stepAddr(st *rules.CheckStep) string {
	host, port, _ := net.SplitHostPort(p.c.addr())
	if st.Addr != "" {
		host = st.Addr
	}
	if st.Port != 0 {
		port = strconv.Itoa(st.Port)
	}
	return net.JoinHostPort(host, port)
}

func matchTCP(e *rules.CheckExpect, b []byte) bool {
	if e.Kind == rules.ExpectRString {
		return e.Regex.Match(b)
	}
	return bytes.Contains(b, e.Data)
}

// expectWhat describes an expect step in a timeout message.
func expectWhat(e *rules.CheckExpect) string {
	switch e.Kind {
	case rules.ExpectString:
		return " (expect string '" + e.Pattern + "')"
	case rules.ExpectBinary:
		var b strings.Builder
		for _, c := range e.Data {
			if c >= 32 && c <= 126 {
				b.WriteByte(c)
				continue
			}
			b.WriteString("<" + strings.ToUpper(hex2(c)) + ">")
		}
		return " (expect binary '" + b.String() + "')"
	}
	return " (expect regex)"
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// tcpExpectError is HAProxy's message for a failed tcp-check expect.
func tcpExpectError(e *rules.CheckExpect, match bool, id int) string {
	msg := "TCPCHK did not match content"
	if match {
		msg = "TCPCHK matched unwanted content"
	}
	at := " at step " + strconv.Itoa(id)
	switch e.Kind {
	case rules.ExpectString:
		msg += " '" + e.Pattern + "'" + at
	case rules.ExpectBinary:
		msg += " (binary)" + at
	default:
		msg += " (regex)" + at
	}
	if e.Comment != "" {
		msg += " comment: " + e.Comment
	}
	return msg
}
