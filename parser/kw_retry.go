package parser

import (
	"strconv"

	"gohap/runtime/rules"
)

var retryKeywords = []keyword{
	{name: "retry-on", where: secBE, apply: kwRetryOn},
}

func init() {
	register(retryKeywords)
	keywordNotes["retry-on"] = "none, conn-failure, empty-response, junk-response, response-timeout, 0rtt-rejected, 401, 403, 404, 408, 425, 500, 501, 502, 503, 504, all-retryable-errors: the request is sent again (up to retries) when it was read whole and fits a buffer; with option redispatch [N], on another server as haproxy picks it"
}

// retryOnWords are the keywords of "retry-on".
var retryOnWords = map[string]rules.RetryOn{
	"conn-failure":     rules.RetryConnFailure,
	"empty-response":   rules.RetryEmptyResponse,
	"junk-response":    rules.RetryJunkResponse,
	"response-timeout": rules.RetryResponseTimeout,
	"0rtt-rejected":    rules.Retry0RTTRejected,
	"all-retryable-errors": rules.RetryConnFailure | rules.RetryEmptyResponse | rules.RetryJunkResponse |
		rules.RetryResponseTimeout | rules.Retry0RTTRejected | rules.RetryStatus(500) | rules.RetryStatus(502) |
		rules.RetryStatus(503) | rules.RetryStatus(504),
}

// kwRetryOn is "retry-on KEYWORD...": it replaces the previous setting.
func kwRetryOn(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) == 0 {
		c.errorf(g.Pos, "'retry-on' needs at least one keyword to specify when to retry")
		return
	}
	var on rules.RetryOn
	for i, w := range args {
		if w == "none" {
			if len(args) > 1 {
				c.errorf(g.Args[i].Pos, "'retry-on' 'none' keyword only usable alone")
				return
			}
			continue
		}
		if r, ok := retryOnWords[w]; ok {
			on |= r
			continue
		}
		code, err := strconv.Atoi(w)
		if r := rules.RetryStatus(code); err == nil && r != 0 {
			on |= r
			continue
		}
		c.errorf(g.Args[i].Pos, "'retry-on': unknown keyword '%s'", w)
		return
	}
	p.set.retryOn = on
}
