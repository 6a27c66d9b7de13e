#!/usr/bin/env bash
# Resident memory of haproxy 2.6 and gohap holding N idle keep-alive
# client connections, each of which made one request (bench/idle.cfg,
# nginx backend). haproxy needs two descriptors a connection: with the
# hard limit of 20000 here it holds at most ~9,900, so N defaults to 9800.
#
#   bench/idle.sh [N]
#   GOHAP_BIN=/path/to/gohap bench/idle.sh ...   measure a prebuilt binary
#   SETTLE=SECONDS bench/idle.sh ...              measure that long after the
#                                                 last connection opened (5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9800}
. bench/lib.sh
HA_PORT=$(freeport)
GO_PORT=$(freeport)
build_gohap

# rss PID: resident memory of PID and its descendants (gohap's worker
# processes), in kB. Pages the processes share (the executable, the
# shared state) count once per process, as VmRSS counts them.
rss() {
    local p t=0
    for p in $(tree "$1"); do t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
    echo "$t"
}
# pss PID: proportional resident memory of PID and its descendants, in
# kB: a page shared by k processes counts 1/k in each.
pss() {
    local p t=0
    for p in $(tree "$1"); do t=$((t + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"))); done
    echo "$t"
}

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
    # Settled: gohap gives memory back once a second passed without
    # allocation (runtime/trim.go); SETTLE=1 shows it before that.
    sleep "${SETTLE:-5}"
    after=$(rss "$2")
    pss "$2" > "$out/pss.$1"
    python3 bench/resident.py $(tree "$2") > "$out/uniq.$1"
    exec 3>&-
    wait "$client" || true
    echo "$after" > "$out/rss.$1"
    printf '%-8s %d idle connections: VmRSS %7d kB (%d kB before, %.1f kB a connection), Pss %7d kB, each page once %7s kB, %d process(es)\n' \
        "$1" "$N" "$after" "$before" "$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN {print (a-b)/n}')" "$(cat "$out/pss.$1")" "$(cat "$out/uniq.$1")" "$(tree "$2" | wc -l)"
}

FE_PORT=$HA_PORT haproxy -db -f bench/idle.cfg >"$out/haproxy.log" 2>&1 &
measure haproxy $! "$HA_PORT"
kill %% 2>/dev/null || true
FE_PORT=$GO_PORT GOHAP_VARS="$out/vars" "$out/gohap" -q -f bench/idle.cfg >"$out/gohap.log" 2>&1 &
measure gohap $! "$GO_PORT"
awk -v a="$(cat "$out/rss.gohap")" -v b="$(cat "$out/rss.haproxy")" -v c="$(cat "$out/pss.gohap")" -v d="$(cat "$out/pss.haproxy")" \
    -v e="$(cat "$out/uniq.gohap")" -v f="$(cat "$out/uniq.haproxy")" \
    'BEGIN { printf "ratio gohap/haproxy: idle RSS %.2fx, Pss %.2fx, each page once %s\n", a/b, c/d, (e+0 && f+0) ? sprintf("%.2fx", e/f) : "unknown" }'
