#!/usr/bin/env bash
# bench/observability.sh - the cost of the slow log and latency tracking on the hot path.
#
# Usage:  [N=requests] [SERVER_ARGS="--threads 1"] bench/observability.sh [ROUNDS]
#         (3 rounds of 2000000 requests by default; needs target/release built)
#
# Starts two redis-lite servers from the same release binary: "on" with the defaults
# (slowlog-log-slower-than 10000, latency-tracking yes) and "off" with both disabled
# (slowlog-log-slower-than -1, latency-tracking no). Each round runs, for SET and GET,
#   redis-benchmark -p PORT -c 50 -P 16 -n N -t set|get -r 100000 -q
# against each server in turn (the order alternates between rounds), and records requests/s
# and the server's CPU time per request (utime+stime from /proc, in ns), which a busy shared
# machine disturbs less than throughput. Prints every run, then the medians and on/off ratios.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/redis-lite-server
[[ -x $bin ]] || { echo "build first: cargo build --release" >&2; exit 1; }
rounds=${1:-3}
requests=${N:-2000000}
tick=$(getconf CLK_TCK)


declare -A port pid
port[on]=$(free_port 17400)
"$bin" --port "${port[on]}" --save '' ${SERVER_ARGS:-} >/dev/null 2>&1 &
pid[on]=$!
port[off]=$(free_port $((port[on] + 1)))
"$bin" --port "${port[off]}" --save '' ${SERVER_ARGS:-} --slowlog-log-slower-than -1 --latency-tracking no >/dev/null 2>&1 &
pid[off]=$!
trap 'kill "${pid[on]}" "${pid[off]}" 2>/dev/null || true' EXIT
for mode in on off; do
  until redis-cli -p "${port[$mode]}" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

results=$(mktemp)
for round in $(seq "$rounds"); do
  order="on off"
  (( round % 2 == 0 )) && order="off on"
  for test in set get; do
    for mode in $order; do
      before=$(cpu_ticks "${pid[$mode]}")
      rps=$(redis-benchmark -p "${port[$mode]}" -c 50 -P 16 -n "$requests" -t "$test" -r 100000 -q \
        | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1)
      after=$(cpu_ticks "${pid[$mode]}")
      ns=$(( (after - before) * 1000000000 / tick / requests ))
      echo "round $round $test $mode $rps req/s, $ns ns CPU/request" >&2
      echo "$test $mode $rps $ns" >>"$results"
    done
  done
done

for test in set get; do
  for mode in on off; do
    rps=$(awk -v t="$test" -v m="$mode" '$1==t && $2==m {print $3}' "$results" | median)
    ns=$(awk -v t="$test" -v m="$mode" '$1==t && $2==m {print $4}' "$results" | median)
    printf '%s %-3s median %10.0f req/s  %5.0f ns CPU/request\n' "$test" "$mode" "$rps" "$ns"
    eval "${test}_${mode}_rps=$rps ${test}_${mode}_ns=$ns"
  done
  on_rps=${test}_on_rps off_rps=${test}_off_rps on_ns=${test}_on_ns off_ns=${test}_off_ns
  awk -v a="${!on_rps}" -v b="${!off_rps}" -v c="${!on_ns}" -v d="${!off_ns}" -v t="$test" \
    'BEGIN {printf "%s on/off: throughput %.3f, CPU per request %.3f\n", t, a / b, c / d}'
done
rm -f "$results"
