package parser

// suggest returns the candidate closest to word by edit distance, or ""
// when none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best, bestD := "", len(word)/2+1
	if bestD > 3 {
		bestD = 3
	}
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD || (d == bestD && best == "" && d <= 2) {
			best, bestD = c, d
		}
	}
	return best
}

// suggestion is " (did you mean 'x'?)" when a name of names is close to
// name.
func suggestion(name string, names []string) string {
	if s := suggest(name, names); s != "" {
		return " (did you mean '" + s + "'?)"
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
