package api

import (
	"fmt"
	"strings"
)

// maxMatches is how many close commands an unknown one gets proposed.
const maxMatches = 5

// usage is haproxy's list of commands: "help [words]" (help true), or the
// answer to an unknown command args. Commands whose first words match
// args are listed; when words after those match none, up to five close
// ones are proposed, measured as haproxy measures them. help, prompt and
// quit always end the list.
func usage(args []string, help bool) string {
	length := 0
	for _, c := range commands {
		length = max(length, matched(c.words, args))
	}
	var b strings.Builder
	switch {
	case help:
		b.WriteString("The following commands are valid at this level:\n")
	case length == 0 && (len(args) == 0 || args[0] == ""):
		b.WriteString("Unknown command. Please enter one of the following commands only:\n")
	default:
		b.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	}
	base := commands[:len(commands)-3] // help, prompt and quit come last
	list := closest(base, args, length)
	if list == nil {
		for _, c := range base {
			if matched(c.words, args) >= length {
				list = append(list, c)
			}
		}
	}
	for _, c := range append(list, commands[len(commands)-3:]...) {
		fmt.Fprintf(&b, "  %-40s: %s\n", c.usage, c.help)
	}
	return b.String()
}

// closest returns the commands whose first length words match args,
// nearest first by the fingerprint of their remaining words, as haproxy's
// cli_gen_usage_msg; nil when args has no more word or none is near.
func closest(cmds []*command, args []string, length int) []*command {
	if length >= len(args) {
		return nil
	}
	type match struct {
		c    *command
		dist int
	}
	var best []match
	for _, c := range cmds {
		if matched(c.words, args) < length {
			continue
		}
		var want, have fingerprint
		total := 0
		for _, w := range args[length:] {
			want.add(w)
			total += len(w)
		}
		for _, w := range c.words[length:] {
			have.add(w)
			total += len(w)
		}
		d := want.distance(&have)
		if d >= 5*total/8 {
			continue
		}
		i := len(best)
		for i > 0 && best[i-1].dist > d {
			i--
		}
		if i < maxMatches {
			best = append(best[:i], append([]match{{c, d}}, best[i:]...)...)
			best = best[:min(len(best), maxMatches)]
		}
	}
	var out []*command
	for _, m := range best {
		if m.dist > 5*best[0].dist/2 {
			break
		}
		out = append(out, m.c)
	}
	return out
}

// fingerprint counts a word's letter pairs, as haproxy's
// make_word_fingerprint: letters, a class for digits and one for the
// rest, the word's start and end being of the last class.
type fingerprint [32 * 32]uint8

func (f *fingerprint) add(word string) {
	class := func(c byte) int {
		switch {
		case c >= 'a' && c <= 'z':
			return int(c-'a') + 1
		case c >= 'A' && c <= 'Z':
			return int(c-'A') + 1
		case c >= '0' && c <= '9':
			return 27
		}
		return 28
	}
	from := 28
	for i := 0; i < len(word); i++ {
		to := class(word[i])
		f[32*from+to]++
		from = to
	}
	f[32*from+28]++
}

func (f *fingerprint) distance(g *fingerprint) int {
	d := 0
	for i := range f {
		d += max(int(f[i])-int(g[i]), int(g[i])-int(f[i]))
	}
	return d
}
