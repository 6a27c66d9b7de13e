package parser

import (
	"slices"

	"gohap/runtime/rules"
)

var compressKeywords = []keyword{
	{name: "compression", where: secProxy, apply: kwCompression},
}

func init() {
	register(compressKeywords)
	keywordNotes["compression"] = "algo identity|deflate|raw-deflate|gzip, type MIME..., offload: responses compressed as haproxy 2.6 decides (Accept-Encoding with q-values, 200-203, HTTP/1.1, no Content-Encoding, no-transform, ETag, types), streamed in chunks"
}

// compSettings are a proxy's "compression" lines. A proxy adds its own
// algorithms and types to the ones its defaults section gave it, as
// haproxy does; "offload" is not inherited.
type compSettings struct {
	set     bool
	algos   []rules.CompAlgo // in haproxy's order: the last written first
	types   []string
	offload bool
}

func (s compSettings) clone() compSettings {
	s.algos, s.types, s.offload = slices.Clone(s.algos), slices.Clone(s.types), false
	return s
}

// kwCompression is "compression algo A...", "compression type T..." and
// "compression offload".
func kwCompression(c *compiler, p *proxy, g *Generic, args []string) {
	cs := &p.set.comp
	if len(args) == 0 {
		c.errorf(g.Pos, "'compression' expects 'algo', 'type' or 'offload'")
		return
	}
	switch args[0] {
	case "algo":
		if len(args) == 1 {
			c.errorf(g.Pos, "'compression' expects <algorithm>")
			return
		}
		for i, name := range args[1:] {
			a, ok := rules.ParseCompAlgo(name)
			if !ok {
				c.errorf(g.Args[i+1].Pos, "'compression' : '%s' is not a supported algorithm", name)
				return
			}
			cs.algos = append([]rules.CompAlgo{a}, cs.algos...)
		}
	case "type":
		if len(args) == 1 {
			c.errorf(g.Pos, "'compression' expects <type>")
			return
		}
		cs.types = append(cs.types, args[1:]...)
	case "offload":
		if p.fe == nil && p.be == nil {
			c.warnf(g.Pos, "'compression' : 'offload' ignored in 'defaults' section")
			return
		}
		cs.offload = true
	default:
		c.errorf(g.Args[0].Pos, "'compression' expects 'algo', 'type' or 'offload'")
		return
	}
	cs.set = true
}

// freezeCompression returns the proxy's compression, nil when it has none.
func freezeCompression(cs *compSettings) *rules.Compression {
	if !cs.set {
		return nil
	}
	out := &rules.Compression{Algos: slices.Clone(cs.algos), Offload: cs.offload}
	for _, t := range cs.types {
		out.Types = append(out.Types, []byte(t))
	}
	return out
}
