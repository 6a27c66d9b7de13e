package rules

import (
	"fmt"
	"strings"
)

var miscFetches = []Fetch{
	{Name: "nbsrv", MaxArgs: 1, Out: TypeInt, New: newNbsrv},
	{Name: "var", MinArgs: 1, MaxArgs: 2, Out: TypeStr, New: newVar},
	{Name: "src", Out: TypeIP, New: newConst(fetchSrc{})},
	{Name: "src_port", Out: TypeInt, New: newConst(fetchSrcPort{})},
	{Name: "dst", Out: TypeIP, New: newConst(fetchDst{})},
	{Name: "dst_port", Out: TypeInt, New: newConst(fetchDstPort{})},
	{Name: "always_true", Out: TypeBool, New: newConst(fetchBool(true))},
	{Name: "always_false", Out: TypeBool, New: newConst(fetchBool(false))},
}

// Predefined ACLs HAProxy provides without an "acl" line.
var builtinACLs = map[string]string{
	"TRUE":  "always_true",
	"FALSE": "always_false",
}

func init() { registerFetches(miscFetches) }

// BuiltinACL returns the fetch behind a predefined ACL name.
func BuiltinACL(name string) (string, bool) {
	f, ok := builtinACLs[name]
	return f, ok
}

// fetchNbsrv counts the usable servers of a backend: the named one, or the
// current one when no argument is given.
type fetchNbsrv struct{ be *Backend }

func newNbsrv(args []string, r Resolver) (Fetcher, error) {
	if len(args) == 0 {
		be := r.CurrentBackend()
		if be == nil {
			return nil, fmt.Errorf("fetch method 'nbsrv' needs a backend name outside a backend")
		}
		return fetchNbsrv{be}, nil
	}
	be, err := r.Backend(args[0])
	if err != nil {
		return nil, err
	}
	return fetchNbsrv{be}, nil
}

func (f fetchNbsrv) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(t.State.Usable(f.be))
	return true
}

// fetchVar reads a runtime variable from the shared store; the slot was
// resolved at compile time. An unset or empty variable yields no sample,
// as an unset HAProxy variable does.
type fetchVar struct{ slot int }

func newVar(args []string, r Resolver) (Fetcher, error) {
	scope, name, ok := strings.Cut(args[0], ".")
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid variable name '%s': expected 'proc.NAME'", args[0])
	}
	if scope != "proc" {
		return nil, fmt.Errorf("variable scope '%s' is not supported, only 'proc' (in '%s')", scope, args[0])
	}
	slot, err := r.Var(scope, name)
	if err != nil {
		return nil, err
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("default value of var() is not supported")
	}
	return fetchVar{slot}, nil
}

func (f fetchVar) Fetch(t *Txn, s *Sample) bool {
	t.scratch = t.Vars.Load(f.slot, t.scratch[:0])
	s.Type, s.Str = TypeStr, t.scratch
	return len(t.scratch) > 0
}

type fetchSrc struct{}

func (fetchSrc) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Addr = TypeIP, t.Src.Addr().Unmap()
	return s.Addr.IsValid()
}

type fetchSrcPort struct{}

func (fetchSrcPort) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(t.Src.Port())
	return t.Src.IsValid()
}

type fetchDst struct{}

func (fetchDst) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Addr = TypeIP, t.Dst.Addr().Unmap()
	return s.Addr.IsValid()
}

type fetchDstPort struct{}

func (fetchDstPort) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(t.Dst.Port())
	return t.Dst.IsValid()
}

type fetchBool bool

func (f fetchBool) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeBool, 0
	if f {
		s.Int = 1
	}
	return true
}
