#!/usr/bin/env bash
# Where the machine's CPU goes per request, with haproxy and with gohap in
# front of the same nginx, in alternating turns of wrk: the proxy's own
# CPU, nginx's, the rest (wrk, and kernel work charged to nobody) and the
# share of time the CPUs sat idle. A benchmark, not a test.
#
#   bench/cpu.sh [ROUNDS] [SECONDS] [CONNECTIONS] [PATH]
#   GOHAP_GOMAXPROCS=1 bench/cpu.sh ...   gohap with another GOMAXPROCS
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
SECS=${2:-8}
CONNS=${3:-50}
URLPATH=${4:-/}
. bench/lib.sh
start_proxies "$URLPATH"
nginx_pid=$(pgrep -P "$(cat "$out/nginx.pid")" | head -1)
# idle_total prints the machine's idle (incl. iowait) and total ticks.
idle_total() { awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK)
for round in $(seq "$ROUNDS"); do
    for name in haproxy gohap; do
        pid=PID_$name; pid=${!pid}
        port=$HA_PORT; [ "$name" = gohap ] && port=$GO_PORT
        p0=$(cputicks "$pid"); n0=$(cputicks "$nginx_pid"); read -r i0 t0 < <(idle_total)
        r=$(wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port$URLPATH")
        p1=$(cputicks "$pid"); n1=$(cputicks "$nginx_pid"); read -r i1 t1 < <(idle_total)
        n=$(awk '/requests in/ {print $1}' <<<"$r")
        awk -v n="$n" -v s="$SECS" -v hz="$hz" -v p=$((p1 - p0)) -v g=$((n1 - n0)) -v i=$((i1 - i0)) -v t=$((t1 - t0)) -v name="$name" 'BEGIN {
            u = 1e6 / hz / n
            printf "%-8s %7.0f req/s  us per request: proxy %5.2f  nginx %5.2f  rest %5.2f  idle %4.1f%%\n", name, n / s, p * u, g * u, (t - i - p - g) * u, 100 * i / t }'
    done
done
