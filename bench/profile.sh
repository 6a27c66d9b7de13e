#!/usr/bin/env bash
# CPU profile of gohap under wrk load, with the same nginx backend and
# config as bench/run.sh. Builds gohap with -tags gohap_pprof (which serves
# net/http/pprof on $GOHAP_PPROF) unless GOHAP_BIN names such a build.
#
#   bench/profile.sh [SECONDS] [CONNECTIONS] [PATH]   -> writes $PROFILE_OUT (/tmp/gohap-cpu.pprof), prints top
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CONNS=${2:-50}
URLPATH=${3:-/}
. bench/lib.sh
GO_PORT=$(freeport)
PP_PORT=$(freeport)
build_gohap gohap_pprof
FE_PORT=$GO_PORT GOHAP_VARS="$out/vars" GOHAP_PPROF="127.0.0.1:$PP_PORT" "$out/gohap" -q -f bench/bench.cfg >"$out/gohap.log" 2>&1 &
wait_http "$GO_PORT" "$URLPATH"
wrk -t2 -c"$CONNS" -d"$((SECS + 4))s" "http://127.0.0.1:$GO_PORT$URLPATH" > "$out/wrk.txt" &
sleep 2
curl -s -o "${PROFILE_OUT:=/tmp/gohap-cpu.pprof}" "http://127.0.0.1:$PP_PORT/debug/pprof/profile?seconds=$SECS"
wait %2 2>/dev/null || true
grep -E 'Requests/sec' "$out/wrk.txt" || true
go tool pprof -top -nodecount=40 "$out/gohap" "$PROFILE_OUT" 2>/dev/null | head -50
