#!/usr/bin/env bash
# Resident memory of haproxy 2.6 and gohap holding N idle keep-alive
# client connections, each of which made one request (bench/idle.cfg,
# nginx backend). haproxy needs two descriptors a connection: with the
# hard limit of 20000 here it holds at most ~9,900, so N defaults to 9800.
#
#   bench/idle.sh [N]
#   GOHAP_BIN=/path/to/gohap bench/idle.sh ...   measure a prebuilt binary
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9800}
. bench/lib.sh
HA_PORT=$(freeport)
GO_PORT=$(freeport)
build_gohap

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; } # kB

measure() { # name pid port
    local before after
    wait_http "$3"
    before=$(rss "$2")
    mkfifo "$out/hold.$1"
    python3 bench/idle.py "$3" "$N" < "$out/hold.$1" > "$out/ready.$1" &
    local client=$!
    exec 3>"$out/hold.$1"
    for _ in $(seq 600); do
        grep -q ready "$out/ready.$1" 2>/dev/null && break
        kill -0 "$client" 2>/dev/null || { echo "$1: client failed"; exit 1; }
        sleep 0.1
    done
    sleep 1
    after=$(rss "$2")
    exec 3>&-
    wait "$client" || true
    echo "$after" > "$out/rss.$1"
    printf '%-8s %d idle connections: VmRSS %7d kB (%d kB before, %.1f kB a connection)\n' \
        "$1" "$N" "$after" "$before" "$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN {print (a-b)/n}')"
}

FE_PORT=$HA_PORT haproxy -db -f bench/idle.cfg >"$out/haproxy.log" 2>&1 &
measure haproxy $! "$HA_PORT"
kill %% 2>/dev/null || true
FE_PORT=$GO_PORT GOHAP_VARS="$out/vars" "$out/gohap" -q -f bench/idle.cfg >"$out/gohap.log" 2>&1 &
measure gohap $! "$GO_PORT"
awk -v a="$(cat "$out/rss.gohap")" -v b="$(cat "$out/rss.haproxy")" 'BEGIN { printf "ratio gohap/haproxy: idle RSS %.2fx\n", a/b }'
