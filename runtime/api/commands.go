package api

import (
	"errors"
	"strconv"
	"strings"

	"gohap/runtime"
	"gohap/runtime/rules"
)

// command is one runtime API command: its keywords, its line in "help"
// (haproxy's usage and text), the level it needs, and what it does with
// the words after its keywords.
type command struct {
	words       []string
	usage, help string
	level       rules.Level
	run         func(x *session, args []string)
}

// commands are the commands gohap implements, in the order "help" lists
// them: haproxy's (sorted), then help, prompt and quit. init sets them:
// "help" lists them.
var commands []*command

func init() {
	commands = []*command{
		{words: []string{"disable", "health"}, usage: "disable health", help: "disable health checks", level: rules.LevelAdmin, run: cmdHealth(false)},
		{words: []string{"disable", "server"}, usage: "disable server (DEPRECATED)", help: "disable a server for maintenance (use 'set server' instead)", level: rules.LevelAdmin, run: cmdAdmin(runtime.AdminMaint)},
		{words: []string{"enable", "health"}, usage: "enable health", help: "enable health checks", level: rules.LevelAdmin, run: cmdHealth(true)},
		{words: []string{"enable", "server"}, usage: "enable server  (DEPRECATED)", help: "enable a disabled server (use 'set server' instead)", level: rules.LevelAdmin, run: cmdAdmin(runtime.AdminReady)},
		{words: []string{"get", "var"}, usage: "get var <name>", help: "retrieve contents of a process-wide variable", level: rules.LevelOperator, run: cmdGetVar},
		{words: []string{"get", "weight"}, usage: "get weight <bk>/<srv>", help: "report a server's current weight", level: rules.LevelUser, run: cmdGetWeight},
		{words: []string{"operator"}, usage: "operator", help: "lower the level of the current CLI session to operator", level: rules.LevelOperator, run: cmdLevel(rules.LevelOperator)},
		{words: []string{"set", "server"}, usage: "set server <bk>/<srv> [opts]", help: "change a server's state or weight", level: rules.LevelAdmin, run: cmdSetServer},
		{words: []string{"set", "weight"}, usage: "set weight <bk>/<srv>  (DEPRECATED)", help: "change a server's weight (use 'set server' instead)", level: rules.LevelAdmin, run: cmdSetWeight},
		{words: []string{"show", "cli", "level"}, usage: "show cli level", help: "display the level of the current CLI session", level: rules.LevelUser, run: cmdShowLevel},
		{words: []string{"show", "info"}, usage: "show info", help: "report information about the running process", level: rules.LevelUser, run: cmdShowInfo},
		{words: []string{"show", "stat"}, usage: "show stat", help: "report counters for each proxy and server", level: rules.LevelUser, run: cmdShowStat},
		{words: []string{"show", "version"}, usage: "show version", help: "show version of the current process", level: rules.LevelUser, run: cmdShowVersion},
		{words: []string{"user"}, usage: "user", help: "lower the level of the current CLI session to user", level: rules.LevelUser, run: cmdLevel(rules.LevelUser)},
		{words: []string{"help"}, usage: "help [<command>]", help: "list matching or all commands", level: rules.LevelUser, run: cmdHelp},
		{words: []string{"prompt"}, usage: "prompt", help: "toggle interactive mode with prompt", level: rules.LevelUser, run: cmdPrompt},
		{words: []string{"quit"}, usage: "quit", help: "disconnect", level: rules.LevelUser, run: cmdQuit},
	}
}

// lookup returns the command whose keywords start args, or nil.
func lookup(args []string) *command {
	for _, c := range commands {
		if len(args) >= len(c.words) && wordsMatch(c.words, args) {
			return c
		}
	}
	return nil
}

// wordsMatch reports how many leading words of args equal kw's, all of
// kw's being true.
func wordsMatch(kw, args []string) bool { return matched(kw, args) == len(kw) }

// matched returns how many leading words of args equal kw's.
func matched(kw, args []string) int {
	n := 0
	for n < len(kw) && n < len(args) && kw[n] == args[n] {
		n++
	}
	return n
}

func cmdHelp(x *session, args []string) { x.out.WriteString(usage(args, true)) }

func cmdPrompt(x *session, _ []string) { x.prompt = !x.prompt }

func cmdQuit(x *session, _ []string) { x.quit = true }

// cmdLevel lowers the session's level; raising it is refused by the
// command's own level.
func cmdLevel(l rules.Level) func(*session, []string) {
	return func(x *session, _ []string) { x.level = l }
}

func cmdShowLevel(x *session, _ []string) { x.out.WriteString(x.level.String() + "\n") }

func cmdShowVersion(x *session, _ []string) { x.out.WriteString(x.srv.cfg.Version + "\n") }

func cmdShowStat(x *session, args []string) {
	if len(args) > 0 {
		x.out.WriteString("gohap's 'show stat' takes no argument: it gives every proxy's CSV lines.\n")
		return
	}
	x.srv.cfg.Engine.WriteStats(&x.out)
}

// server finds the server a "<bk>/<srv>" argument names, or writes
// haproxy's error and returns nil.
func (x *session) server(args []string) *runtime.Server {
	var name string
	if len(args) > 0 {
		name = args[0]
	}
	be, srv, ok := strings.Cut(name, "/")
	if !ok {
		x.out.WriteString("Require 'backend/server'.\n")
		return nil
	}
	sv, err := x.srv.cfg.Engine.Server(be, srv)
	switch {
	case errors.Is(err, runtime.ErrNoBackend):
		x.out.WriteString("No such backend.\n")
	case err != nil:
		x.out.WriteString("No such server.\n")
	}
	return sv
}

// cmdAdmin is "disable server" and "enable server".
func cmdAdmin(st runtime.AdminState) func(*session, []string) {
	return func(x *session, args []string) {
		if sv := x.server(args); sv != nil {
			sv.SetAdmin(st)
		}
	}
}

// cmdHealth is "disable health" and "enable health".
func cmdHealth(on bool) func(*session, []string) {
	return func(x *session, args []string) {
		if sv := x.server(args); sv != nil {
			sv.SetChecks(on)
		}
	}
}

func cmdGetWeight(x *session, args []string) {
	if sv := x.server(args); sv != nil {
		cur, initial := sv.Weight()
		x.out.WriteString(strconv.Itoa(cur) + " (initial " + strconv.Itoa(initial) + ")\n")
	}
}

func cmdSetWeight(x *session, args []string) {
	if sv := x.server(args); sv != nil {
		x.setWeight(sv, args[1:])
	}
}

// setWeight applies "<weight>" or "<weight>%" (of the configured weight),
// with haproxy's messages.
func (x *session) setWeight(sv *runtime.Server, args []string) {
	if len(args) == 0 || args[0] == "" {
		x.out.WriteString("Require <weight> or <weight%>.\n")
		return
	}
	w, msg := parseWeight(args[0], sv)
	if msg != "" {
		x.out.WriteString(msg)
		// haproxy ends the two messages without a period with no empty line.
		x.noLF = !strings.HasSuffix(msg, ".\n")
		return
	}
	if err := sv.SetWeight(w); errors.Is(err, runtime.ErrStaticWeights) {
		x.out.WriteString("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n")
	}
}

// parseWeight reads a weight as haproxy's server_parse_weight_change_request
// and returns it, or haproxy's message.
func parseWeight(s string, sv *runtime.Server) (int, string) {
	digits := len(s) - len(strings.TrimLeft(strings.TrimPrefix(s, "-"), "0123456789"))
	if digits == 0 || s[:digits] == "-" {
		return 0, "Empty weight string empty or preceded by garbage\n"
	}
	w, err := strconv.Atoi(s[:digits])
	if err != nil {
		w = 1 << 30 // out of int range: as large as strtol's clamp
		if s[0] == '-' {
			w = -w
		}
	}
	rest := s[digits:]
	if rest == "%" {
		if w < 0 {
			return 0, "Relative weight must be positive.\n"
		}
		_, initial := sv.Weight()
		return min(initial*min(w, 25600)/100, 256), ""
	}
	if w < 0 || w > 256 {
		return 0, "Absolute weight can only be between 0 and 256 inclusive.\n"
	}
	if rest != "" {
		return 0, "Trailing garbage in weight string\n"
	}
	return w, ""
}

// setServerUsage is haproxy's answer to a "set server" it cannot read.
const setServerUsage = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"

// cmdSetServer is "set server <bk>/<srv> state|weight ...".
func cmdSetServer(x *session, args []string) {
	sv := x.server(args)
	if sv == nil {
		return
	}
	if len(args) < 2 {
		x.out.WriteString(setServerUsage)
		return
	}
	switch args[1] {
	case "state":
		states := map[string]runtime.AdminState{"ready": runtime.AdminReady, "drain": runtime.AdminDrain, "maint": runtime.AdminMaint}
		st, ok := states[arg(args, 2)]
		if !ok {
			x.out.WriteString("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
			return
		}
		sv.SetAdmin(st)
	case "weight":
		x.setWeight(sv, args[2:])
	case "addr", "agent", "agent-addr", "agent-port", "agent-send", "check-addr", "check-port", "fqdn", "health", "ssl":
		x.out.WriteString("gohap does not implement 'set server " + args[1] + "'.\n")
	default:
		x.out.WriteString(setServerUsage)
	}
}

// arg returns args[i], or "".
func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// cmdGetVar is "get var proc.NAME": the proc variables are gohap's
// shared-memory store, where an empty value counts as unset.
func cmdGetVar(x *session, args []string) {
	name := arg(args, 0)
	if name == "" {
		x.out.WriteString("Missing process-wide variable identifier.\n")
		return
	}
	short, isProc := strings.CutPrefix(name, "proc.")
	var v string
	var ok bool
	if isProc && x.srv.cfg.Vars != nil {
		v, ok = x.srv.cfg.Vars.Get(short)
	}
	if !ok || v == "" {
		x.out.WriteString("Variable not found.\n")
		return
	}
	x.out.WriteString(name + ": type=str value=<" + v + ">\n")
	x.noLF = true
}
