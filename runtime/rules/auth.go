package rules

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// Userlist is a "userlist" section: users with their passwords and groups,
// checked by http_auth and "http-request auth".
type Userlist struct {
	Name   string
	Users  map[string]*User
	Groups map[string][]string // group name to user names
}

// User is one "user" line. Hash is a crypt(3) hash ("password"), Plain a
// clear-text one ("insecure-password"); one of the two is set.
type User struct {
	Name  string
	Hash  string
	Plain string
}

// Check reports whether user and pass are a valid pair of the list.
func (l *Userlist) Check(user, pass []byte) bool {
	u, ok := l.Users[string(user)]
	if !ok {
		return false
	}
	if u.Hash == "" {
		return subtle.ConstantTimeCompare([]byte(u.Plain), pass) == 1
	}
	got, err := cryptHash(pass, u.Hash)
	return err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(u.Hash)) == 1
}

// InGroup reports whether user belongs to group.
func (l *Userlist) InGroup(user []byte, group string) bool {
	for _, u := range l.Groups[group] {
		if u == string(user) {
			return true
		}
	}
	return false
}

// BasicAuth returns the user and password of an "Authorization: Basic"
// header value.
func BasicAuth(v []byte) (user, pass []byte, ok bool) {
	scheme, cred, found := bytes.Cut(bytes.TrimSpace(v), []byte(" "))
	if !found || !bytes.EqualFold(scheme, []byte("basic")) {
		return nil, nil, false
	}
	dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(cred)))
	if err != nil {
		return nil, nil, false
	}
	return bytes.Cut(dec, []byte(":"))
}

// CheckCryptHash reports whether gohap can verify passwords against hash:
// MD5-crypt ($1$), SHA-256-crypt ($5$) or SHA-512-crypt ($6$).
func CheckCryptHash(h string) error {
	for _, p := range []string{"$1$", "$5$", "$6$"} {
		if strings.HasPrefix(h, p) && strings.Count(h, "$") >= 3 {
			return nil
		}
	}
	return errors.New("unsupported password hash (gohap checks $1$ MD5-crypt, $5$ SHA-256-crypt and $6$ SHA-512-crypt)")
}

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var errBadHash = errors.New("malformed password hash")

// cryptHash computes the crypt(3) string of pass with the method, rounds
// and salt of setting, as glibc does.
func cryptHash(pass []byte, setting string) (string, error) {
	switch {
	case strings.HasPrefix(setting, "$1$"):
		return md5Crypt(pass, setting[3:]), nil
	case strings.HasPrefix(setting, "$5$"):
		return shaCrypt(pass, setting[3:], "$5$", sha256.New, sha256Order[:])
	case strings.HasPrefix(setting, "$6$"):
		return shaCrypt(pass, setting[3:], "$6$", sha512.New, sha512Order[:])
	}
	return "", errBadHash
}

// encode24 appends n characters of the 24-bit group b2 b1 b0.
func encode24(out []byte, b2, b1, b0 byte, n int) []byte {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		out = append(out, cryptAlphabet[w&0x3f])
		w >>= 6
	}
	return out
}

// The byte order in which the SHA-crypt digests are encoded.
var (
	sha256Order = [...][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
	sha512Order = [...][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
)

// repeatTo returns b repeated to n bytes.
func repeatTo(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

// shaCrypt is SHA-256/512-crypt: spec is "[rounds=N$]salt[$hash]".
func shaCrypt(pass []byte, spec, prefix string, newHash func() hash.Hash, order [][3]int) (string, error) {
	rounds, custom := 5000, false
	if r, ok := strings.CutPrefix(spec, "rounds="); ok {
		n, rest, found := strings.Cut(r, "$")
		v, err := strconv.Atoi(n)
		if !found || err != nil {
			return "", errBadHash
		}
		rounds, custom, spec = min(max(v, 1000), 999999999), true, rest
	}
	salt, _, _ := strings.Cut(spec, "$")
	if len(salt) > 16 {
		salt = salt[:16]
	}
	s := []byte(salt)
	sum := func(parts ...[]byte) []byte {
		h := newHash()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	b := sum(pass, s, pass)
	h := newHash()
	h.Write(pass)
	h.Write(s)
	h.Write(repeatTo(b, len(pass)))
	for n := len(pass); n > 0; n >>= 1 {
		if n&1 == 1 {
			h.Write(b)
		} else {
			h.Write(pass)
		}
	}
	a := h.Sum(nil)
	h.Reset()
	for range pass {
		h.Write(pass)
	}
	p := repeatTo(h.Sum(nil), len(pass))
	h.Reset()
	for i := 0; i < 16+int(a[0]); i++ {
		h.Write(s)
	}
	sp := repeatTo(h.Sum(nil), len(s))
	c := cryptRounds(h, a, p, sp, rounds)
	out := []byte(prefix)
	if custom {
		out = append(out, "rounds="+strconv.Itoa(rounds)+"$"...)
	}
	out = append(out, salt...)
	out = append(out, '$')
	for _, o := range order {
		out = encode24(out, c[o[0]], c[o[1]], c[o[2]], 4)
	}
	if len(c) == 32 {
		out = encode24(out, 0, c[31], c[30], 3)
	} else {
		out = encode24(out, 0, 0, c[63], 2)
	}
	return string(out), nil
}

// md5Crypt is the $1$ method; spec is "salt[$hash]".
func md5Crypt(pass []byte, spec string) string {
	salt, _, _ := strings.Cut(spec, "$")
	if len(salt) > 8 {
		salt = salt[:8]
	}
	s := []byte(salt)
	alt := md5.Sum(append(append(append([]byte{}, pass...), s...), pass...))
	h := md5.New()
	h.Write(pass)
	h.Write([]byte("$1$"))
	h.Write(s)
	for n := len(pass); n > 0; n -= 16 {
		h.Write(alt[:min(n, 16)])
	}
	for n := len(pass); n > 0; n >>= 1 {
		if n&1 == 1 {
			h.Write([]byte{0})
		} else {
			h.Write(pass[:1])
		}
	}
	final := cryptRounds(h, h.Sum(nil), pass, s, 1000)
	out := []byte("$1$" + salt + "$")
	for _, o := range [...][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		out = encode24(out, final[o[0]], final[o[1]], final[o[2]], 4)
	}
	return string(encode24(out, 0, 0, final[11], 2))
}

// AuthReply is what "http-request auth" sends: the proxy's 401 reply with
// a Basic challenge for realm added to its headers.
func AuthReply(base *Reply, realm string) *Reply {
	line := "www-authenticate: Basic realm=\"" + realm + "\"\r\n"
	if base.dyn != nil {
		f := *base.dyn
		f.extra = append(f.extra[:len(f.extra):len(f.extra)], line...)
		return &Reply{Status: base.Status, Close: base.Close, dyn: &f}
	}
	raw := base.Raw[: base.HeadLen-2 : base.HeadLen-2]
	out := append(append([]byte{}, raw...), line+"\r\n"...)
	out = append(out, base.Raw[base.HeadLen:]...)
	return newReply(base.Status, out, base.Close)
}

// fetchHTTPAuth reports whether the request carries Basic credentials the
// userlist accepts (http_auth).
type fetchHTTPAuth struct{ list *Userlist }

var authHeader = []byte("authorization")

func newHTTPAuth(args []string, r Resolver) (Fetcher, error) {
	l, err := r.Userlist(args[0])
	if err != nil {
		return nil, err
	}
	return fetchHTTPAuth{l}, nil
}

func (f fetchHTTPAuth) Fetch(t *Txn, s *Sample) bool {
	s.Type, s.Int = TypeBool, 0
	if i := t.Req.Header(authHeader, 0); i >= 0 {
		if u, p, ok := BasicAuth(t.Req.Headers[i].Value); ok && f.list.Check(u, p) {
			s.Int = 1
		}
	}
	return true
}

func init() {
	registerFetches([]Fetch{{Name: "http_auth", MinArgs: 1, MaxArgs: 1, Out: TypeBool, New: newHTTPAuth}})
}

// cryptRounds is the stretching loop MD5-crypt and SHA-crypt share: each
// round hashes the last digest c with the password p and, on rounds not
// divisible by 3, the salt s, in an order that alternates with the
// round's parity. It returns the last digest.
func cryptRounds(h hash.Hash, c, p, s []byte, rounds int) []byte {
	for i := 0; i < rounds; i++ {
		h.Reset()
		if i&1 == 1 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 == 1 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	return c
}
