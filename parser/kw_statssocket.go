package parser

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"

	"gohap/runtime/rules"
)

// statsSocket reads "stats socket ADDR [options]": where the runtime API
// listens, the socket file's owner and mode, and the access level.
func (c *compiler) statsSocket(g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'stats socket' in global section expects an address or a path to a UNIX socket")
		return
	}
	network, addr := addrFamily(args[0])
	if network != "unix" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			c.errorf(g.Args[1].Pos, "'stats socket' expects a path or ADDR:PORT, got '%s'", args[0])
			return
		}
	}
	s := rules.StatsSocket{Pos: posString(g.Pos), Network: network, Addr: addr, UID: -1, GID: -1, Level: rules.LevelOperator}
	for i := 1; i < len(args); i++ {
		opt, pos := args[i], g.Args[i+1].Pos
		takesValue, known := bindTuning[opt]
		if opt == "expose-fd" {
			takesValue, known = true, true
		}
		switch {
		case !known:
			c.errorf(pos, "'stats socket' : unknown keyword '%s'", opt)
			return
		case !takesValue:
			c.warnf(pos, "'stats socket' option '%s' only tunes the socket; gohap ignores it", opt)
			continue
		case i+1 >= len(args):
			c.errorf(pos, "'stats socket' : '%s' expects an argument", opt)
			return
		}
		i++
		applied, err := socketOption(&s, opt, args[i])
		if err != nil {
			c.errorf(g.Args[i+1].Pos, "'stats socket' : %v", err)
			return
		}
		if !applied {
			c.warnf(pos, "'stats socket' option '%s' only tunes the socket; gohap ignores it", opt)
		}
	}
	c.g.Global.StatsSockets = append(c.g.Global.StatsSockets, s)
}

// socketOption applies one "stats socket" option that takes a value, and
// reports whether gohap applies that option at all.
func socketOption(s *rules.StatsSocket, name, v string) (bool, error) {
	var err error
	switch name {
	case "level":
		l, ok := rules.ParseLevel(v)
		if !ok {
			return true, fmt.Errorf("'level' only supports 'user', 'operator', and 'admin' (got '%s')", v)
		}
		s.Level = l
	case "mode":
		m, perr := strconv.ParseUint(v, 8, 32)
		if perr != nil || m > 0o7777 {
			return true, fmt.Errorf("'mode' : missing or invalid mode '%s' (octal integer expected)", v)
		}
		s.Mode = os.FileMode(m)
	case "uid", "gid":
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return true, fmt.Errorf("'%s' : invalid id '%s'", name, v)
		}
		if name == "uid" {
			s.UID = n
		} else {
			s.GID = n
		}
	case "user":
		var u *user.User
		if u, err = user.Lookup(v); err != nil {
			return true, fmt.Errorf("'user' : unknown user name '%s'", v)
		}
		s.UID, _ = strconv.Atoi(u.Uid)
	case "group":
		var gr *user.Group
		if gr, err = user.LookupGroup(v); err != nil {
			return true, fmt.Errorf("'group' : unknown group name '%s'", v)
		}
		s.GID, _ = strconv.Atoi(gr.Gid)
	default:
		return false, nil
	}
	return true, nil
}
