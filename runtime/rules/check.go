package rules

import (
	"regexp"
	"strconv"
)

// CheckKind is the kind of health check a backend runs on servers with
// "check".
type CheckKind uint8

// The check kinds gohap implements.
const (
	CheckConnect  CheckKind = iota // plain TCP connect, HAProxy's default
	CheckHTTP                      // "option httpchk"
	CheckTCPRules                  // "option tcp-check"
)

var checkKindNames = [...]string{"tcp", "httpchk", "tcp-check"}

func (k CheckKind) String() string { return checkKindNames[k] }

// HealthCheck is what a backend's checks send and expect. A nil
// *HealthCheck is the plain TCP connect check.
type HealthCheck struct {
	Kind CheckKind
	// Request is the HTTP check request, serialised as HAProxy sends it
	// (CheckHTTP only).
	Request []byte
	// NeedBody reports whether an HTTP expect rule reads the body, so the
	// whole response must be read before the rules run.
	NeedBody bool
	// Expect are the "http-check expect" rules, all of which must hold;
	// none means HAProxy's default: a 2xx or 3xx status (CheckHTTP only).
	Expect []*CheckExpect
	// DisableOn404: a running server that answers 404 stops taking new
	// traffic but stays up ("http-check disable-on-404", NOLB).
	DisableOn404 bool
	// Steps are the "tcp-check" rules in order (CheckTCPRules only);
	// none means a connect check.
	Steps []CheckStep
	// Connect is the "http-check connect" rule that opens the HTTP check's
	// connection (a StepConnect); nil: the server's check settings.
	Connect *CheckStep
}

// CheckAction is what one tcp-check step does.
type CheckAction uint8

// The tcp-check actions gohap implements.
const (
	StepConnect CheckAction = iota
	StepSend
	StepExpect
	StepComment // "tcp-check comment": does nothing, but counts as a step
)

// CheckStep is one "tcp-check" rule.
type CheckStep struct {
	Action CheckAction
	// Port and Addr are the "connect port"/"connect addr" options; zero
	// values mean the server's check port and address.
	Port int
	Addr string
	// The other connect options. Default takes what they leave unset
	// from the server's line ("check-ssl", "send-proxy"); without it, a
	// connect is plain TCP unless SSL or SendProxy says otherwise.
	Default   bool
	SSL       bool
	SendProxy bool
	SNI       string
	ALPN      []string
	// Data is what a send step writes.
	Data []byte
	// Expect is the pattern of an expect step.
	Expect *CheckExpect
}

// ExpectKind is what an expect rule matches.
type ExpectKind uint8

// The expect kinds gohap implements.
const (
	ExpectStatus  ExpectKind = iota // http-check: status in a list of codes and ranges
	ExpectRStatus                   // http-check: status matches a regex
	ExpectString                    // body (http) or received data (tcp) contains a string
	ExpectRString                   // body or data matches a regex
	ExpectBinary                    // tcp-check: data contains bytes given in hex
)

// CheckExpect is one "http-check expect" or "tcp-check expect" rule.
type CheckExpect struct {
	Kind    ExpectKind
	Inverse bool   // "!": the rule holds when the pattern does not match
	Pattern string // as written (hex for binary)
	Data    []byte // string or decoded binary to find
	Regex   *regexp.Regexp
	Status  [][2]int // inclusive status ranges for ExpectStatus
	Comment string   // appended to the failure message when not empty
}

// MatchStatus reports whether code matches the rule's pattern, ignoring
// Inverse.
func (e *CheckExpect) MatchStatus(code int) bool {
	if e.Kind == ExpectRStatus {
		var b [3]byte
		return e.Regex.Match(strconv.AppendInt(b[:0], int64(code), 10))
	}
	for _, r := range e.Status {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}
