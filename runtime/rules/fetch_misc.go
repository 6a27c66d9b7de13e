package rules

import "fmt"

var miscFetches = []Fetch{
	{Name: "nbsrv", MaxArgs: 1, Out: TypeInt, New: newNbsrv},
	{Name: "src", Out: TypeIP, New: newConst(fetchSrc{})},
	{Name: "src_port", Out: TypeInt, New: newConst(fetchSrcPort{})},
	{Name: "dst", Out: TypeIP, New: newConst(fetchDst{})},
	{Name: "dst_port", Out: TypeInt, New: newConst(fetchDstPort{})},
	{Name: "always_true", Out: TypeBool, New: newConst(fetchBool(true))},
	{Name: "always_false", Out: TypeBool, New: newConst(fetchBool(false))},
	{Name: "str", MaxArgs: 1, Out: TypeStr, New: newStr},
	{Name: "int", MinArgs: 1, MaxArgs: 1, Out: TypeInt, New: newInt},
	{Name: "bool", MinArgs: 1, MaxArgs: 1, Out: TypeBool, New: newBool},
	{Name: "env", MinArgs: 1, MaxArgs: 1, Out: TypeStr, New: newEnv},
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

// fetchConst is a constant sample: str(TEXT), int(N), bool(B).
type fetchConst Sample

func (f *fetchConst) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int, s.Str = f.Type, f.Int, f.Str
	return true
}

func newStr(args []string, _ Resolver) (Fetcher, error) {
	f := &fetchConst{Type: TypeStr, Str: []byte{}}
	if len(args) > 0 {
		f.Str = []byte(args[0])
	}
	return f, nil
}

// newEnv builds env(NAME). The environment is fixed once the
// configuration is read, so the value is looked up once, here; an unset
// variable yields no sample.
func newEnv(args []string, r Resolver) (Fetcher, error) {
	v, ok := r.Env(args[0])
	if !ok {
		return fetchNone{}, nil
	}
	return &fetchConst{Type: TypeStr, Str: []byte(v)}, nil
}

// fetchNone never finds a sample.
type fetchNone struct{}

func (fetchNone) Fetch(*Txn, *Sample) bool { return false }

func newInt(args []string, _ Resolver) (Fetcher, error) {
	n, err := argInt("int", args[0])
	if err != nil {
		return nil, err
	}
	return &fetchConst{Type: TypeInt, Int: n}, nil
}

func newBool(args []string, _ Resolver) (Fetcher, error) {
	switch args[0] {
	case "true", "1":
		return fetchBool(true), nil
	case "false", "0":
		return fetchBool(false), nil
	}
	return nil, fmt.Errorf("fetch method 'bool' expects 'true', 'false', '0' or '1', got '%s'", args[0])
}

type fetchBool bool

func (f fetchBool) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeBool, 0
	if f {
		s.Int = 1
	}
	return true
}
