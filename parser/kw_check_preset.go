package parser

import (
	"encoding/binary"
	"encoding/hex"
	"regexp"

	"gohap/runtime/rules"
)

// sslHello is the SSLv3 ClientHello haproxy 2.6 sends for ssl-hello-chk,
// as captured from it (with a fixed time in its random).
var sslHello, _ = hex.DecodeString("16030000790100007503006b04c68a484150524f585953534c43484b0a484150524f585953534c43484b0a00004e000100020003000400050006000700080009000a000b000c000d000e000f0010001100120013001400150016001700180019001a001b002f0030003100320033003400350036003700380039003a0100")

// presetCheck installs tcp-check steps for an "option" that is a fixed
// check sequence in haproxy.
func presetCheck(c *compiler, p *proxy, g *Generic, name string, steps []rules.CheckStep) {
	if !checkOptionApplies(c, p, g, name) {
		return
	}
	cs := &p.set.check
	cs.kind, cs.steps, cs.tcpOwner = rules.CheckTCPRules, steps, p
}

func expectRegex(pattern string, inverse bool) rules.CheckStep {
	return rules.CheckStep{Action: rules.StepExpect, Expect: &rules.CheckExpect{
		Kind: rules.ExpectRString, Inverse: inverse, Pattern: pattern, Regex: regexp.MustCompile(pattern)}}
}

// optSSLHelloChk is "option ssl-hello-chk": a ClientHello, and a TLS
// handshake or alert record in return.
func optSSLHelloChk(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) > 0 {
		c.errorf(g.Args[1].Pos, "'option ssl-hello-chk' takes no argument")
		return
	}
	presetCheck(c, p, g, "ssl-hello-chk", []rules.CheckStep{
		{Action: rules.StepSend, Data: sslHello},
		expectRegex(`^[\x15\x16]`, false),
	})
}

// optPgsqlCheck is "option pgsql-check user NAME": a StartupMessage, and
// an authentication request or success rather than an error.
func optPgsqlCheck(c *compiler, p *proxy, g *Generic, args []string) {
	if len(args) != 2 || args[0] != "user" {
		c.errorf(g.Pos, "'option pgsql-check' expects 'user NAME'")
		return
	}
	msg := []byte{0, 0, 0, 0, 0, 3, 0, 0}
	msg = append(msg, "user\x00"+args[1]+"\x00\x00"...)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	presetCheck(c, p, g, "pgsql-check", []rules.CheckStep{
		{Action: rules.StepSend, Data: msg},
		expectRegex(`^E`, true),
		expectRegex(`(?s)^R\x00\x00\x00.\x00\x00\x00[\x00\x02-\x07\x09\x0a]`, false),
	})
}

func init() {
	checkOptions["ssl-hello-chk"] = optSSLHelloChk
	checkOptions["pgsql-check"] = optPgsqlCheck
	checkOptions["mysql-check"] = optMysqlCheck
}

// optMysqlCheck is "option mysql-check [user NAME]": the server's greeting
// must be protocol 10; with a user, gohap logs in with an empty password
// and quits, with the packets captured from haproxy 2.6, and expects OK.
func optMysqlCheck(c *compiler, p *proxy, g *Generic, args []string) {
	greeting := expectRegex(`(?s)^...\x00\x0a`, false)
	if len(args) == 0 {
		presetCheck(c, p, g, "mysql-check", []rules.CheckStep{greeting})
		return
	}
	if len(args) != 2 || args[0] != "user" {
		c.errorf(g.Pos, "'option mysql-check' expects nothing or 'user NAME' ('post-41' is not supported)")
		return
	}
	user := args[1]
	n := 34 + len(user)
	auth := []byte{byte(n), byte(n >> 8), byte(n >> 16), 1, 0x00, 0x82, 0, 0, 0x00, 0x80, 0x00, 0x01, 0x21}
	auth = append(auth, make([]byte, 23)...)
	auth = append(auth, user...)
	auth = append(auth, 0, 0)
	auth = append(auth, 1, 0, 0, 0, 1) // COM_QUIT
	presetCheck(c, p, g, "mysql-check", []rules.CheckStep{
		greeting,
		{Action: rules.StepSend, Data: auth},
		expectRegex(`(?s)^...\x02\x00`, false),
	})
}
