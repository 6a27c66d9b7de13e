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
ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null; rm -rf "$out"' EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export BE_PORT=$(freeport)
GO_PORT=$(freeport)
PP_PORT=$(freeport)
cat > "$out/nginx.conf" <<NGX
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$BE_PORT;
        location / { return 200 "hello from nginx\n"; }
    }
}
NGX
nginx -c "$out/nginx.conf"
if [ -n "${GOHAP_BIN:-}" ]; then cp "$GOHAP_BIN" "$out/gohap"; else go build -tags gohap_pprof -o "$out/gohap" .; fi
FE_PORT=$GO_PORT GOHAP_VARS="$out/vars" GOHAP_PPROF="127.0.0.1:$PP_PORT" "$out/gohap" -q -f bench/bench.cfg >"$out/gohap.log" 2>&1 &
for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$GO_PORT$URLPATH"; then break; fi
    sleep 0.1
done
wrk -t2 -c"$CONNS" -d"$((SECS + 4))s" "http://127.0.0.1:$GO_PORT$URLPATH" > "$out/wrk.txt" &
sleep 2
curl -s -o "${PROFILE_OUT:=/tmp/gohap-cpu.pprof}" "http://127.0.0.1:$PP_PORT/debug/pprof/profile?seconds=$SECS"
wait %2 2>/dev/null || true
grep -E 'Requests/sec' "$out/wrk.txt" || true
go tool pprof -top -nodecount=40 "$out/gohap" "$PROFILE_OUT" 2>/dev/null | head -50
