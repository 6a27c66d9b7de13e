// Package lua runs the Lua scripts of a configuration ("lua-load"), as
// HAProxy's Lua integration does: the services, actions, sample fetches and
// converters they register, their init functions and their tasks.
//
// The interpreter is gopher-lua, a Lua 5.1 written in Go; HAProxy embeds
// Lua 5.3. A Lua state serves one goroutine at a time, so Scripts keeps a
// pool of states, each loaded with every script, and a call takes one for
// its duration. Globals a script changes at run time are thus per state,
// as with HAProxy's lua-load-per-thread.
package lua

import (
	"context"
	"fmt"
	"log"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// Kind is what a script registered a function as.
type Kind uint8

// The kinds of registrations.
const (
	KindService Kind = iota
	KindAction
	KindFetch
	KindConv
)

var kindNames = [...]string{"service", "action", "sample fetch", "converter"}

func (k Kind) String() string { return kindNames[k] }

// Hook is a rule set a Lua action may run in, as register_action names it.
type Hook uint8

// The rule sets of register_action.
const (
	HookHTTPReq Hook = 1 << iota // "http-req": http-request
	HookHTTPRes                  // "http-res": http-response
	HookTCPReq                   // "tcp-req": tcp-request content
	HookTCPRes                   // "tcp-res": tcp-response content
)

var hookNames = map[string]Hook{"http-req": HookHTTPReq, "http-res": HookHTTPRes, "tcp-req": HookTCPReq, "tcp-res": HookTCPRes}

// String lists the rule sets of h as register_action names them.
func (h Hook) String() string {
	var names []string
	for _, n := range []string{"http-req", "http-res", "tcp-req", "tcp-res"} {
		if h&hookNames[n] != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// registration is one name a script body registered.
type registration struct {
	kind  Kind
	name  string
	http  bool // services: "http" mode, else "tcp"
	hooks Hook // actions: where they may run
	nargs int  // actions: arguments taken from the rule line
}

type regKey struct {
	kind Kind
	name string
}

// Scripts are the Lua files of one configuration, compiled and loaded: the
// parser builds it and the rules it compiles point at it. After loading it
// only changes its pool of states; it is safe for concurrent use.
type Scripts struct {
	files  []script
	paths  []string // lua-prepend-path, in order: each goes in front
	cpaths []string

	regs  []registration // in the order of the first load
	index map[regKey]int // into regs
	// tasks counts the register_task calls of the bodies; each task runs
	// in a state of its own.
	tasks int
	// first is the state the bodies ran in at load time; it keeps the
	// register_init functions and joins the pool once they ran (Start).
	first *state
	inits []*glua.LFunction

	idle chan *state // states ready for a call

	loadLog *log.Logger
	logger  atomic.Pointer[log.Logger]
	// resolver builds the fetches scripts call by name (txn.f:src());
	// graph is the compiled configuration (core.backends). Both are set
	// by Freeze.
	resolver rules.Resolver
	graph    *rules.Graph
	// state is the live state of the servers, for tasks (Start).
	state    rules.StateView
	warnings []string
	loaded   time.Time // for core.get_info's uptime

	tasksWG sync.WaitGroup
}

var _ rules.Extension = (*Scripts)(nil)

// script is one loaded file.
type script struct {
	name  string
	proto *glua.FunctionProto
}

// maxIdle bounds the states kept between calls; more are built when more
// calls run at once, and closed when they come back to a full pool.
const maxIdle = 64

// New returns an empty set of scripts. What scripts log while they load
// goes to loadLog (nil: nowhere); once the engine starts, to its logger.
func New(loadLog *log.Logger) *Scripts {
	return &Scripts{index: map[regKey]int{}, idle: make(chan *state, maxIdle), loadLog: loadLog, loaded: time.Now()}
}

// PrependPath puts path in front of package.path ("lua-prepend-path"), or
// of package.cpath when cpath is set, for the files loaded after it.
func (s *Scripts) PrependPath(path string, cpath bool) {
	if cpath {
		s.cpaths = append(s.cpaths, path)
		return
	}
	s.paths = append(s.paths, path)
}

// Freeze gives the scripts the compiled configuration g: its proxies
// (core.backends) and r, what fetches called from scripts resolve names
// (backends, variables) with. The parser calls it once g is complete.
func (s *Scripts) Freeze(g *rules.Graph, r rules.Resolver) {
	s.graph, s.resolver = g, r
	if s.first != nil {
		s.first.fillProxies()
	}
}

// Warnings returns what loading found worth a warning (register_cli).
func (s *Scripts) Warnings() []string { return s.warnings }

// Load compiles file (its content is src) and runs its body, which
// registers services, actions, fetches and converters. An error names
// the file and line.
func (s *Scripts) Load(file string, src []byte) error {
	proto, err := compile(file, src)
	if err != nil {
		return err
	}
	if s.first == nil {
		st, err := s.newState(roleFirst)
		if err != nil {
			return err
		}
		s.first = st
	}
	s.files = append(s.files, script{name: file, proto: proto})
	return s.first.runBody(proto)
}

// lookup returns the registration of name as kind.
func (s *Scripts) lookup(kind Kind, name string) (int, bool) {
	i, ok := s.index[regKey{kind, name}]
	return i, ok
}

// Names lists what the scripts registered as kind, as "lua.NAME", for
// "did you mean".
func (s *Scripts) Names(kind Kind) []string {
	var out []string
	for _, r := range s.regs {
		if r.kind == kind {
			out = append(out, "lua."+r.name)
		}
	}
	sort.Strings(out)
	return out
}

// get takes a state from the pool, or builds one.
func (s *Scripts) get() (*state, error) {
	select {
	case st := <-s.idle:
		return st, nil
	default:
	}
	return s.newState(rolePool)
}

// put returns st to the pool, or closes it when the pool is full.
func (s *Scripts) put(st *state) {
	st.reset()
	select {
	case s.idle <- st:
	default:
		st.L.Close()
	}
}

// log returns where messages of the scripts go now.
func (s *Scripts) log() *log.Logger {
	if l := s.logger.Load(); l != nil {
		return l
	}
	return s.loadLog
}

// Start implements rules.Extension: it runs the register_init functions,
// then starts each task in a state of its own, until ctx is done.
func (s *Scripts) Start(ctx context.Context, l *log.Logger, state rules.StateView, tasks bool) error {
	s.logger.Store(l)
	s.state = state
	if st := s.first; st != nil {
		s.first = nil
		for _, fn := range s.inits {
			if err := st.call(fn); err != nil {
				return fmt.Errorf("lua init function: %v", errorText(err))
			}
		}
		s.inits = nil
		s.put(st)
	}
	for i := 0; tasks && i < s.tasks; i++ {
		s.tasksWG.Add(1)
		go s.runTask(ctx, i)
	}
	return nil
}

// Wait implements rules.Extension: it returns once every task ended.
func (s *Scripts) Wait() { s.tasksWG.Wait() }

// runTask runs task number i until it returns or ctx is done.
func (s *Scripts) runTask(ctx context.Context, i int) {
	defer s.tasksWG.Done()
	st, err := s.newState(roleTask)
	if err != nil {
		s.logf(levelAlert, "Lua task: %v", err)
		return
	}
	defer st.L.Close()
	if i >= len(st.tasks) {
		s.logf(levelAlert, "Lua task %d: the scripts registered fewer tasks when loaded again", i+1)
		return
	}
	st.ctx = ctx
	st.L.SetContext(ctx)
	if err := st.call(st.tasks[i]); err != nil && ctx.Err() == nil {
		s.logf(levelAlert, "Lua task: %s", errorText(err))
	}
}
