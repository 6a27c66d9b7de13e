package rules

import (
	"net/netip"
	"time"
)

// Log is a frontend's traffic logging: where its log lines go and what
// they say. A nil *Log costs nothing: the runtime builds no line.
type Log struct {
	Targets []LogTarget
	// Format is the line ("log-format", or the one of option httplog,
	// tcplog, httpslog).
	Format *Format
	// DontLogNull drops connections that sent nothing ("option
	// dontlognull"); DontLogNormal drops those with no error, timeout,
	// retry or 5xx status ("option dontlog-normal"); SeparateErrors
	// raises the level of the others from info to err ("option
	// log-separate-errors").
	DontLogNull, DontLogNormal, SeparateErrors bool
}

// LogTarget is one "log" line: a syslog server, a datagram socket or a
// standard stream, and the framing and levels of its messages.
type LogTarget struct {
	Pos string // file:line, for messages about this target
	// Network is "udp" (Addr host:port), "unixgram" (Addr a socket path)
	// or "fd" (Addr "stdout" or "stderr").
	Network string
	Addr    string
	Framing LogFraming
	// NamedRFC3164: "format rfc3164" was written out. haproxy 2.6 then
	// always sends a host name, "localhost" without log-send-hostname,
	// where its default framing leaves the field out.
	NamedRFC3164 bool
	// MaxLen bounds a message with its header; a longer one is cut
	// (haproxy's "len", 1024 by default).
	MaxLen   int
	Facility int // 0 (kern) to 23 (local7)
	// Level is the least severe level sent ("debug": all); MinLevel
	// caps more severe ones ("emerg": none capped). 0 is emerg, 7 debug.
	Level, MinLevel int
}

// LogFraming is how a message is framed: haproxy's "format" of a log
// target.
type LogFraming uint8

// The framings of haproxy 2.6's "log ... format".
const (
	FramingRFC3164  LogFraming = iota // <PRI>Mmm dd hh:mm:ss [host ]tag[pid]: msg
	FramingRFC5424                    // <PRI>1 ISO-DATE host tag pid - - msg
	FramingShort                      // <LEVEL>msg
	FramingRaw                        // msg
	FramingISO                        // ISO-DATE msg
	FramingTimed                      // <LEVEL>ISO-DATE msg
	FramingPriority                   // <PRI>msg
	FramingLocal                      // as rfc3164, without the hostname
)

var framingNames = [...]string{"rfc3164", "rfc5424", "short", "raw", "iso", "timed", "priority", "local"}

func (f LogFraming) String() string { return framingNames[f] }

// ParseLogFraming returns the framing called name; ok is false for an
// unknown one.
func ParseLogFraming(name string) (f LogFraming, ok bool) {
	for i, n := range framingNames {
		if n == name {
			return LogFraming(i), true
		}
	}
	return 0, false
}

// The syslog levels a traffic log line is sent at.
const (
	LevelErr  = 3
	LevelInfo = 6
)

// LogInfo is what a request's log line reports about it, filled by the
// runtime when the request ends, before the format runs. Timers are in
// milliseconds, -1 when the step was not reached.
type LogInfo struct {
	// Accept is when the stream started (%t): the connection's accept
	// for the first request, the end of the previous one after it.
	Accept time.Time
	// Request is when the request's first byte came (%tr).
	Request time.Time
	// Th, Ti, TR, Tw, Tc, Tr, Ta and Tt are haproxy's timers (section
	// 8.4): handshake, idle, request head, queue, connect, response,
	// active and total times.
	Th, Ti, TR, Tw, Tc, Tr, Ta, Tt int64
	// Status is the status sent (%ST); 0 in TCP, -1 when none was.
	Status int
	// BytesOut were sent to the client (%B), BytesIn read from it (%U).
	BytesOut, BytesIn int64
	// Frontend is the frontend's name, TLS whether the connection is
	// TLS (%ft adds '~'); Backend is empty before one was chosen (%b
	// prints the frontend then), Server before a server was (%s prints
	// "<NOSRV>").
	Frontend, Backend, Server string
	TLS                       bool
	// TLSVersion and TLSCipher name the client connection's TLS version
	// and cipher (%sslv %sslc); empty: not TLS.
	TLSVersion, TLSCipher string
	// ServerAddr is the server's address, BackendSrc the local address
	// of the connection to it (%si %sp, %bi %bp).
	ServerAddr, BackendSrc netip.AddrPort
	// Term is the termination state (%ts), Cookie the persistence
	// cookie's two characters (%tsc adds them).
	Term, Cookie [2]byte
	// BadReq: the request could not be parsed (%r is "<BADREQ>").
	BadReq bool
	// Retries, and the counts at log time: process, frontend, backend
	// and server connections, server and backend queues.
	Retries                                             int
	ActConn, FeConn, BeConn, SrvConn, SrvQueue, BeQueue int64
	// Counter is the frontend's log line number (%lc).
	Counter int64
}

// Reset prepares l for a request that started at accept.
func (l *LogInfo) Reset(accept time.Time) {
	*l = LogInfo{Accept: accept, Request: accept, Th: 0, Ti: 0, TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: -1, Tt: -1,
		Status: -1, Term: [2]byte{'-', '-'}, Cookie: [2]byte{'-', '-'}}
}

// SetTerm records how the request ended (%ts): who ended it and at which
// step, unless an earlier step already said.
func (l *LogInfo) SetTerm(who, when byte) {
	if l.Term[0] == '-' {
		l.Term = [2]byte{who, when}
	}
}

// Normal reports whether the request ended with no error, timeout,
// retry nor 5xx status, as "option dontlog-normal" reads it.
func (l *LogInfo) Normal() bool {
	return (l.Term[0] == '-' || l.Term[0] == 'L') && l.Retries == 0 && l.Status < 500
}
