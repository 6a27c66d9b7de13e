package lua

import (
	"fmt"
	"os"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// Log levels, as core.emerg..core.debug number them.
const (
	levelEmerg = iota
	levelAlert
	levelCrit
	levelErr
	levelWarning
	levelNotice
	levelInfo
	levelDebug
)

var levelNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// logf sends a message of the scripts to the log.
func (s *Scripts) logf(level int, format string, args ...any) {
	l := s.log()
	if l == nil {
		return
	}
	if level < 0 || level >= len(levelNames) {
		level = levelInfo
	}
	l.Printf("[%s] %s", levelNames[level], fmt.Sprintf(format, args...))
}

// Return codes of actions (act.*), as HAProxy numbers them.
const (
	actContinue = iota
	actStop
	actYield
	actError
	actDone
	actDeny
	actAbort
	actInvalid
)

// installCore sets the globals core and act.
func (st *state) installCore() {
	L := st.L
	core := L.NewTable()
	for i, n := range levelNames {
		L.SetField(core, n, glua.LNumber(i))
	}
	L.SetField(core, "thread", glua.LNumber(0))
	L.SetFuncs(core, map[string]glua.LGFunction{
		"register_service":    st.registerService,
		"register_action":     st.registerAction,
		"register_fetches":    st.registerNamed(KindFetch),
		"register_converters": st.registerNamed(KindConv),
		"register_init":       st.registerInit,
		"register_task":       st.registerTask,
		"register_cli":        st.registerCLI,
		"register_filter": func(L *glua.LState) int {
			L.RaiseError("core.register_filter: Lua filters are not supported by gohap")
			return 0
		},
		"done": func(L *glua.LState) int {
			st.stop(L.Get(1))
			return 0
		},
		"yield": func(*glua.LState) int { return 0 },
		"sleep": func(L *glua.LState) int {
			st.sleep(time.Duration(L.CheckNumber(1) * glua.LNumber(time.Second)))
			return 0
		},
		"msleep": func(L *glua.LState) int {
			st.sleep(time.Duration(L.CheckNumber(1) * glua.LNumber(time.Millisecond)))
			return 0
		},
		"now": func(L *glua.LState) int {
			now := time.Now()
			t := L.NewTable()
			L.SetField(t, "sec", glua.LNumber(now.Unix()))
			L.SetField(t, "usec", glua.LNumber(now.Nanosecond()/1000))
			L.Push(t)
			return 1
		},
		"get_info": func(L *glua.LState) int {
			t := L.NewTable()
			L.SetField(t, "Name", glua.LString("HAProxy"))
			L.SetField(t, "Version", glua.LString("2.6-gohap"))
			L.SetField(t, "Pid", glua.LNumber(os.Getpid()))
			L.SetField(t, "Nbthread", glua.LNumber(1))
			L.SetField(t, "Uptime_sec", glua.LNumber(int64(time.Since(st.s.loaded).Seconds())))
			L.Push(t)
			return 1
		},
		"tokenize":  coreTokenize,
		"concat":    coreConcat,
		"set_nice":  func(*glua.LState) int { return 0 },
		"http_date": coreHTTPDate,
	})
	L.SetFuncs(core, st.logMethods(1))
	// Filled once the configuration is compiled (fillProxies).
	for _, name := range []string{"proxies", "backends", "frontends"} {
		L.SetField(core, name, L.NewTable())
	}
	L.SetGlobal("core", core)
	act := L.NewTable()
	for name, v := range map[string]int{"CONTINUE": actContinue, "STOP": actStop, "YIELD": actYield,
		"ERROR": actError, "DONE": actDone, "DENY": actDeny, "ABORT": actAbort, "INVALID": actInvalid} {
		L.SetField(act, name, glua.LNumber(v))
	}
	L.SetGlobal("act", act)
}

// logMethods are log(level, msg), Debug(msg), Info, Warning and Alert,
// whose first argument is number arg: 1 for core, 2 for methods.
func (st *state) logMethods(arg int) map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"log": func(L *glua.LState) int {
			st.s.logf(L.CheckInt(arg), "%s", L.CheckString(arg+1))
			return 0
		},
		"Debug":   st.logAt(levelDebug, arg),
		"Info":    st.logAt(levelInfo, arg),
		"Warning": st.logAt(levelWarning, arg),
		"Alert":   st.logAt(levelAlert, arg),
	}
}

// logAt returns core.Info and the like: the message is argument arg.
func (st *state) logAt(level, arg int) glua.LGFunction {
	return func(L *glua.LState) int {
		st.s.logf(level, "%s", L.CheckString(arg))
		return 0
	}
}

// sleep blocks the calling goroutine; a task stops when the engine does.
func (st *state) sleep(d time.Duration) {
	if st.ctx == nil {
		time.Sleep(d)
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-st.ctx.Done():
		st.L.RaiseError("task stopped")
	}
}

// register records fn as kind name: in the first state, a new
// registration; in the others, this state's function for it.
func (st *state) register(r registration, fn *glua.LFunction) {
	L := st.L
	if !st.inBody {
		L.RaiseError("core.register_%s: may only be called from the body of a script", map[Kind]string{KindService: "service", KindAction: "action", KindFetch: "fetches", KindConv: "converters"}[r.kind])
	}
	s := st.s
	i, ok := s.lookup(r.kind, r.name)
	if st.role == roleFirst {
		if !ok {
			i = len(s.regs)
			s.index[regKey{r.kind, r.name}] = i
			s.regs = append(s.regs, r)
			st.fns = append(st.fns, nil)
		}
		s.regs[i] = r // a later registration of the name replaces the earlier
	} else if !ok {
		return
	}
	st.fns[i] = fn
}

func (st *state) registerService(L *glua.LState) int {
	name, mode, fn := L.CheckString(1), L.CheckString(2), L.CheckFunction(3)
	if mode != "http" && mode != "tcp" {
		L.ArgError(2, "'"+mode+"' is not a service mode: 'http' or 'tcp'")
	}
	st.register(registration{kind: KindService, name: name, http: mode == "http"}, fn)
	return 0
}

func (st *state) registerAction(L *glua.LState) int {
	name, list, fn := L.CheckString(1), L.CheckTable(2), L.CheckFunction(3)
	nargs := L.OptInt(4, 0)
	var hooks Hook
	list.ForEach(func(_, v glua.LValue) {
		h, ok := hookNames[glua.LVAsString(v)]
		if !ok {
			L.ArgError(2, "'"+v.String()+"' is not an action type: 'http-req', 'http-res', 'tcp-req' or 'tcp-res'")
		}
		hooks |= h
	})
	st.register(registration{kind: KindAction, name: name, hooks: hooks, nargs: nargs}, fn)
	return 0
}

func (st *state) registerNamed(kind Kind) glua.LGFunction {
	return func(L *glua.LState) int {
		st.register(registration{kind: kind, name: L.CheckString(1)}, L.CheckFunction(2))
		return 0
	}
}

func (st *state) registerInit(L *glua.LState) int {
	fn := L.CheckFunction(1)
	if !st.inBody {
		L.RaiseError("core.register_init: may only be called from the body of a script")
	}
	if st.role == roleFirst {
		st.s.inits = append(st.s.inits, fn)
	}
	return 0
}

func (st *state) registerTask(L *glua.LState) int {
	fn := L.CheckFunction(1)
	if !st.inBody {
		L.RaiseError("core.register_task: gohap runs tasks registered by the body of a script only")
	}
	switch st.role {
	case roleFirst:
		st.s.tasks++
	case roleTask:
		st.tasks = append(st.tasks, fn)
	}
	return 0
}

func (st *state) registerCLI(L *glua.LState) int {
	if st.role == roleFirst {
		st.s.warnings = append(st.s.warnings, "core.register_cli: gohap has no management CLI; the command is ignored")
	}
	return 0
}

// coreTokenize is core.tokenize(str, separators [, noblank]).
func coreTokenize(L *glua.LState) int {
	str, seps, noblank := L.CheckString(1), L.CheckString(2), L.OptBool(3, false)
	out := L.NewTable()
	start := 0
	for i := 0; i <= len(str); i++ {
		if i < len(str) && strings.IndexByte(seps, str[i]) < 0 {
			continue
		}
		if !noblank || i > start {
			out.Append(glua.LString(str[start:i]))
		}
		start = i + 1
	}
	L.Push(out)
	return 1
}

// coreConcat is core.concat(): an object with add(s) and dump().
func coreConcat(L *glua.LState) int {
	var b strings.Builder
	obj := L.NewTable()
	L.SetFuncs(obj, map[string]glua.LGFunction{
		"add": func(L *glua.LState) int {
			b.WriteString(L.CheckString(2))
			return 0
		},
		"dump": func(L *glua.LState) int {
			L.Push(glua.LString(b.String()))
			return 1
		},
	})
	L.Push(obj)
	return 1
}

// coreHTTPDate is core.http_date(s): the epoch time of an HTTP date, nil
// when s is none.
func coreHTTPDate(L *glua.LState) int {
	s := L.CheckString(1)
	for _, layout := range []string{time.RFC1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			L.Push(glua.LNumber(t.Unix()))
			return 1
		}
	}
	L.Push(glua.LNil)
	return 1
}

// statusText is the reason for code, or reason when given.
func statusText(code int, reason string) string {
	if reason != "" {
		return reason
	}
	return rules.StatusReason(code)
}
