package rules

import "testing"

// The expected strings were made by glibc's crypt(3) (through Python's
// crypt module) for the same passwords and settings.
func TestCryptHash(t *testing.T) {
	cases := []struct{ pass, want string }{
		{"Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{"secret", "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"},
		{"mypassword", "$6$rounds=1000$xyz$zQ8Nj9cSvyPcKSyY2tyVDEgZ2VqJLLT57bjpCT4aj185iDoXSI6Wmjgf/cUfSU1bosMq6V9G0mByPSzDoyD5S0"},
	}
	for _, c := range cases {
		got, err := cryptHash([]byte(c.pass), c.want)
		if err != nil || got != c.want {
			t.Errorf("crypt(%q, %q) = %q, %v", c.pass, c.want, got, err)
		}
	}
	l := &Userlist{Users: map[string]*User{
		"a": {Name: "a", Hash: cases[0].want},
		"b": {Name: "b", Plain: "pw"},
	}, Groups: map[string][]string{"admins": {"b"}}}
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{{"a", "Hello world!", true}, {"a", "Hello world", false}, {"b", "pw", true}, {"b", "PW", false}, {"c", "pw", false}} {
		if got := l.Check([]byte(c.user), []byte(c.pass)); got != c.ok {
			t.Errorf("Check(%s, %s) = %v", c.user, c.pass, got)
		}
	}
	if !l.InGroup([]byte("b"), "admins") || l.InGroup([]byte("a"), "admins") {
		t.Error("InGroup")
	}
	if u, p, ok := BasicAuth([]byte("Basic YWRtaW46czNjcjN0")); !ok || string(u) != "admin" || string(p) != "s3cr3t" {
		t.Errorf("BasicAuth: %q %q %v", u, p, ok)
	}
}
