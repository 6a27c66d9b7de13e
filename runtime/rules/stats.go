package rules

import (
	"bytes"
	"time"
)

// Stats is a proxy's statistics page ("stats enable", "stats uri", ...):
// requests whose path starts with URI are answered by the page instead of
// going on to a backend.
type Stats struct {
	URI         string // default "/haproxy?stats"
	Realm       string // default "HAProxy Statistics"
	Users       *Userlist
	Refresh     time.Duration // 0: no refresh header
	HideVersion bool
	// Scope limits the proxies shown; empty shows all.
	Scope []string
	// Reply401 is the challenge sent when Users is set and the request
	// does not authenticate; HAProxy closes the connection after it.
	Reply401 *Reply
}

// Match reports whether the request is for the stats page.
func (s *Stats) Match(t *Txn) bool {
	return bytes.HasPrefix(t.Req.PathQuery(), []byte(s.URI))
}

// Authorized reports whether the request may see the page.
func (s *Stats) Authorized(t *Txn) bool {
	if s.Users == nil {
		return true
	}
	i := t.Req.Header(authHeader, 0)
	if i < 0 {
		return false
	}
	u, p, ok := BasicAuth(t.Req.Headers[i].Value)
	return ok && s.Users.Check(u, p)
}

// Shows reports whether proxy name is in the page's scope.
func (s *Stats) Shows(name string) bool {
	if len(s.Scope) == 0 {
		return true
	}
	for _, n := range s.Scope {
		if n == name || n == "." {
			return true
		}
	}
	return false
}
