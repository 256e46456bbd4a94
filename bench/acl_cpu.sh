#!/usr/bin/env bash
# bench/acl_cpu.sh - server CPU time per request and throughput, without ACLs and with them
# (the default user: the permission check's fast path), side by side.
#
# Usage:  [N=requests] bench/acl_cpu.sh BEFORE_BINARY AFTER_BINARY [ROUNDS]
#
# Starts both binaries (--threads 1); each round runs, for SET and GET,
#   redis-benchmark -p PORT -c 50 -P 16 -n N -t set|get -r 100000 -q
# against each in turn (the order alternates between rounds) and records requests/s and the
# server's CPU time per request (utime+stime from /proc, in ns). Prints every run and the
# medians.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

before=$1
after=$2
rounds=${3:-3}
requests=${N:-1000000}
tick=$(getconf CLK_TCK)


declare -A port pid
port[before]=$(free_port 17800)
port[after]=$(free_port $((port[before] + 1)))
"$before" --port "${port[before]}" --save '' --threads 1 >/dev/null 2>&1 &
pid[before]=$!
"$after" --port "${port[after]}" --save '' --threads 1 >/dev/null 2>&1 &
pid[after]=$!
trap 'kill "${pid[before]}" "${pid[after]}" 2>/dev/null || true' EXIT
for side in before after; do
  until redis-cli -p "${port[$side]}" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A results
for ((round = 0; round < rounds; round++)); do
  order=(before after)
  ((round % 2)) && order=(after before)
  for test in set get; do
    for side in "${order[@]}"; do
      start=$(cpu_ticks "${pid[$side]}")
      rps=$(redis-benchmark -p "${port[$side]}" -c 50 -P 16 -n "$requests" -t "$test" -r 100000 -q |
        tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1)
      end=$(cpu_ticks "${pid[$side]}")
      ns=$(( (end - start) * 1000000000 / tick / requests ))
      echo "round $round $test $side: $rps req/s, $ns ns CPU/request"
      results[$test.$side]+="$rps $ns;"
    done
  done
done

for test in set get; do
  for side in before after; do
    rps=$(echo "${results[$test.$side]}" | tr ';' '\n' | awk 'NF {print $1}' | median)
    ns=$(echo "${results[$test.$side]}" | tr ';' '\n' | awk 'NF {print $2}' | median)
    echo "median $test $side: $rps req/s, $ns ns CPU/request"
  done
done
