package runtime

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keepAliveTimer returns the seconds left on the TCP keep-alive timer of
// the IPv4 socket from local to remote (a zero local: any), or -1 when
// it has none; it fails the test when there is no such socket.
func keepAliveTimer(t *testing.T, local, remote netip.AddrPort) float64 {
	t.Helper()
	hex := func(a netip.AddrPort) string {
		b := a.Addr().As4()
		return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], a.Port())
	}
	// A retransmission timer (1: data not yet acknowledged) hides the
	// keep-alive timer: wait for the acknowledgement.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		raw, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Skip(err)
		}
		found := false
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 6 || f[2] != hex(remote) || (local.IsValid() && f[1] != hex(local)) {
				continue
			}
			found = true
			// f[5] is "timer:jiffies left", in hundredths of a second;
			// timer 2 is the keep-alive timer.
			kind, left, _ := strings.Cut(f[5], ":")
			switch kind {
			case "02":
				n, _ := strconv.ParseUint(left, 16, 64)
				return float64(n) / 100
			case "00":
				return -1
			}
		}
		if !found || time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("no socket from %v to %v, or its data never acknowledged", local, remote)
	return 0
}

// TestTCPKeepAlive: TCP keep-alive is off on both sides unless "option
// clitcpka", "option srvtcpka" or "option tcpka" asks for it, as in
// haproxy (Go's default is on, every 15 s), and then runs on the system's
// timers; also for a connection served again after it waited in the
// parker, and on a listener made from an inherited descriptor.
func TestTCPKeepAlive(t *testing.T) {
	sysIdle := sysKeepAlive().Idle.Seconds()
	if sysIdle <= 15 {
		t.Skipf("the system's keep-alive idle time (%v s) is not told apart from Go's", sysIdle)
	}
	for _, tc := range []struct {
		option         string
		client, server bool
	}{
		{"", false, false},
		{"option clitcpka", true, false},
		{"option srvtcpka", false, true},
		{"option tcpka", true, true},
	} {
		for _, fromFD := range []bool{false, true} {
			name := fmt.Sprintf("%q fd=%v", tc.option, fromFD)
			srv := okServer(t)
			bind := "127.0.0.1:0"
			if fromFD {
				// A descriptor no *os.File owns: the engine closes it.
				f := listenerFile(t)
				fd, err := syscall.Dup(int(f.Fd()))
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				bind = fmt.Sprintf("fd@%d", fd)
			}
			e, fe := startFrontBack(t, "    timeout http-keep-alive 10s\n    "+tc.option, bind, srv.addr())
			feAddr := netip.MustParseAddrPort(fe)
			srvAddr := netip.MustParseAddrPort(srv.addr())
			c := dial(t, feAddr.String())
			cAddr := netip.MustParseAddrPort(c.c.LocalAddr().String())
			check := func(when string) {
				t.Helper()
				for side, want := range map[string]bool{"client": tc.client, "server": tc.server} {
					var left float64
					if side == "client" {
						left = keepAliveTimer(t, feAddr, cAddr)
					} else {
						left = keepAliveTimer(t, netip.AddrPort{}, srvAddr)
					}
					switch {
					case !want && left >= 0:
						t.Errorf("%s, %s: the %s side has a keep-alive timer (%v s)", name, when, side, left)
					case want && left < 0:
						t.Errorf("%s, %s: the %s side has no keep-alive timer", name, when, side)
					case want && left < sysIdle-30:
						t.Errorf("%s, %s: the %s side's keep-alive timer has %v s left, not the system's %v s", name, when, side, left, sysIdle)
					}
				}
			}
			c.get("/first")
			check("first request")
			for deadline := time.Now().Add(5 * time.Second); parkedConns(e) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the connection was not parked", name)
				}
			}
			c.get("/second")
			check("served again after the parker")
			e.Close()
		}
	}
}
