package parser

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseTime reads an HAProxy time: a number with an optional unit (us, ms,
// s, m, h, d); no unit means milliseconds.
func parseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("'%s' is not a valid time", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a valid time", s)
	}
	units := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[s[i:]]
	if !ok {
		return 0, fmt.Errorf("unexpected character '%c' in time '%s'", s[i], s)
	}
	d := time.Duration(n) * u
	if d/u != time.Duration(n) || d > 24*24*time.Hour {
		return 0, fmt.Errorf("timer overflow in argument '%s' (maximum value is 2147483647 ms, about 24.8 days)", s)
	}
	return d, nil
}

// parseTimeUnit is parseTime where a bare number counts in unit (haproxy
// reads cookie dates and resolver holds in seconds).
func parseTimeUnit(s string, unit time.Duration) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * unit, nil
	}
	return parseTime(s)
}

// parseInt reads a decimal integer in [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a valid integer", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("'%s' is out of range [%d..%d]", s, lo, hi)
	}
	return n, nil
}
