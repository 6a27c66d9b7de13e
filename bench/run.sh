#!/usr/bin/env bash
# Benchmark: gohap against haproxy 2.6 on the same machine, same config,
# same nginx backend, driven by wrk in alternating turns. Prints req/s and
# p50/p99 latency for each and the gohap/haproxy ratios. A benchmark, not
# a test: nothing here fails on the figures.
#
#   bench/run.sh [ROUNDS] [SECONDS] [CONNECTIONS] [PATH]
#   GOHAP_BIN=/path/to/gohap bench/run.sh ...   measure a prebuilt binary
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-50}
URLPATH=${4:-/}

. bench/lib.sh
start_proxies "$URLPATH"

wrk -t1 -c10 -d2s "http://127.0.0.1:$HA_PORT$URLPATH" >/dev/null
wrk -t1 -c10 -d2s "http://127.0.0.1:$GO_PORT$URLPATH" >/dev/null
for i in $(seq "$ROUNDS"); do
    measure haproxy "$HA_PORT" "$i"
    measure gohap "$GO_PORT" "$i"
done

ha_rps=$(col haproxy 1); go_rps=$(col gohap 1)
ha_p50=$(col haproxy 2); go_p50=$(col gohap 2)
ha_p99=$(col haproxy 3); go_p99=$(col gohap 3)
ha_cpu=$(col haproxy 4); go_cpu=$(col gohap 4)
echo
printf 'median of %s rounds, %ss each, %s connections, GET %s\n' "$ROUNDS" "$SECS" "$CONNS" "$URLPATH"
printf '%-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.2f us/req\n' haproxy "$ha_rps" "$ha_p50" "$ha_p99" "$ha_cpu"
printf '%-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.2f us/req\n' gohap "$go_rps" "$go_p50" "$go_p99" "$go_cpu"
awk -v a="$go_rps" -v b="$ha_rps" -v c="$go_p99" -v d="$ha_p99" 'BEGIN { printf "ratio gohap/haproxy: req/s %.2fx, p99 latency %.2fx\n", a/b, c/d }'
