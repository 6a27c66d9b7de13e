package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Resolver gives the compile step's view of names to fetch constructors.
type Resolver interface {
	// Backend returns the backend named name.
	Backend(name string) (*Backend, error)
	// Var resolves variable name of scope: a store slot for proc, a
	// place in the Txn for the others.
	Var(scope Scope, name string) (VarRef, error)
	// Userlist returns the userlist section named name.
	Userlist(name string) (*Userlist, error)
	// Table returns the stick table of the proxy named name, or of the
	// proxy being compiled when name is empty.
	Table(name string) (*StickTable, error)
	// CurrentBackend is the proxy being compiled, when it has a backend
	// half; nil in a pure frontend.
	CurrentBackend() *Backend
	// Env looks up an environment variable for env(NAME), as the
	// configuration left the environment (setenv and the like); it
	// reports whether the variable is set.
	Env(name string) (string, bool)
}

// Fetch describes a sample fetch keyword.
type Fetch struct {
	Name    string
	MinArgs int
	MaxArgs int
	Out     Type
	// Match is the match method ACLs use by default when HasMatch is
	// set; otherwise it follows Out.
	Match    MatchKind
	HasMatch bool
	// NeedsMatch: the output type is known only at run time (var), so an
	// ACL must name its match method with -m.
	NeedsMatch bool
	// LastInSample: the fetch yields several values (header fetches) and,
	// outside ACLs (set-var, log-format), haproxy takes the last one.
	LastInSample bool
	// New builds the fetch from its arguments, already unquoted.
	New func(args []string, r Resolver) (Fetcher, error)
}

// ACLAlias is an ACL keyword that is a fetch with a fixed match method,
// such as path_beg for path -m beg.
type ACLAlias struct {
	Name  string
	Fetch string
	Match MatchKind
}

var (
	fetches    = map[string]*Fetch{}
	aclAliases = map[string]*ACLAlias{}
)

func registerFetches(list []Fetch) {
	register(fetches, list, func(f *Fetch) string { return f.Name }, "fetch")
}

func registerACLAliases(list []ACLAlias) {
	register(aclAliases, list, func(a *ACLAlias) string { return a.Name }, "acl keyword")
}

// register adds the keywords of a table to m by name (what name returns);
// a name given twice is a mistake in the tables, caught at start.
func register[T any](m map[string]*T, list []T, name func(*T) string, kind string) {
	for i := range list {
		k := &list[i]
		n := name(k)
		if _, dup := m[n]; dup {
			panic("rules: duplicate " + kind + " " + n)
		}
		m[n] = k
	}
}

// LookupFetch returns the fetch keyword named name.
func LookupFetch(name string) (*Fetch, bool) {
	f, ok := fetches[name]
	return f, ok
}

// LookupACLAlias returns the ACL keyword named name, if it is an alias.
func LookupACLAlias(name string) (*ACLAlias, bool) {
	a, ok := aclAliases[name]
	return a, ok
}

// FetchNames lists the fetch and ACL keywords, for "did you mean".
func FetchNames() []string {
	out := make([]string, 0, len(fetches)+len(aclAliases))
	for n := range fetches {
		out = append(out, n)
	}
	for n := range aclAliases {
		out = append(out, n)
	}
	return out
}

// NewFetch checks the arguments of fetch f and builds it.
func NewFetch(f *Fetch, args []string, r Resolver) (Fetcher, error) {
	if len(args) < f.MinArgs {
		return nil, fmt.Errorf("fetch method '%s' expects at least %d argument(s), got %d", f.Name, f.MinArgs, len(args))
	}
	if len(args) > f.MaxArgs {
		return nil, fmt.Errorf("fetch method '%s' expects at most %d argument(s), got %d", f.Name, f.MaxArgs, len(args))
	}
	return f.New(args, r)
}

// NewSampleFetch is NewFetch for a sample context (set-var, log-format,
// use_backend names), where a fetch with LastInSample gives its last
// value.
func NewSampleFetch(f *Fetch, args []string, r Resolver) (Fetcher, error) {
	fr, err := NewFetch(f, args, r)
	if err != nil || !f.LastInSample {
		return fr, err
	}
	return lastValue{fr}, nil
}

// lastValue gives the last value of a multi-valued fetch.
type lastValue struct{ f Fetcher }

func (l lastValue) Fetch(t *Txn, s *Sample) bool {
	if !l.f.Fetch(t, s) {
		return false
	}
	for s.More {
		last := *s
		if !l.f.Fetch(t, s) {
			*s = last
			break
		}
	}
	s.More = false
	return true
}

func argInt(name, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("fetch method '%s': invalid integer argument '%s'", name, s)
	}
	return n, nil
}
