package lua

import (
	"sort"

	glua "github.com/yuin/gopher-lua"

	"gohap/runtime/rules"
)

// This file is core.proxies, core.backends and core.frontends: the
// configuration's proxies and servers, read-only, with their live status.
// A script's body runs before the proxies are compiled, so there, as in
// haproxy, the tables are empty.

// view returns the live state of the servers: the request's, or the
// engine's in tasks; nil before the engine starts.
func (st *state) view() rules.StateView {
	if st.t != nil && st.t.State != nil {
		return st.t.State
	}
	return st.s.state
}

// fillProxies fills core.proxies, core.backends and core.frontends from
// the compiled configuration.
func (st *state) fillProxies() {
	g := st.s.graph
	if g == nil {
		return
	}
	L := st.L
	core, ok := L.GetGlobal("core").(*glua.LTable)
	if !ok {
		return
	}
	proxies, ok1 := L.GetField(core, "proxies").(*glua.LTable)
	backends, ok2 := L.GetField(core, "backends").(*glua.LTable)
	frontends, ok3 := L.GetField(core, "frontends").(*glua.LTable)
	if !ok1 || !ok2 || !ok3 {
		return // a script replaced them
	}
	uuid := proxyIDs(g)
	listen := map[string]*rules.Backend{}
	for _, be := range g.Backends {
		listen[be.Name] = be
	}
	byName := map[string]*glua.LTable{}
	for _, fe := range g.Frontends {
		capability, be := "frontend", listen[fe.Name]
		if be != nil {
			capability = "proxy" // a listen section: both halves
		}
		p := st.newProxy(fe.Name, capability, fe.Mode, uuid[fe.Name], be)
		byName[fe.Name] = p
		L.SetField(frontends, fe.Name, p)
		L.SetField(proxies, fe.Name, p)
	}
	for _, be := range g.Backends {
		p, ok := byName[be.Name]
		if !ok {
			p = st.newProxy(be.Name, "backend", be.Mode, uuid[be.Name], be)
			L.SetField(proxies, be.Name, p)
		}
		L.SetField(backends, be.Name, p)
	}
}

// proxyIDs numbers the proxies as haproxy does when none has an "id":
// from 1, in the order of the configuration.
func proxyIDs(g *rules.Graph) map[string]int {
	pos := map[string]string{}
	for _, fe := range g.Frontends {
		pos[fe.Name] = fe.Pos
	}
	for _, be := range g.Backends {
		if _, listen := pos[be.Name]; !listen {
			pos[be.Name] = be.Pos
		}
	}
	names := make([]string, 0, len(pos))
	for n := range pos {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return rules.PosLess(pos[names[i]], pos[names[j]]) })
	ids := make(map[string]int, len(names))
	for i, n := range names {
		ids[n] = i + 1
	}
	return ids
}

// newProxy builds a Proxy object; be is its backend half, if any.
func (st *state) newProxy(name, capability string, mode rules.Mode, uuid int, be *rules.Backend) *glua.LTable {
	L := st.L
	p := L.NewTable()
	L.SetField(p, "name", glua.LString(name))
	L.SetField(p, "uuid", glua.LNumber(uuid))
	L.SetField(p, "listeners", L.NewTable())
	servers := L.NewTable()
	if be != nil {
		servers = st.newServers(be)
	}
	L.SetField(p, "servers", servers)
	L.SetFuncs(p, map[string]glua.LGFunction{
		"get_cap": func(L *glua.LState) int {
			L.Push(glua.LString(capability))
			return 1
		},
		"get_mode": func(L *glua.LState) int {
			L.Push(glua.LString(mode.String()))
			return 1
		},
		"get_stats": func(L *glua.LState) int {
			stats := L.NewTable()
			L.SetField(stats, "pxname", glua.LString(name))
			status := "OPEN"
			if be != nil {
				status = st.backendStatus(be)
			}
			L.SetField(stats, "status", glua.LString(status))
			L.Push(stats)
			return 1
		},
	})
	for _, m := range []string{"pause", "resume", "stop", "shut_bcksess"} {
		L.SetField(p, m, L.NewFunction(notSupported("Proxy."+m)))
	}
	return p
}

// backendStatus is "UP" while a server of be can take traffic.
func (st *state) backendStatus(be *rules.Backend) string {
	if v := st.view(); v != nil && v.Usable(be) == 0 {
		return "DOWN"
	}
	return "UP"
}

// newServers builds the servers table of a backend: Server objects by
// name.
func (st *state) newServers(be *rules.Backend) *glua.LTable {
	L := st.L
	out := L.NewTable()
	for _, srv := range be.Servers {
		srv := srv
		s := L.NewTable()
		L.SetField(s, "name", glua.LString(srv.Name))
		L.SetField(s, "puid", glua.LNumber(srv.Index+1))
		L.SetFuncs(s, map[string]glua.LGFunction{
			"get_addr": func(L *glua.LState) int {
				L.Push(glua.LString(srv.Addr))
				return 1
			},
			"get_weight": func(L *glua.LState) int {
				L.Push(glua.LNumber(srv.Weight))
				return 1
			},
			"get_maxconn": func(L *glua.LState) int {
				L.Push(glua.LNumber(srv.MaxConn))
				return 1
			},
			"is_draining": func(L *glua.LState) int {
				L.Push(glua.LBool(st.serverStatus(srv) == "NOLB"))
				return 1
			},
			"get_stats": func(L *glua.LState) int {
				stats := L.NewTable()
				L.SetField(stats, "pxname", glua.LString(be.Name))
				L.SetField(stats, "svname", glua.LString(srv.Name))
				L.SetField(stats, "status", glua.LString(st.serverStatus(srv)))
				L.SetField(stats, "weight", glua.LNumber(srv.Weight))
				L.SetField(stats, "addr", glua.LString(srv.Addr))
				L.Push(stats)
				return 1
			},
		})
		for _, m := range []string{"set_maxconn", "set_weight", "set_addr", "shut_sess", "set_drain",
			"set_maint", "set_ready", "check_enable", "check_disable", "check_force_up", "check_force_nolb",
			"check_force_down", "agent_enable", "agent_disable", "agent_force_up", "agent_force_down"} {
			L.SetField(s, m, L.NewFunction(notSupported("Server."+m)))
		}
		L.SetField(out, srv.Name, s)
	}
	return out
}

// serverStatus is the live status of srv, "UP" before the engine runs.
func (st *state) serverStatus(srv *rules.Server) string {
	if v := st.view(); v != nil {
		return v.ServerStatus(srv)
	}
	return "UP"
}
