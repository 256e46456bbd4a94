#!/usr/bin/env bash
# bench/tail_latency.sh - issue 20 goal 4: p50/p99/p99.9 latency at a fixed offered load, real
# Redis and redis-lite side by side, unpipelined, with 50 and with 1,000 connections.
#
# redis-benchmark is closed-loop (a connection sends its next request when the reply comes), so
# a server that stalls is sent fewer requests meanwhile and its percentiles hide the queueing.
# This script drives the servers with redis-lite-loadgen instead (crates/loadgen): requests go
# out at a fixed total rate on a Poisson schedule whatever the replies do, and each latency is
# counted from the request's intended send time.
#
#  1. Redis's closed-loop peak here: `redis-benchmark -c 50 -t set,get -d 16 -r KEYSPACE`, the
#     mean of its SET and GET requests per second (a few seconds each); PEAK=N skips this.
#  2. The offered load: FRACTION (0.5) of that peak, half SETs and half GETs of 16-byte values
#     over KEYSPACE keys.
#  3. ROUNDS rounds; in each, every server (the order rotated between rounds) is started, its
#     keyspace filled (redis-benchmark SETs, untimed), and the generator run against it at that
#     load with each of CONNECTIONS connections (WARMUP seconds unmeasured, then DURATION).
#  4. Medians over the rounds of p50/p99/p99.9 per server and connection count, and their
#     ratios to Redis (below 1: faster than Redis). A run whose generator fell behind its
#     schedule or was nearly saturated (its report's `generator_behind`) is counted in the
#     table's last column: its latencies include the generator's own delays.
#
# Usage:  bench/tail_latency.sh [LABEL=LITE_BINARY ...]
#         (default: lite=target/release/redis-lite-server, at its default loop count and with
#         --threads 1; THREADS picks the loop counts as in bench/lib.sh. Below four cores the
#         default is one loop, the same as --threads 1: THREADS="1 2" compares one and two)
# Knobs: ROUNDS [3], FRACTION [0.5], PEAK (requests/s; measured when unset), CONNECTIONS
#        ["50 1000"], DURATION [10], WARMUP [2], KEYSPACE [100000], PEAK_N [300000] (requests
#        per redis-benchmark test), LOADGEN [target/release/redis-lite-loadgen, built when
#        missing], PRIORITY (a nice value for this script and all it starts, servers and
#        generator alike: -5 keeps other work on a shared machine from starving them),
#        OUT=DIR (peak.txt, runs.jsonl: one report per run, raw.csv, summary.txt).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

rounds=${ROUNDS:-3}
fraction=${FRACTION:-0.5}
connection_counts=${CONNECTIONS:-50 1000}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
keyspace=${KEYSPACE:-100000}
loadgen=${LOADGEN:-$root/target/release/redis-lite-loadgen}
out=${OUT:-$(mktemp -d /tmp/tail-latency.XXXXXX)}
mkdir -p "$out"

if [[ -n ${PRIORITY:-} ]]; then renice -n "$PRIORITY" -p $$ >/dev/null; fi

if [[ ! -x $loadgen ]]; then
  (cd "$root" && cargo build --release -p redis-lite-loadgen)
fi

# Each server holds up to 1,000 client sockets, and the generator two descriptors per
# connection (a reader's and a writer's); every process started here inherits this limit.
most=0
for count in $connection_counts; do ((count > most)) && most=$count; done
needed=$((2 * most + 256))
if (($(ulimit -n) < needed)); then
  ulimit -n "$needed" 2>/dev/null || {
    echo "tail_latency.sh: needs ulimit -n $needed for $most connections (hard limit $(ulimit -Hn))" >&2
    exit 1
  }
fi

scratch_and_cleanup
port=$(free_port 18150)

collect_columns "$@"
[[ -n ${command_of[redis]:-} ]] || { echo "tail_latency.sh: needs redis-server (the baseline)" >&2; exit 1; }

stop_server() {
  shutdown_server "$port" "$server_pid"
  server_pid=
}

# Closed-loop requests per second of one redis-benchmark test against the running server.
closed_loop_rate() { # test
  redis-benchmark -p "$port" -c 50 -d 16 -r "$keyspace" -n "${PEAK_N:-300000}" -t "$1" --csv 2>/dev/null |
    awk -F'","' 'NR > 1 {print $2}'
}

if [[ -n ${PEAK:-} ]]; then
  peak=$PEAK
  echo "peak (given): $peak requests/s" | tee "$out/peak.txt"
else
  start_column redis
  set_rate=$(closed_loop_rate set)
  get_rate=$(closed_loop_rate get)
  stop_server
  peak=$(echo "($set_rate + $get_rate) / 2" | bc -l)
  printf 'Redis closed-loop peak (redis-benchmark -c 50): SET %.0f, GET %.0f, mean %.0f requests/s\n' \
    "$set_rate" "$get_rate" "$peak" | tee "$out/peak.txt"
fi
rate=$(printf '%.0f' "$(echo "$peak * $fraction" | bc -l)")
echo "offered load: $rate requests/s ($fraction of the peak), SET:GET 1:1" | tee -a "$out/peak.txt"

runs=$out/runs.jsonl
raw=$out/raw.csv
: >"$runs"
echo "round,column,connections,sent_rate,reply_rate,errors,p50_ms,p90_ms,p99_ms,p99_9_ms,p99_99_ms,max_ms,send_lag_p99_ms,generator_cpu,generator_behind,busiest_thread_cpu" >"$raw"

run_column() { # round column
  local round=$1 column=$2 connections report
  start_column "$column"
  redis-benchmark -p "$port" -c 50 -d 16 -r "$keyspace" -n $((3 * keyspace)) -t set -q >/dev/null 2>&1
  for connections in $connection_counts; do
    report=$("$loadgen" -p "$port" -c "$connections" --rate "$rate" --ratio 1:1 -d 16 \
      -r "$keyspace" --duration "$duration" --warmup "$warmup" --seed "$((round + 1))" --json)
    echo "$report" >>"$runs"
    python3 -c '
import json, sys
r = json.loads(sys.argv[3])
l, lag = r["latency"], r["send_lag"]
print(",".join(str(v) for v in [sys.argv[1], sys.argv[2], r["connections"], r["sent_rate"],
      r["reply_rate"], r["errors"], l["p50_ms"], l["p90_ms"], l["p99_ms"], l["p99_9_ms"],
      l["p99_99_ms"], l["max_ms"], lag["p99_ms"], r["generator_cpu"],
      int(r["generator_behind"]), r["busiest_thread_cpu"]]))' "$round" "$column" "$report" >>"$raw"
    printf 'round %d %-10s -c %-5d p50 %s p99 %s p99.9 %s ms\n' "$round" "$column" "$connections" \
      "$(tail -1 "$raw" | cut -d, -f7)" "$(tail -1 "$raw" | cut -d, -f9)" "$(tail -1 "$raw" | cut -d, -f10)"
  done
  stop_server
}

rotate_rounds "$rounds" run_column

# The median over the rounds of one field (a raw.csv column number) for a server and count.
field_median() { # column connections field_number
  awk -F, -v c="$1" -v n="$2" -v f="$3" '$2 == c && $3 == n {print $f}' "$raw" | median
}
flagged() { # column connections: runs whose generator fell behind, and runs with errors
  awk -F, -v c="$1" -v n="$2" '$2 == c && $3 == n {b += $15; e += ($6 > 0)} END {printf "%d/%d", b, e}' "$raw"
}
{
  echo "offered load $rate requests/s ($fraction of Redis's closed-loop peak $(printf '%.0f' "$peak")), $rounds rounds, medians (ms); ratios to ${columns[0]}"
  for connections in $connection_counts; do
    printf '\n-c %s\n%-12s %9s %9s %9s %7s %7s %7s %12s\n' "$connections" server p50 p99 p99.9 \
      "p50 x" "p99 x" "p99.9 x" "behind/errors"
    base50=$(field_median "${columns[0]}" "$connections" 7)
    base99=$(field_median "${columns[0]}" "$connections" 9)
    base999=$(field_median "${columns[0]}" "$connections" 10)
    for column in "${columns[@]}"; do
      p50=$(field_median "$column" "$connections" 7)
      p99=$(field_median "$column" "$connections" 9)
      p999=$(field_median "$column" "$connections" 10)
      printf '%-12s %9.3f %9.3f %9.3f %7.2f %7.2f %7.2f %12s\n' "$column" "$p50" "$p99" "$p999" \
        "$(echo "$p50 / $base50" | bc -l)" "$(echo "$p99 / $base99" | bc -l)" \
        "$(echo "$p999 / $base999" | bc -l)" "$(flagged "$column" "$connections")"
    done
  done
} | tee "$out/summary.txt"
echo "raw results: $out"
