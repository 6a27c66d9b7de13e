# Shared setup of the bench scripts: sourced, not run.
#
# After sourcing: $out is a scratch directory removed on exit (with every
# background job and nginx stopped), BE_PORT is exported and nginx serves
# a short body on it, one worker, keep-alive without limit.

# What the benchmarks run, installed from Debian when missing.
need() { command -v "$1" >/dev/null 2>&1; }
if ! need haproxy || ! need nginx || ! need wrk; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq haproxy nginx-light wrk >/dev/null
fi

# haproxy needs two descriptors per connection of maxconn.
ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null; [ -n "${KEEP:-}" ] && cp "$out"/*.log /tmp/ ; rm -rf "$out"' EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export BE_PORT=$(freeport)
# /files/16k and /files/256k: larger bodies (sendfile) for PATH.
mkdir -p "$out/files"
chmod 755 "$out" "$out/files" # nginx's workers run unprivileged
head -c 16384 /dev/zero | tr '\0' x > "$out/files/16k"
head -c 262144 /dev/zero | tr '\0' x > "$out/files/256k"
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
        location /files/ { root $out; }
    }
}
NGX
nginx -c "$out/nginx.conf"

# wait_http PORT [PATH]: wait up to 10 s until PORT answers HTTP.
wait_http() {
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$1${2:-/}"; then return 0; fi
        sleep 0.1
    done
    return 1
}

# build_gohap [TAGS]: $out/gohap, from GOHAP_BIN (a prebuilt binary to
# measure) or built from this tree as README.md builds a release binary,
# with TAGS added.
build_gohap() {
    if [ -n "${GOHAP_BIN:-}" ]; then
        cp "$GOHAP_BIN" "$out/gohap"
    else
        CGO_ENABLED=0 go build -trimpath -tags "urfave_cli_no_docs${1:+,$1}" -o "$out/gohap" .
    fi
}

# start_proxies [PATH]: haproxy and gohap on bench/bench.cfg, in front of
# nginx; sets HA_PORT, GO_PORT, PID_haproxy and PID_gohap and waits until
# all three answer PATH. GOHAP_GOMAXPROCS, if set, is gohap's GOMAXPROCS.
start_proxies() {
    HA_PORT=$(freeport)
    GO_PORT=$(freeport)
    build_gohap
    FE_PORT=$HA_PORT haproxy -db -f bench/bench.cfg >"$out/haproxy.log" 2>&1 &
    PID_haproxy=$!
    FE_PORT=$GO_PORT GOHAP_VARS="$out/vars" env ${GOHAP_GOMAXPROCS:+GOMAXPROCS=$GOHAP_GOMAXPROCS} \
        "$out/gohap" -q -f bench/bench.cfg >"$out/gohap.log" 2>&1 &
    PID_gohap=$!
    local port
    for port in $BE_PORT $HA_PORT $GO_PORT; do
        wait_http "$port" "${1:-/}"
    done
}

# tree PID: PID and its descendants: gohap's worker processes are the
# leader's children, and their work counts as gohap's.
tree() {
    echo "$1"
    local c
    for c in $(pgrep -P "$1"); do tree "$c"; done
}

# cputicks PID: the user+system CPU time of a process and its
# descendants, in clock ticks.
cputicks() {
    local p t=0
    for p in $(tree "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# The measuring helpers of run.sh and compare.sh, which set CONNS, SECS
# and URLPATH first.

# ms converts wrk's latency ("850.00us", "1.23ms", "1.01s") to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'; }

measure() { # name port round -> appends "rps p50 p99 cpu_us_per_req" to $out/res.name
    local r pid t0 t1
    pid=PID_$1; pid=${!pid}
    t0=$(cputicks "$pid")
    # CLOSE=1: a new connection for every request.
    r=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency ${CLOSE:+-H "Connection: close"} "http://127.0.0.1:$2$URLPATH")
    t1=$(cputicks "$pid")
    local rps p50 p99 n cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$r")
    p50=$(ms "$(awk '$1=="50%" {print $2}' <<<"$r")")
    p99=$(ms "$(awk '$1=="99%" {print $2}' <<<"$r")")
    n=$(awk '/requests in/ {print $1}' <<<"$r")
    cpu=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    echo "$rps $p50 $p99 $cpu" >> "$out/res.$1"
    printf '%-10s round %s: %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu %6.2f us/req\n' "$1" "$3" "$rps" "$p50" "$p99" "$cpu"
}

# median of the numbers on stdin; col NAME N: the median of column N of
# NAME's results.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$out/res.$1" | median; }
