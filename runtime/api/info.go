package api

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// cmdShowInfo is "show info": haproxy's "Key: value" lines, for the
// fields gohap can fill honestly, in haproxy's order.
func cmdShowInfo(x *session, _ []string) {
	in := x.srv.cfg.Engine.Info()
	up := time.Since(in.Start)
	sec := int64(up / time.Second)
	node, _ := os.Hostname()
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	field := func(k, v string) { x.out.WriteString(k + ": " + v + "\n") }
	field("Name", x.srv.cfg.Name)
	field("Version", x.srv.cfg.Version)
	field("Nbthread", strconv.Itoa(in.Threads))
	field("Nbproc", "1")
	field("Process_num", "1")
	field("Pid", strconv.Itoa(os.Getpid()))
	field("Uptime", fmt.Sprintf("%dd %dh%02dm%02ds", sec/86400, sec/3600%24, sec/60%60, sec%60))
	field("Uptime_sec", strconv.FormatInt(sec, 10))
	field("Ulimit-n", strconv.FormatUint(lim.Cur, 10))
	if in.MaxConn > 0 {
		field("Maxconn", strconv.Itoa(in.MaxConn))
		field("Hard_maxconn", strconv.Itoa(in.MaxConn))
	}
	field("CurrConns", strconv.FormatInt(in.CurrConns, 10))
	field("CumConns", strconv.FormatInt(in.CumConns, 10))
	field("CumReq", strconv.FormatInt(in.CumReq, 10))
	field("node", node)
	field("Stopping", b2s(in.Stopping))
	field("Listeners", strconv.Itoa(in.Listeners+x.srv.Listeners()))
	field("Start_time_sec", strconv.FormatInt(in.Start.Unix(), 10))
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
