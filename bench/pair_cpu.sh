#!/usr/bin/env bash
# bench/pair_cpu.sh - two builds (or Redis and a build) compared in server CPU per request, in
# pairs: both servers run at once on their own ports, and each round runs the same
# redis-benchmark against one and then the other (the order alternating), so a slow spell of a
# shared machine hits both halves of a pair. Prints, per test, every pair's ratio of B's
# requests per CPU-second to A's, sorted, and their median (above 1: B spends less CPU).
#
# Usage:  bench/pair_cpu.sh A_BINARY B_BINARY
# Knobs:  TESTS ["get"] (redis-benchmark -t names), SHAPE ["p16"; "c50" for unpipelined],
#         N [300000] requests a run, R [100000] keyspace (-r), ROUNDS [12].
# The server CPU is utime+stime from /proc/PID/stat (10 ms ticks): size N for a second or more.
set -euo pipefail
a=$1 b=$2
shape=${SHAPE:-p16} n=${N:-300000} rounds=${ROUNDS:-12} keys=${R:-100000}
"$a" --port 7121 --save '' --appendonly no >/dev/null 2>&1 &
pid_a=$!
"$b" --port 7122 --save '' --appendonly no >/dev/null 2>&1 &
pid_b=$!
trap 'kill $pid_a $pid_b 2>/dev/null; wait 2>/dev/null' EXIT
sleep 0.7
pipeline=()
[[ $shape == p16 ]] && pipeline=(-P 16)
run() { # port pid test: prints the server's CPU ticks for one run
  local before
  before=$(awk '{print $14 + $15}' "/proc/$2/stat")
  redis-benchmark -p "$1" -c 50 "${pipeline[@]}" -d 16 -r "$keys" -n "$n" -t "$3" >/dev/null 2>&1
  echo $(($(awk '{print $14 + $15}' "/proc/$2/stat") - before))
}
for test in ${TESTS:-get}; do
  run 7121 $pid_a "$test" >/dev/null
  run 7122 $pid_b "$test" >/dev/null
  ratios=()
  for round in $(seq "$rounds"); do
    if ((round % 2)); then
      cpu_a=$(run 7121 $pid_a "$test")
      cpu_b=$(run 7122 $pid_b "$test")
    else
      cpu_b=$(run 7122 $pid_b "$test")
      cpu_a=$(run 7121 $pid_a "$test")
    fi
    ratios+=("$(echo "scale=3; $cpu_a / $cpu_b" | bc)")
  done
  sorted=$(printf '%s\n' "${ratios[@]}" | sort -n)
  median=$(echo "$sorted" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  echo "$test $shape -r $keys: B/A requests per CPU-second by pair: $(echo "$sorted" | tr '\n' ' ') median $median"
done
