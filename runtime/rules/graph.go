// Package rules holds gohap's compiled configuration, the rule graph, and
// the per-request code that evaluates it: fetches, matchers, ACLs,
// conditions and actions. The parser builds a Graph and checks it; after
// that the Graph is frozen and shared by every request that runs on it.
// The package imports no other gohap package: the runtime supplies the
// live pieces through VarStore and StateView.
package rules

import (
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Graph is one checked, frozen configuration. A reload builds a new Graph
// and swaps a pointer; requests in flight keep the Graph they started with.
type Graph struct {
	Global    Global
	Frontends []*Frontend
	Backends  []*Backend
	// Vars lists the runtime variables the configuration reads, each
	// resolved to its shared-memory slot.
	Vars []Var
	// Resolvers are the "resolvers" sections servers name.
	Resolvers []*Resolvers
	// Tables are the stick tables, in declaration order.
	Tables []*StickTable
	// VarTable names every variable the configuration uses, in all scopes.
	VarTable VarTable
	// Extensions are started with the engine and stopped with it: the
	// Lua scripts' init functions and tasks ("lua-load").
	Extensions []Extension
}

// Global holds the process-wide settings that gohap acts on.
type Global struct {
	MaxConn int // 0 means no limit
	PIDFile string
	// NbThread is how many threads run the proxy (GOMAXPROCS); 0 leaves
	// Go's default, one per CPU, which is haproxy's default too.
	NbThread int
	// HardStopAfter bounds a soft stop (hard-stop-after); 0: no bound.
	HardStopAfter time.Duration
	// NoMemoryTrimming keeps the memory a process no longer uses instead
	// of giving it back to the system ("no-memory-trimming").
	NoMemoryTrimming bool
	// InitVars are the global "set-var proc.NAME EXPR" and "set-var-fmt"
	// lines, in order, each with the condition ifnotset. Graph.InitVars
	// runs them at start and at each reload.
	InitVars []*SetVarAction
	// StatsSockets are where the runtime API listens ("stats socket").
	StatsSockets []StatsSocket
	// Logs are the global "log" targets, which "log global" in a proxy
	// uses.
	Logs []LogTarget
	// LogTag is the program name in syslog headers ("log-tag"; empty:
	// "haproxy"); LogHostname the host name they carry, empty unless
	// "log-send-hostname".
	LogTag, LogHostname string
	// StatsTimeout is how long the runtime API waits for a command
	// ("stats timeout"); 0: haproxy's default, 10s.
	StatsTimeout time.Duration
	// StatsMaxConn bounds the runtime API's connections, all sockets
	// together ("stats maxconn"); 0: haproxy's default, 10.
	StatsMaxConn int
}

// StatsSocket is one "stats socket" line: where the runtime API listens
// and what its connections may do.
type StatsSocket struct {
	Pos     string // file:line, for messages about this socket
	Network string // "unix", "tcp", "tcp4" or "tcp6"
	Addr    string // a socket path ("@name": abstract) or host:port
	// Mode is the socket file's permissions; 0 keeps what the umask gives.
	Mode os.FileMode
	// UID and GID own the socket file; -1 leaves it to the process.
	UID, GID int
	Level    Level
}

// Level is a runtime API access level: the commands a connection may run.
type Level uint8

// The levels, from the least privileged; "operator" is haproxy's default.
const (
	LevelUser Level = iota
	LevelOperator
	LevelAdmin
)

var levelNames = [...]string{"user", "operator", "admin"}

func (l Level) String() string { return levelNames[l] }

// ParseLevel returns the level HAProxy names s.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), true
		}
	}
	return 0, false
}

// Var is a runtime variable declared by "acl variable" or read by
// var(proc.NAME), with the store slot the compile step resolved it to.
type Var struct {
	Name string
	Slot int
}

// Mode is a proxy's protocol mode, as set by the "mode" keyword.
type Mode uint8

// The modes HAProxy knows.
const (
	ModeTCP Mode = iota
	ModeHTTP
)

func (m Mode) String() string {
	if m == ModeHTTP {
		return "http"
	}
	return "tcp"
}

// Timeouts are the "timeout" settings of a proxy; zero means no timeout.
type Timeouts struct {
	Client        time.Duration
	Server        time.Duration
	Connect       time.Duration
	Queue         time.Duration
	Check         time.Duration
	HTTPRequest   time.Duration
	HTTPKeepAlive time.Duration
	Tunnel        time.Duration
	ClientFin     time.Duration
	ServerFin     time.Duration
}

// Bind is one listening address of a frontend.
type Bind struct {
	Pos     string // file:line, for messages about this bind
	Network string // "tcp", "tcp4", "tcp6" or "unix"
	Addr    string // as net.Listen takes it: "127.0.0.1:8080", ":80", "/run/x.sock"
	// FD, when >= 0, is an inherited listening socket to use instead of
	// binding Addr (HAProxy's "fd@N").
	FD int
	// TLS, when set, terminates TLS on the listener ("ssl crt ...").
	TLS *tls.Config
	// AcceptProxy: each connection starts with a PROXY protocol header
	// (v1 or v2) that gives the client's addresses ("accept-proxy").
	AcceptProxy bool
}

// Frontend is a proxy that accepts connections: a "frontend" section, or
// the frontend half of a "listen" section.
type Frontend struct {
	Name     string
	Pos      string
	Mode     Mode
	Binds    []Bind
	Timeouts Timeouts
	MaxConn  int
	// RateLimitSessions is "rate-limit sessions": at most this many new
	// connections a second are accepted, the others wait in the kernel's
	// backlog; 0: no limit.
	RateLimitSessions int

	// MonitorURI, when not empty, is answered by the frontend itself:
	// 200 while no MonitorFail condition holds, 503 otherwise. It is
	// compared with the request's path and query, before any rule runs.
	MonitorURI  string
	MonitorFail []*Cond

	// HTTPRequest are the "http-request" rules, run in order once the
	// request headers are in.
	HTTPRequest []Rule
	// Redirects are the legacy "redirect" rules; haproxy runs them after
	// all http-request rules of the proxy, wherever they are written.
	Redirects []Rule
	// HTTPResponse are the "http-response" rules, run on the response
	// head: the backend's first, then the frontend's.
	HTTPResponse []Rule
	// HTTPAfterResponse are the "http-after-response" rules, run on
	// every response sent to the client (the server's, a service's and
	// the ones gohap builds: deny, return, redirects, error pages), after
	// the http-response rules: the backend's first, then the frontend's.
	// The pages of the HTTP/1 layer (400 bad request, 408) skip them, as
	// in haproxy.
	HTTPAfterResponse []Rule
	// TCPConnection are the "tcp-request connection" rules, run when a
	// connection is accepted, and TCPSession the "tcp-request session"
	// rules, run right after them. TCPContent are the "tcp-request
	// content" rules: in mode tcp, run once the client sent its first
	// bytes or InspectDelay passed (0: at once, on nothing); in mode
	// http, run on each request once its head is in.
	TCPConnection []Rule
	TCPSession    []Rule
	TCPContent    []Rule
	InspectDelay  time.Duration
	// Switching are the "use_backend" rules, tried in order after the
	// http-request rules; the first whose condition holds picks the
	// backend, else DefaultBackend (nil: the request gets a 503).
	Switching      []Switch
	DefaultBackend *Backend

	Errors  ErrorSet
	Options Options
	// Stats is the statistics page, nil when not enabled.
	Stats *Stats
	// Compression compresses responses ("compression"); nil: none.
	Compression *Compression
	// Log is the frontend's traffic logging; nil: it logs nothing.
	Log *Log
	// UniqueIDFormat is "unique-id-format": each request's unique ID,
	// built on first use (Txn.UniqueID); nil: none. UniqueIDHeader is
	// "unique-id-header", the request header, lower case, that carries
	// the ID to the server, added after the backend's rules ran; nil:
	// none, or no format.
	UniqueIDFormat *Format
	UniqueIDHeader []byte
}

// Options are the "option" flags gohap acts on.
type Options struct {
	ForwardFor       bool
	ForwardForExcept netip.Prefix // addresses for which no header is added
	ForwardForHeader string       // default "x-forwarded-for"
	ForwardForIfNone bool
	HTTPServerClose  bool
	HTTPKeepAlive    bool
	HTTPClose        bool
	Redispatch       bool
	// RedispatchAfter is the N of "option redispatch N": a retry goes to
	// another server every Nth retry (N > 0) or on the -Nth before the
	// last (N < 0; -1, the last, by default); 0 never.
	RedispatchAfter int
	AllBackups      bool
	// Persist ("option persist") sends a request whose cookie names a
	// down server to that server anyway.
	Persist bool
	// ClientTCPKA and ServerTCPKA turn on TCP keep-alive probes on the
	// client and the server connections, with the system's timers
	// ("option clitcpka", "option srvtcpka"; "option tcpka" both). A
	// frontend reads only the first, a backend only the second, so tcpka
	// in either means its own side, as in haproxy. Off by default.
	ClientTCPKA, ServerTCPKA bool
}

// PersistRule is "force-persist if COND" (Force) or "ignore-persist if
// COND": whether the persistence cookie applies to a request.
type PersistRule struct {
	Force bool
	Cond  *Cond
}

// Switch is one "use_backend" rule.
type Switch struct {
	Pos     string
	Cond    *Cond // nil: always
	Backend *Backend
	// Name, when not nil, is a dynamic rule's log-format name
	// ("use_backend be_%[req.hdr(host),lower]"), looked up per request in
	// Backends, every backend of the configuration by name; Backend is nil.
	Name     *Format
	Backends map[string]*Backend
}

// PickBackend runs the switching rules for t and returns the backend of
// the first rule whose condition holds, else DefaultBackend (nil: none).
// As in haproxy, a dynamic name that names no backend ends the search:
// DefaultBackend is used, not the next rule.
func (fe *Frontend) PickBackend(t *Txn) *Backend {
	for i := range fe.Switching {
		sw := &fe.Switching[i]
		if !sw.Cond.Eval(t) {
			continue
		}
		if sw.Name == nil {
			return sw.Backend
		}
		t.fmtBuf = sw.Name.Append(t, t.fmtBuf[:0])
		if be := sw.Backends[string(t.fmtBuf)]; be != nil {
			return be
		}
		break
	}
	return fe.DefaultBackend
}

// UseServer is one "use-server NAME if|unless COND" rule.
type UseServer struct {
	Pos    string
	Cond   *Cond
	Server *Server
	// Name, when not nil, is a dynamic rule's log-format name, looked up
	// per request among the backend's servers; Server is nil.
	Name *Format
}

// Target returns the server rule u of backend be names for t; matched
// reports whether the condition held. A dynamic name that names no
// server gives nil with matched: haproxy then stops the use-server rules
// and balances.
func (u *UseServer) Target(t *Txn, be *Backend) (srv *Server, matched bool) {
	if !u.Cond.Eval(t) {
		return nil, false
	}
	if u.Name == nil {
		return u.Server, true
	}
	t.fmtBuf = u.Name.Append(t, t.fmtBuf[:0])
	return be.ServerNamed(t.fmtBuf), true
}

// ServerNamed returns the server of be called name, or nil; like
// haproxy's findserver, it looks through the list.
func (be *Backend) ServerNamed(name []byte) *Server {
	for _, s := range be.Servers {
		if s.Name == string(name) {
			return s
		}
	}
	return nil
}

// Backend is a proxy that forwards to servers: a "backend" section, or the
// backend half of a "listen" section.
type Backend struct {
	Name    string
	Pos     string
	Index   int // position in Graph.Backends
	Mode    Mode
	Balance Algo
	// RandomDraws is how many servers "balance random(N)" draws to keep
	// the least loaded (2 by default).
	RandomDraws int
	// Hash says how the hashing algorithms turn a request into a server
	// ("hash-type", "hash-balance-factor" and the balance arguments).
	Hash     Hash
	Servers  []*Server
	Timeouts Timeouts
	Retries  int // connection retries, HAProxy's default is 3
	// RetryOn says which failures are retried ("retry-on"); the zero
	// value retries nothing.
	RetryOn RetryOn
	// HTTPRequest are the backend's own "http-request" rules, run after
	// the frontend picked this backend.
	HTTPRequest []Rule
	Redirects   []Rule // as Frontend.Redirects
	// Cookie is cookie persistence ("cookie NAME ..."); nil: none.
	Cookie *Cookie
	// UseServers are the "use-server" rules, in order; the first that
	// names a usable server picks it before persistence and balancing.
	UseServers []UseServer
	// PersistRules are the force-persist and ignore-persist rules, in
	// order; the first whose condition holds applies.
	PersistRules []PersistRule
	// StickRules are "stick match", "stick on" and "stick
	// store-request"; StickResponse are "stick store-response". Both run
	// in order.
	StickRules    []StickRule
	StickResponse []StickRule
	// DynamicCookieKey is "dynamic-cookie-key": with Cookie.Dynamic,
	// servers without a cookie value get one hashed from it and their
	// address (see DynamicCookie).
	DynamicCookieKey string
	// SendNameHeader names the request header that carries the chosen
	// server's name ("http-send-name-header"); empty: none.
	SendNameHeader []byte
	// TCPContent and InspectDelay are the backend's own "tcp-request
	// content" rules (mode tcp), run once it is chosen.
	TCPContent        []Rule
	InspectDelay      time.Duration
	HTTPResponse      []Rule // as Frontend.HTTPResponse
	HTTPAfterResponse []Rule // as Frontend.HTTPAfterResponse
	Errors            ErrorSet
	Options           Options
	Stats             *Stats // as Frontend.Stats
	// Check is what the health checks of servers with "check" send and
	// expect; nil means a TCP connect check.
	Check *HealthCheck
	// Compression is as Frontend.Compression; it takes precedence.
	Compression *Compression
	// Source is where connections to servers without their own come
	// from ("source"); nil: the system's choice.
	Source *Source
}

// Hash is the hashing part of a backend's balancing: the key the hashing
// algorithms take from a request and how HAProxy maps it to a server.
// The zero value is "hash-type map-based sdbm" with no key option.
type Hash struct {
	// Consistent is "hash-type consistent": a tree of points per server,
	// so a server change moves only that server's keys; false is the
	// map-based table HAProxy rebuilds over the usable servers.
	Consistent bool
	Func       HashFunc
	Avalanche  bool // the key's hash goes through HAProxy's full_hash
	// BalanceFactor is "hash-balance-factor" (percent of the average
	// load a server may take with consistent hashing); 0: no bound.
	BalanceFactor int

	// URIWhole, URIPathOnly, URILen and URIDepth are the "balance uri"
	// options "whole", "path-only", "len N" and "depth N" (0: none).
	URIWhole, URIPathOnly bool
	URILen, URIDepth      int
	// Param is the parameter name of "balance url_param" and Header the
	// lower-case header name of "balance hdr(NAME)".
	Param, Header []byte
	// DomainOnly is hdr's "use_domain_only": hash only the main domain.
	DomainOnly bool
}

// HashFunc is a hash function of "hash-type".
type HashFunc uint8

// The hash functions of HAProxy 2.6; sdbm is the default.
const (
	HashSDBM HashFunc = iota
	HashDJB2
	HashWT6
	HashCRC32
)

var hashFuncNames = [...]string{"sdbm", "djb2", "wt6", "crc32"}

func (f HashFunc) String() string { return hashFuncNames[f] }

// ParseHashFunc returns the hash function HAProxy names s.
func ParseHashFunc(s string) (HashFunc, bool) {
	i := nameIndex(hashFuncNames[:], s)
	return HashFunc(i), i >= 0
}

// Algo is a load-balancing algorithm, as set by "balance".
type Algo uint8

// The balancing algorithms gohap implements.
const (
	AlgoRoundRobin Algo = iota
	AlgoStaticRR
	AlgoLeastConn
	AlgoFirst
	AlgoSource
	AlgoRandom
	AlgoURI      // "uri": the request URI, see Hash
	AlgoURLParam // "url_param NAME": a query string parameter
	AlgoHdr      // "hdr(NAME)": a request header
)

var algoNames = [...]string{"roundrobin", "static-rr", "leastconn", "first", "source", "random", "uri", "url_param", "hdr"}

func (a Algo) String() string { return algoNames[a] }

// Hashed reports whether a picks the server from a hash of the request
// (source, uri, url_param, hdr), as set up by Backend.Hash.
func (a Algo) Hashed() bool {
	return a == AlgoSource || a == AlgoURI || a == AlgoURLParam || a == AlgoHdr
}

// ParseAlgo returns the algorithm HAProxy names s.
func ParseAlgo(s string) (Algo, bool) {
	i := nameIndex(algoNames[:], s)
	return Algo(i), i >= 0
}

// nameIndex returns the index of s in names, the names of an enum, or -1.
func nameIndex(names []string, s string) int {
	for i, n := range names {
		if n == s {
			return i
		}
	}
	return -1
}

// Server is one "server" line of a backend, frozen. Its live state (up or
// down, connection counts) is the runtime's, matched by backend and name.
type Server struct {
	Name    string
	Pos     string
	Index   int // position in Backend.Servers
	Backend *Backend
	// Network is "tcp" or "unix"; Addr is host:port, a socket path ("@"
	// first for an abstract socket), or only a host when PortFromClient.
	Network string
	Addr    string
	// PortFromClient: the address has no port, so the server is reached
	// on the port the client connected to, as in haproxy.
	PortFromClient bool

	// TLS, when set, encrypts connections to the server ("ssl"); the
	// checks use it too when CheckTLS is set.
	TLS      *tls.Config
	CheckTLS bool
	// SNI, when set, is the TLS server name of each connection ("sni
	// EXPR" other than str(NAME)), evaluated on the request or connection
	// that opens it; TLS then names no server. With SNIVerify the
	// server's certificate must match that name.
	SNI       *Format
	SNIVerify bool
	// Cookie is the value that names this server in the backend's
	// persistence cookie ("cookie VALUE"); empty: none.
	Cookie string
	// ShutdownOnDown closes the server's connections when it is marked
	// down ("on-marked-down shutdown-sessions").
	ShutdownOnDown bool
	// ProxyProtocol is the PROXY protocol version sent first on each
	// connection ("send-proxy": 1, "send-proxy-v2": 2), 0 for none.
	ProxyProtocol int
	// Source is the server's own "source"; nil: the backend's.
	Source *Source

	Weight int // 1..256, default 1
	// ID is the server's numeric id ("id", else the first free number
	// from 1 in declaration order, as haproxy assigns them); consistent
	// hashing places the server's points from it.
	ID       int
	Backup   bool
	Disabled bool
	// NonStick ("non-stick"): stick store rules never record this server.
	NonStick bool
	MaxConn  int // 0: no limit

	// Resolvers, when set, keeps the address from DNS: Hostname's A or
	// AAAA records (ResolvePrefer's family first), or for a
	// server-template on "_service._proto.name", SRVName's SRV records
	// (target, port and weight); the server waits in maintenance until
	// it has one. InitAddr is how a Hostname is resolved at start.
	Resolvers     *Resolvers
	Hostname      string
	SRVName       string
	ResolvePrefer string // "ipv4" or "ipv6" (haproxy's default)
	InitAddr      []InitAddr
	// CheckPort is the "port" option: checks keep it when DNS changes
	// the address; 0: the server's port.
	CheckPort int

	Check     bool
	CheckAddr string // address the check connects to; defaults to Addr
	Inter     time.Duration
	FastInter time.Duration
	DownInter time.Duration
	Rise      int
	Fall      int
}

// DialAddr returns where to connect to s, at address addr (Addr, or one
// DNS gave), for a client that reached dst.
func (s *Server) DialAddr(addr string, dst netip.AddrPort) (network, hostport string) {
	network = s.Network
	if network == "" {
		network = "tcp"
	}
	if s.PortFromClient {
		return network, net.JoinHostPort(addr, strconv.Itoa(int(dst.Port())))
	}
	return network, addr
}

// VarStore gives lock-free reads of runtime variables (proc scope) by
// slot, and writes for set-var(proc.NAME). The shm package implements it;
// tests use a map-backed fake.
type VarStore interface {
	// Load appends the variable's current value to dst[:0] and returns it;
	// an unset variable loads as empty. It must not allocate when
	// cap(dst) is large enough, and must be safe for concurrent use.
	Load(slot int, dst []byte) []byte
	// Equal reports whether the variable holds exactly v, comparing in
	// place: the per-request "acl variable" check, with no copy.
	Equal(slot int, v []byte) bool
	// SetSlot stores v in the variable; an empty v unsets it. It must be
	// safe for concurrent use and atomic for readers. A value the store
	// cannot hold is dropped, as haproxy drops a value over its limits.
	SetSlot(slot int, v []byte)
}

// StateView reports live server state to fetches such as nbsrv.
type StateView interface {
	// Usable reports how many servers of b can take traffic now: active
	// servers that are up, or when none is, backup servers that are up.
	Usable(b *Backend) int
	// ServerStatus returns the status of s as the statistics page shows
	// it: "UP", "DOWN", "NOLB", "MAINT" or "no check".
	ServerStatus(s *Server) string
}

// PosLess orders "file:line" positions (Frontend.Pos, Backend.Pos): by
// file, then by line.
func PosLess(a, b string) bool {
	af, al, _ := strings.Cut(a, ":")
	bf, bl, _ := strings.Cut(b, ":")
	if af != bf {
		return af < bf
	}
	x, _ := strconv.Atoi(al)
	y, _ := strconv.Atoi(bl)
	return x < y
}

// Source is where connections to servers come from: "source" on a
// backend (the default of its servers) or a server.
type Source struct {
	// Addr is the local address to bind; zero lets the system choose.
	Addr netip.Addr
	// PortLo..PortHi is the local port, or on a server a range to take
	// a free one from; 0: the system's choice.
	PortLo, PortHi uint16
	// Interface binds connections to a network device; empty: any.
	Interface string
	// UseSrc is the address the server sees in full transparent proxy
	// mode ("usesrc"), which binds with IP_TRANSPARENT; health checks
	// still use Addr.
	UseSrc  UseSrc
	UseAddr netip.AddrPort // for UseSrcAddr
	// HdrName and HdrOcc are the request header, lower case, and the
	// occurrence (from 1, or from -1 for the last) whose address
	// UseSrcHdr presents; none found: Addr.
	HdrName []byte
	HdrOcc  int
}

// UseSrc is the kind of address "usesrc" presents.
type UseSrc uint8

// The "usesrc" arguments.
const (
	UseSrcNone     UseSrc = iota
	UseSrcAddr            // a fixed address and port
	UseSrcClient          // the client's address and port
	UseSrcClientIP        // the client's address, any port
	UseSrcHdr             // an address in a request header: hdr_ip(NAME,OCC)
)

// RetryOn is the set of failures after which a request is sent again
// ("retry-on"), each retry counting against Backend.Retries.
type RetryOn uint32

// The "retry-on" keywords; statuses are RetryStatus(code).
const (
	// RetryConnFailure retries a connection that could not be
	// established (the default).
	RetryConnFailure RetryOn = 1 << iota
	// The rest send the request again, which needs it read whole.
	RetryEmptyResponse   // closed with nothing received
	RetryJunkResponse    // something that is not an HTTP response head
	RetryResponseTimeout // timeout server before the response head
	Retry0RTTRejected    // early data refused (gohap sends none)
	retryStatusBase
)

// retryStatuses are the statuses "retry-on" accepts, in bit order.
var retryStatuses = [...]int{401, 403, 404, 408, 425, 500, 501, 502, 503, 504}

// RetryStatus returns the bit for a response status, 0 for a status
// "retry-on" does not take.
func RetryStatus(code int) RetryOn {
	for i, c := range retryStatuses {
		if c == code {
			return retryStatusBase << i
		}
	}
	return 0
}

// Replays reports whether r retries anything but connection failures:
// the request must then be kept until the response head came.
func (r RetryOn) Replays() bool { return r&^RetryConnFailure != 0 }

// InitVars gives the proc variables of the global set-var lines their
// value, in the order of the lines, before the graph serves traffic. A
// variable that already holds a value keeps it: the store outlives the
// process, so the value may be an operator's (gohap -S) or a rule's, and
// a restart or a reload must not undo it. Only an unset (empty) variable
// takes the configured value, which makes it an initial value.
func (g *Graph) InitVars(vars VarStore) {
	t := &Txn{Vars: vars}
	for _, a := range g.Global.InitVars {
		a.Exec(t)
	}
}
