package rules

import "time"

// Resolvers is a "resolvers" section: the DNS servers asked for the
// addresses of the servers that name it, and how often and how long
// answers count.
type Resolvers struct {
	Name string
	Pos  string
	// Nameservers are UDP host:port addresses, asked all at once.
	Nameservers []string
	// Retries is "resolve_retries": queries sent before a resolution
	// times out (default 3).
	Retries int
	// Resolve is "timeout resolve", the pace of the resolutions (default
	// 1s); Retry is "timeout retry", the wait for an answer (default 1s).
	Resolve, Retry time.Duration
	Hold           Hold
	// PayloadSize is "accepted_payload_size", announced with EDNS0 (512
	// by default, when no EDNS0 record is sent).
	PayloadSize int
}

// Hold are the "hold" periods: how long the last valid answer is kept
// after each kind of failure (then the servers go to maintenance), how
// long a valid answer is reused, and how long an SRV record that
// vanished keeps its server.
type Hold struct {
	Valid, NX, Other, Refused, Timeout, Obsolete time.Duration
}

// NewResolvers returns a section with haproxy's defaults.
func NewResolvers(name, pos string) *Resolvers {
	return &Resolvers{
		Name: name, Pos: pos, Retries: 3, Resolve: time.Second, Retry: time.Second, PayloadSize: 512,
		Hold: Hold{Valid: 10 * time.Second, NX: 30 * time.Second, Other: 30 * time.Second,
			Refused: 30 * time.Second, Timeout: 30 * time.Second},
	}
}

// InitAddr is one method of "init-addr", tried in order at start for a
// server whose address is a name.
type InitAddr struct {
	Method string // "last", "libc", "none" or "ip"
	IP     string // for "ip"
}
