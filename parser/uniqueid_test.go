package parser

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"gohap/runtime/rules"
)

const uidHead = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"

// TestUniqueIDFormat checks the unique ID against what haproxy 2.6.12
// printed for the same formats, client 127.0.0.1:36036 on
// 127.0.0.1:28440, request number 3 (%pid and %Ts vary).
func TestUniqueIDFormat(t *testing.T) {
	pid := os.Getpid()
	host, _ := os.Hostname()
	cases := []struct{ format, want string }{
		{`%{+X}o\ %ci:%cp_%fi:%fp_%rt`, "7F000001:8CC4_7F000001:6F18_0003"},
		{`%ci:%cp_%fi:%fp_%rt:%pid`, "127.0.0.1:36036_127.0.0.1:28440_3:" + strconv.Itoa(pid)},
		{`%{+X}pid`, fmt.Sprintf("%04X", pid)},
		{`"  a  %[req.hdr(x-no)]  b %[req.hdr(x-no)] %o %ci "`, "a  b  127.0.0.1 "},
		{`%{+Q}ci:%{+X}cp:%{+Q,+X}fi:%[req.hdr(x-a)]:%rt`, `"127.0.0.1":8CC4:7F000001::3`},
		{`%{+Q}H|%{+Q}rt|%{+X}[src]|%{+Q}ID|%H`, `"` + host + `"|3|127.0.0.1|""|` + host},
		{`%{+X}o\ %{-X}ci-%%-%[req.hdr(x-a)]`, "127.0.0.1-%-"},
		{`%[req.hdr(host)]%[req.hdr(host)]%[req.hdr(host)]%[req.hdr(host)]%[req.hdr(host)]`, strings.Repeat("h", 127)},
	}
	for _, tc := range cases {
		res, err := compileString(t, uidHead+"frontend f\n bind :80\n unique-id-format "+tc.format+"\n unique-id-header X-Unique-ID\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		fe := res.Graph.Frontends[0]
		tx := newTxn("GET", "/", nil, fakeState{}, "host", strings.Repeat("h", 30))
		tx.Src = netip.MustParseAddrPort("127.0.0.1:36036")
		tx.Dst = netip.MustParseAddrPort("127.0.0.1:28440")
		tx.ReqCounter = 3
		tx.UniqueIDFormat = fe.UniqueIDFormat
		id, ok := tx.UniqueID()
		if !ok || string(id) != tc.want {
			t.Errorf("%s: unique id %q, want %q", tc.format, id, tc.want)
		}
		if string(fe.UniqueIDHeader) != "x-unique-id" {
			t.Errorf("%s: header %q", tc.format, fe.UniqueIDHeader)
		}
	}
}

// TestUniqueIDTs checks %Ts, in decimal and with +X.
func TestUniqueIDTs(t *testing.T) {
	res, err := compileString(t, uidHead+"frontend f\n bind :80\n unique-id-format %Ts_%{+X}Ts\n")
	if err != nil {
		t.Fatal(err)
	}
	tx := newTxn("GET", "/", nil, fakeState{})
	tx.UniqueIDFormat = res.Graph.Frontends[0].UniqueIDFormat
	id, _ := tx.UniqueID()
	dec, hex, _ := strings.Cut(string(id), "_")
	n, err := strconv.ParseInt(dec, 10, 64)
	if err != nil || strings.ToUpper(strconv.FormatInt(n, 16)) != hex {
		t.Errorf("unique id %q: %%Ts and %%{+X}Ts differ", id)
	}
}

var _ = rules.MaxUniqueIDLen
