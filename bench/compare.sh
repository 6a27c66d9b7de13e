#!/usr/bin/env bash
# Compare gohap builds with each other and with haproxy 2.6 in one run:
# each binary runs bench/bench.cfg in front of the same nginx, and wrk
# drives haproxy and each build in alternating turns, so that the
# machine's drift (often ±20% between rounds here) falls on all of them
# alike. Prints each round, then each one's medians and its ratios to
# haproxy. A benchmark, not a test.
#
#   bench/compare.sh ROUNDS SECONDS CONNECTIONS NAME=BINARY...
#   e.g. bench/compare.sh 3 6 50 main=/tmp/gohap-main new=/tmp/gohap-new
# NAME: letters, digits and underscores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ]; then
    echo "usage: bench/compare.sh ROUNDS SECONDS CONNECTIONS NAME=BINARY..." >&2
    exit 2
fi
for spec in "${@:4}"; do
    if ! [[ ${spec%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ "${spec%%=*}" = "$spec" ]; then
        echo "bench/compare.sh: $spec: want NAME=BINARY, NAME of letters, digits and _" >&2
        exit 2
    fi
done
ROUNDS=$1 SECS=$2 CONNS=$3
shift 3
URLPATH=${URLPATH:-/} # URLPATH=/files/16k: another path
. bench/lib.sh

names=(haproxy)
declare -A PORT
PORT[haproxy]=$(freeport)
FE_PORT=${PORT[haproxy]} haproxy -db -f bench/bench.cfg >"$out/haproxy.log" 2>&1 &
PID_haproxy=$!
for spec in "$@"; do
    n=${spec%%=*}
    names+=("$n")
    PORT[$n]=$(freeport)
    FE_PORT=${PORT[$n]} GOHAP_VARS="$out/vars.$n" "${spec#*=}" -q -f bench/bench.cfg >"$out/$n.log" 2>&1 &
    printf -v "PID_$n" '%s' $!
done
for n in "${names[@]}"; do
    wait_http "${PORT[$n]}"
    wrk -t1 -c10 -d2s "http://127.0.0.1:${PORT[$n]}/" >/dev/null
done
for i in $(seq "$ROUNDS"); do
    for n in "${names[@]}"; do
        measure "$n" "${PORT[$n]}" "$i"
    done
done

echo
printf 'median of %s rounds, %ss each, %s connections\n' "$ROUNDS" "$SECS" "$CONNS"
ha_rps=$(col haproxy 1) ha_p99=$(col haproxy 3)
for n in "${names[@]}"; do
    printf '%-10s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.2f us/req' "$n" "$(col "$n" 1)" "$(col "$n" 2)" "$(col "$n" 3)" "$(col "$n" 4)"
    awk -v a="$(col "$n" 1)" -v b="$ha_rps" -v c="$(col "$n" 3)" -v d="$ha_p99" 'BEGIN { printf "   vs haproxy: req/s %.2fx, p99 %.2fx\n", a/b, c/d }'
done
