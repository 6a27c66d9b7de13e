// Command gohap is a reverse proxy that runs HAProxy configuration files,
// with runtime variables held in shared memory and set from the shell.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"gohap/parser"
	"gohap/runtime"
	"gohap/runtime/api"
	"gohap/shm"
)

// version is gohap's own version; compatVersion is the HAProxy version
// whose configuration language and behaviour gohap follows.
const (
	version       = "0.1.0"
	compatVersion = "2.6"
)

// features are what feature() in .if blocks reports as present: only
// what gohap really has. OPENSSL stands for TLS, which gohap terminates
// and originates with Go's crypto/tls, because configurations test it
// before their "ssl" lines.
var features = []string{"EPOLL", "THREAD", "OPENSSL"}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// exitError carries an exit status through urfave/cli.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run is main without the process: it returns the exit status, so tests
// can drive the command line.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if err := app.Run(args); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(stderr, ee.msg)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "gohap: %v\n", err)
		return 1
	}
	return 0
}

func newApp(stdout, stderr io.Writer) *cli.App {
	debugFlags := []cli.Flag{}
	for _, n := range []string{"db", "dM", "dr", "dV", "dW", "dD", "dp", "de", "dS", "dG", "dZ", "dL", "dK", "dt"} {
		debugFlags = append(debugFlags, &cli.BoolFlag{Name: n, Hidden: true})
	}
	return &cli.App{
		Name:        "gohap",
		Usage:       "run HAProxy configuration files; set runtime variables from the shell",
		UsageText:   "gohap -f FILE [-f FILE...] [-c] [-d] [-p PIDFILE]\n   gohap -S NAME=VALUE [-S ...]   set runtime variables\n   gohap -S NAME                  print one variable\n   gohap vars                     print all variables",
		HideVersion: true,
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "f", Usage: "configuration `FILE` or directory of *.cfg files (repeatable)"},
			&cli.BoolFlag{Name: "c", Usage: "check the configuration and exit"},
			&cli.StringFlag{Name: "cc", Usage: "evaluate a conditional `EXPR` as in .if: exit 0 if true, 1 if false, 2 on error"},
			&cli.BoolFlag{Name: "d", Usage: "debug: stay in the foreground and log to stderr (gohap always does)"},
			&cli.StringFlag{Name: "p", Usage: "write the process id to `PIDFILE`"},
			&cli.BoolFlag{Name: "v", Usage: "print the version"},
			&cli.BoolFlag{Name: "vv", Usage: "print the version, build options and features"},
			&cli.BoolFlag{Name: "q", Usage: "quiet: print no warning"},
			&cli.StringFlag{Name: "L", Usage: "local peer `NAME` (accepted for compatibility)"},
			&cli.StringSliceFlag{Name: "S", Usage: "set runtime variable `NAME=VALUE` (repeatable), or print NAME, and exit"},
			&cli.StringFlag{Name: "vars", Value: shm.DefaultPath, EnvVars: []string{"GOHAP_VARS"}, Usage: "variable store `PATH`"},
			// --worker SLOT/N/L: this process is a follower, started by
			// the leader (workers.go parseWorker).
			&cli.StringFlag{Name: "worker", Hidden: true},
		}, debugFlags...),
		Commands: []*cli.Command{{
			Name:  "vars",
			Usage: "print every runtime variable as NAME=VALUE",
			Action: func(ctx *cli.Context) error {
				return listVars(ctx.String("vars"), stdout)
			},
		}},
		Action: func(ctx *cli.Context) error { return mainAction(ctx, stdout, stderr) },
	}
}

func mainAction(ctx *cli.Context, stdout, stderr io.Writer) error {
	if ctx.NArg() > 0 {
		return &exitError{1, fmt.Sprintf("gohap: unexpected argument '%s' (see gohap -h)", ctx.Args().First())}
	}
	switch {
	case ctx.Bool("vv"):
		fmt.Fprintf(stdout, "gohap version %s (HAProxy-compatible %s)\nFeature list : %s\n", version, compatVersion, "+"+strings.Join(features, " +"))
		return nil
	case ctx.Bool("v"):
		fmt.Fprintf(stdout, "gohap version %s (HAProxy-compatible %s)\n", version, compatVersion)
		return nil
	case ctx.IsSet("cc"):
		v, err := parser.EvalCond(ctx.String("cc"), parseOptions())
		if err != nil {
			return &exitError{2, "gohap: " + err.Error()}
		}
		if !v {
			return &exitError{1, ""}
		}
		return nil
	case len(ctx.StringSlice("S")) > 0:
		return setVars(ctx, stdout)
	}
	files := ctx.StringSlice("f")
	if len(files) == 0 {
		return &exitError{1, "gohap: no configuration file given (use -f FILE)"}
	}
	if ctx.Bool("c") {
		res, err := parser.Load(files, parser.Config{Options: parseOptions(), Log: scriptLog(stderr, ctx.Bool("q"))})
		if err != nil {
			printConfigError(stderr, err)
			return &exitError{1, ""}
		}
		printNotes(stderr, res, ctx.Bool("q"))
		fmt.Fprintln(stdout, "Configuration file is valid")
		return nil
	}
	if ctx.IsSet("worker") {
		return serveFollower(ctx, stderr)
	}
	return serve(ctx, files, stderr)
}

// scriptLog is where what Lua scripts log while they load goes: stderr,
// unless quiet.
func scriptLog(stderr io.Writer, quiet bool) *log.Logger {
	return quietLog(log.New(stderr, "", 0), quiet)
}

// quietLog is l, or nil when quiet.
func quietLog(l *log.Logger, quiet bool) *log.Logger {
	if quiet {
		return nil
	}
	return l
}

// parseOptions are the environment and features .if blocks see.
func parseOptions() parser.Options {
	return parser.Options{Env: os.LookupEnv, Features: features, Version: compatVersion}
}

// printConfigError prints each configuration error on its own line.
func printConfigError(w io.Writer, err error) {
	var list parser.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintf(w, "[ALERT] %s\n", e)
		}
		fmt.Fprintf(w, "[ALERT] %d error(s) found in configuration\n", len(list))
		return
	}
	fmt.Fprintf(w, "[ALERT] %v\n", err)
}

func printNotes(w io.Writer, res *parser.Result, quiet bool) {
	for _, d := range res.Diags {
		fmt.Fprintf(w, "[%s] %s:%d: %s\n", d.Level, d.Pos.Filename, d.Pos.Line, d.Msg)
	}
	if quiet {
		return
	}
	for _, wn := range res.Warnings {
		fmt.Fprintf(w, "[WARNING] %s\n", wn)
	}
}

// serve runs the proxy until SIGINT or SIGTERM, or SIGUSR1 once the
// connections it serves ended; SIGUSR2 reloads it and SIGHUP logs the
// servers' states, as haproxy does.
func serve(ctx *cli.Context, files []string, stderr io.Writer) error {
	store, err := shm.Open(ctx.String("vars"))
	if err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	defer store.Close()
	logger := log.New(stderr, "", log.LstdFlags)
	res, conf, err := loadConfig(files, parser.Config{Options: parseOptions(), Var: store.Resolve, Log: quietLog(logger, ctx.Bool("q"))})
	if err != nil {
		printConfigError(stderr, err)
		return &exitError{1, ""}
	}
	printNotes(stderr, res, ctx.Bool("q"))
	cfg := runtime.Config{Graph: res.Graph, Vars: store, Log: logger}
	var lead *leader
	n, why := workerCount(res.Graph)
	if n > 1 {
		if lead, err = newLeader(n, logger); err != nil {
			return &exitError{1, "gohap: " + err.Error()}
		}
		defer lead.close()
		cfg.Workers = lead.workers()
		goruntime.GOMAXPROCS(1)
	} else {
		if why != "" && !ctx.Bool("q") {
			logger.Printf("running in one process: %s", why)
		}
		setThreads(res.Graph.Global.NbThread)
	}
	eng, err := runtime.New(cfg)
	if err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	// Signals are caught before the listeners open: a SIGUSR2 sent as soon
	// as gohap accepts must reload it, not kill it.
	// Room for a few: a reload holds the loop while its followers start,
	// and a SIGTERM sent meanwhile must not be dropped.
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	defer signal.Stop(sig)
	if err := eng.Start(); err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	cliSrv := api.New(api.Config{Engine: eng, Vars: store, Name: "gohap", Version: version, Log: logger})
	if err := cliSrv.Apply(res.Graph.Global); err != nil {
		eng.Close()
		return &exitError{1, "gohap: " + err.Error()}
	}
	defer cliSrv.Close()
	pidfile := ctx.String("p")
	if pidfile == "" {
		pidfile = res.Graph.Global.PIDFile
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			eng.Close()
			return &exitError{1, "gohap: cannot write pid file: " + err.Error()}
		}
		defer os.Remove(pidfile)
	}
	procs := ""
	if lead != nil {
		if err := lead.startAll(eng, conf); err != nil {
			lead.stopAll(stopWait)
			eng.Close()
			return &exitError{1, "gohap: " + err.Error()}
		}
		procs = fmt.Sprintf(", %d processes", n)
	}
	logger.Printf("gohap %s started, %d frontend(s)%s, variables in %s", version, len(res.Graph.Frontends), procs, store.Path())
	for {
		var s os.Signal
		select {
		case s = <-sig:
		case x := <-lead.exits():
			lead.exit(x)
			continue
		}
		switch s {
		case syscall.SIGUSR2:
			reload(eng, cliSrv, lead, files, store, stderr, logger, ctx.Bool("q"))
			continue
		case syscall.SIGHUP:
			eng.DumpState()
			continue
		case syscall.SIGUSR1:
			logger.Printf("received %s, stopping softly", s)
			lead.retireAll(syscall.SIGUSR1)
			if softStop(eng, sig, logger) {
				lead.waitAll(nil, sig)
			} else {
				lead.stopAll(stopWait)
			}
			return eng.Close()
		}
		logger.Printf("received %s, stopping", s)
		lead.stopAll(stopWait)
		return eng.Close()
	}
}

// stopWait bounds how long a stopping leader waits for its followers.
const stopWait = 5 * time.Second

// setThreads applies global nbthread: the number of threads that run Go
// code at once. Without it, Go's default (one per CPU) stays, as
// haproxy's nbthread defaults to the CPUs it may run on.
func setThreads(n int) {
	if n > 0 {
		goruntime.GOMAXPROCS(n)
	}
}

// softStop waits for eng's soft stop to end, or for SIGINT or SIGTERM
// to cut it short; it reports whether the soft stop ended.
func softStop(eng *runtime.Engine, sig <-chan os.Signal, logger *log.Logger) bool {
	done := make(chan struct{})
	go func() {
		eng.SoftStop()
		close(done)
	}()
	for {
		select {
		case <-done:
			return true
		case s := <-sig:
			if s == syscall.SIGINT || s == syscall.SIGTERM {
				logger.Printf("received %s, stopping", s)
				return false
			}
		}
	}
}

// reload reads the configuration files again and, if they check, makes
// them the running configuration; SIGUSR2 asks for it, as it asks
// haproxy's master. A configuration with errors changes nothing.
func reload(eng *runtime.Engine, cliSrv *api.Server, lead *leader, files []string, store *shm.Store, stderr io.Writer, logger *log.Logger, quiet bool) {
	res, conf, err := loadConfig(files, parser.Config{Options: parseOptions(), Var: store.Resolve, Log: quietLog(logger, quiet)})
	if err != nil {
		printConfigError(stderr, err)
		logger.Printf("reload failed: the configuration has errors; still running the previous one")
		return
	}
	printNotes(stderr, res, quiet)
	if err := lead.accepts(res.Graph); err != nil {
		logger.Printf("reload failed: %v; still running the previous configuration", err)
		return
	}
	if err := eng.Reload(res.Graph); err != nil {
		logger.Printf("reload failed: %v; still running the previous configuration", err)
		return
	}
	if lead != nil {
		if err := lead.startAll(eng, conf); err != nil {
			logger.Printf("reload: %v", err)
		}
	} else {
		setThreads(res.Graph.Global.NbThread)
	}
	if err := cliSrv.Apply(res.Graph.Global); err != nil {
		logger.Printf("reload: %v; the runtime API keeps its previous sockets", err)
	}
	logger.Printf("reloaded, %d frontend(s)", len(res.Graph.Frontends))
}

// setVars handles "-S NAME=VALUE" (set) and "-S NAME" (print). Every
// argument is checked before anything is written, so a bad one changes
// nothing.
func setVars(ctx *cli.Context, stdout io.Writer) error {
	type op struct {
		name, value string
		set         bool
	}
	var ops []op
	for _, a := range ctx.StringSlice("S") {
		name, value, set := strings.Cut(a, "=")
		if err := shm.ValidName(name); err != nil {
			return &exitError{1, fmt.Sprintf("gohap: -S %s: %v", a, err)}
		}
		if set {
			if err := shm.ValidValue(value); err != nil {
				return &exitError{1, fmt.Sprintf("gohap: -S %s: %v", a, err)}
			}
		}
		ops = append(ops, op{name, value, set})
	}
	store, err := shm.Open(ctx.String("vars"))
	if err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	defer store.Close()
	// A name the store does not know is most likely a typo: refuse it,
	// unless a configuration given with -f declares it.
	declared := map[string]bool{}
	if files := ctx.StringSlice("f"); len(files) > 0 {
		res, err := parser.Load(files, parser.Config{Options: parseOptions(), Var: store.Resolve})
		if err != nil {
			return &exitError{1, "gohap: " + err.Error()}
		}
		for _, v := range res.Graph.Vars {
			declared[v.Name] = true
		}
	}
	for _, o := range ops {
		if _, ok := store.Lookup(o.name); !ok && !declared[o.name] {
			return &exitError{1, fmt.Sprintf("gohap: -S %s: no variable named '%s' in %s (%s); give the configuration with -f to declare it", o.name, o.name, store.Path(), knownVars(store))}
		}
	}
	for _, o := range ops {
		if !o.set {
			v, _ := store.Get(o.name)
			fmt.Fprintf(stdout, "%s=%s\n", o.name, v)
			continue
		}
		if err := store.Set(o.name, o.value); err != nil {
			return &exitError{1, fmt.Sprintf("gohap: -S %s=%s: %v", o.name, o.value, err)}
		}
	}
	return nil
}

func knownVars(s *shm.Store) string {
	vars := s.Vars()
	if len(vars) == 0 {
		return "it holds none yet"
	}
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	return "known: " + strings.Join(names, ", ")
}

func listVars(path string, w io.Writer) error {
	store, err := shm.Open(path)
	if err != nil {
		return &exitError{1, "gohap: " + err.Error()}
	}
	defer store.Close()
	for _, v := range store.Vars() {
		fmt.Fprintf(w, "%s=%s\n", v.Name, v.Value)
	}
	return nil
}
