package rules

import (
	"bytes"
	"strings"
)

var httpFetches = []Fetch{
	{Name: "path", Out: TypeStr, New: newConst(fetchPath{})},
	{Name: "url", Out: TypeStr, New: newConst(fetchURL{})},
	{Name: "query", Out: TypeStr, New: newConst(fetchQuery{})},
	{Name: "method", Out: TypeStr, Match: MatchMeth, HasMatch: true, New: newConst(fetchMethod{})},
	{Name: "req.ver", Out: TypeStr, New: newConst(fetchVer{})},
	{Name: "hdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newHdr(true)},
	{Name: "req.hdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newHdr(true)},
	{Name: "req.fhdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newHdr(false)},
	{Name: "hdr_cnt", MaxArgs: 1, Out: TypeInt, New: newHdrCnt(false)},
	{Name: "req.hdr_cnt", MaxArgs: 1, Out: TypeInt, New: newHdrCnt(false)},
	{Name: "status", Out: TypeInt, New: newConst(fetchStatus{})},
	{Name: "res.hdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newResHdr(true)},
	{Name: "shdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newResHdr(true)},
	{Name: "res.fhdr", MaxArgs: 2, Out: TypeStr, LastInSample: true, New: newResHdr(false)},
	{Name: "res.hdr_cnt", MaxArgs: 1, Out: TypeInt, New: newHdrCnt(true)},
	{Name: "shdr_cnt", MaxArgs: 1, Out: TypeInt, New: newHdrCnt(true)},
}

var httpACLs = []ACLAlias{
	{"path_beg", "path", MatchBeg}, {"path_end", "path", MatchEnd}, {"path_sub", "path", MatchSub},
	{"path_dir", "path", MatchDir}, {"path_dom", "path", MatchDom}, {"path_reg", "path", MatchReg},
	{"path_len", "path", MatchLen},
	{"url_beg", "url", MatchBeg}, {"url_end", "url", MatchEnd}, {"url_sub", "url", MatchSub},
	{"url_dir", "url", MatchDir}, {"url_dom", "url", MatchDom}, {"url_reg", "url", MatchReg},
	{"url_len", "url", MatchLen},
	{"hdr_beg", "hdr", MatchBeg}, {"hdr_end", "hdr", MatchEnd}, {"hdr_sub", "hdr", MatchSub},
	{"hdr_dir", "hdr", MatchDir}, {"hdr_dom", "hdr", MatchDom}, {"hdr_reg", "hdr", MatchReg},
	{"hdr_len", "hdr", MatchLen},
}

func init() {
	registerFetches(httpFetches)
	registerACLAliases(httpACLs)
}

// newConst builds a fetch that takes no argument.
func newConst(f Fetcher) func([]string, Resolver) (Fetcher, error) {
	return func([]string, Resolver) (Fetcher, error) { return f, nil }
}

type fetchPath struct{}

func (fetchPath) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Str = TypeStr, t.Req.Path()
	return !t.InResponse && t.Req.URI != nil
}

type fetchURL struct{}

func (fetchURL) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Str = TypeStr, t.Req.URI
	return !t.InResponse && t.Req.URI != nil
}

type fetchQuery struct{}

func (fetchQuery) Fetch(t *Txn, s *Sample) bool {
	i := bytes.IndexByte(t.Req.URI, '?')
	if i < 0 || t.InResponse {
		return false
	}
	s.Type, s.Str = TypeStr, t.Req.URI[i+1:]
	return true
}

type fetchMethod struct{}

func (fetchMethod) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Str = TypeStr, t.Req.Method
	return !t.InResponse && t.Req.Method != nil
}

type fetchVer struct{}

func (fetchVer) Fetch(t *Txn, s *Sample) bool {
	v, ok := bytes.CutPrefix(t.Req.Version, []byte("HTTP/"))
	s.Type, s.Str = TypeStr, v
	return ok && !t.InResponse
}

// fetchHdr yields header values. In an ACL every value is tried; with
// split set, values are also split at commas (req.hdr), and occ selects
// one occurrence: positive from the first, negative from the last.
type fetchHdr struct {
	name  []byte
	occ   int
	split bool
	resp  bool // the response's headers (res.hdr), not the request's
}

// headers returns the headers the fetch reads, or nil when they are not
// available at this stage.
func (f *fetchHdr) headers(t *Txn) []Header {
	if f.resp != t.InResponse {
		return nil
	}
	if f.resp {
		return t.Resp.Headers
	}
	return t.Req.Headers
}

func newHdr(split bool) func([]string, Resolver) (Fetcher, error) {
	return newHdrFetch(split, false)
}

func newResHdr(split bool) func([]string, Resolver) (Fetcher, error) {
	return newHdrFetch(split, true)
}

func newHdrFetch(split, resp bool) func([]string, Resolver) (Fetcher, error) {
	return func(args []string, _ Resolver) (Fetcher, error) {
		f := &fetchHdr{split: split, resp: resp}
		if len(args) > 0 {
			f.name = []byte(strings.ToLower(args[0]))
		}
		if len(args) > 1 {
			n, err := argInt("hdr", args[1])
			if err != nil {
				return nil, err
			}
			f.occ = int(n)
		}
		return f, nil
	}
}

// next returns the header value at position (s.ctx, s.off) and moves past it.
func (f *fetchHdr) next(hdrs []Header, hi, off *int) ([]byte, bool) {
	for *hi < len(hdrs) {
		h := &hdrs[*hi]
		if f.name != nil && !bytes.EqualFold(h.Name, f.name) {
			*hi, *off = *hi+1, 0
			continue
		}
		if !f.split {
			*hi++
			return h.Value, true
		}
		v := h.Value[*off:]
		if i := bytes.IndexByte(v, ','); i >= 0 {
			*off += i + 1
			return bytes.TrimSpace(v[:i]), true
		}
		*hi, *off = *hi+1, 0
		return bytes.TrimSpace(v), true
	}
	return nil, false
}

func (f *fetchHdr) Fetch(t *Txn, s *Sample) bool {
	s.Type = TypeStr
	if f.occ != 0 {
		s.More = false
		return f.fetchOcc(t, s)
	}
	hdrs := f.headers(t)
	v, ok := f.next(hdrs, &s.ctx, &s.off)
	if !ok {
		s.More = false
		return false
	}
	s.Str = v
	hi, off := s.ctx, s.off
	_, s.More = f.next(hdrs, &hi, &off)
	return true
}

// count returns how many values the header has.
func (f *fetchHdr) count(hdrs []Header) int {
	n, hi, off := 0, 0, 0
	for {
		if _, ok := f.next(hdrs, &hi, &off); !ok {
			return n
		}
		n++
	}
}

func (f *fetchHdr) fetchOcc(t *Txn, s *Sample) bool {
	hdrs := f.headers(t)
	want := f.occ - 1
	if f.occ < 0 {
		want = f.count(hdrs) + f.occ
	}
	if want < 0 {
		return false
	}
	hi, off := 0, 0
	for i := 0; ; i++ {
		v, ok := f.next(hdrs, &hi, &off)
		if !ok {
			return false
		}
		if i == want {
			s.Str = v
			return true
		}
	}
}

type fetchHdrCnt struct{ h fetchHdr }

func newHdrCnt(resp bool) func([]string, Resolver) (Fetcher, error) {
	return func(args []string, _ Resolver) (Fetcher, error) {
		f := &fetchHdrCnt{h: fetchHdr{split: true, resp: resp}}
		if len(args) > 0 {
			f.h.name = []byte(strings.ToLower(args[0]))
		}
		return f, nil
	}
}

func (f *fetchHdrCnt) Fetch(t *Txn, s *Sample) bool {
	if f.h.resp != t.InResponse {
		return false
	}
	s.Type, s.Int = TypeInt, int64(f.h.count(f.h.headers(t)))
	return true
}

// fetchStatus is the response status code.
type fetchStatus struct{}

func (fetchStatus) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeInt, int64(t.Resp.Status)
	return t.InResponse
}
