#!/usr/bin/env bash
# bench/row_throughput.sh - issue 20 goal 2's table measured in time: for every row (-c 50 and
# -c 50 -P 16 of SET, GET, INCR, LPUSH, LRANGE 100, LPOP, SADD, HSET, ZADD, MSET of 10 keys) the
# requests per second and the requests per server CPU-second of real Redis and redis-lite, run
# side by side: every round starts each server once (the order rotated between rounds) and runs
# every row against it, so background load hits all servers alike. Medians over the rounds.
#
# Usage:  bench/row_throughput.sh [LABEL=LITE_BINARY ...]
#         (default: lite=target/release/redis-lite-server, at its default loop count and with
#         --threads 1; THREADS picks the loop counts as in bench/lib.sh)
#
# Each row is one `redis-benchmark -c 50 [-P 16] -d 16 -r 100000 -t TEST -n N` (LRANGE 100 runs
# `LRANGE mylist 0 99` on the list the LPUSH row filled, as bench/row_instructions.sh does); the
# server's CPU is its utime+stime from /proc/PID/stat around the run (10 ms ticks: N is sized
# so that a run takes seconds). On a 2-core machine redis-benchmark shares the cores with the
# server, so requests per second mostly shows the client's limit; requests per server
# CPU-second is the goal's measure.
#
# Knobs: ROUNDS [3], C50_N [150000], P16_N [1500000], TESTS (space-separated subset),
#        SHAPES ["c50 p16"], OUT=DIR (raw.csv: round,column,shape,test,rps,cpu_seconds).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

rounds=${ROUNDS:-3}
tests=${TESTS:-set get incr lpush lrange_100 lpop sadd hset zadd mset}
shapes=${SHAPES:-c50 p16}
out=${OUT:-$(mktemp -d /tmp/row-throughput.XXXXXX)}
mkdir -p "$out"
raw=$out/raw.csv
echo "round,column,shape,test,rps,cpu_seconds" >"$raw"

scratch_and_cleanup
port=$(free_port 17950)
ticks_per_second=$(getconf CLK_TCK)

benchmark() { # shape test requests: prints requests per second
  local pipeline=() command=(-t "$2")
  [[ $1 == p16 ]] && pipeline=(-P 16)
  [[ $2 == lrange_100 ]] && command=(lrange mylist 0 99)
  redis-benchmark -p "$port" -c 50 "${pipeline[@]}" -d 16 -r 100000 -n "$3" --csv "${command[@]}" 2>/dev/null |
    awk -F'","' 'NR > 1 {print $2}'
}

# The columns are collected once, then every round runs them in a rotated order.
collect_columns "$@"

run_column() { # round column
  local round=$1 column=$2 shape test requests before after rps
  start_column "$column"
  for shape in $shapes; do
    for test in $tests; do
      if [[ $shape == c50 ]]; then requests=${C50_N:-150000}; else requests=${P16_N:-1500000}; fi
      before=$(cpu_ticks "$server_pid")
      rps=$(benchmark "$shape" "$test" "$requests")
      after=$(cpu_ticks "$server_pid")
      echo "$round,$column,$shape,$test,$rps,$(echo "($after - $before) / $ticks_per_second" | bc -l)" >>"$raw"
    done
  done
  shutdown_server "$port" "$server_pid"
  server_pid=
}

rotate_rounds "$rounds" run_column

# Medians per column and row; ratios to the first column (redis). awk's numbers are printed
# with a fixed format: its default (%.6g) writes large ones as 1.5e+06, which bc cannot read. A
# run too short for one CPU tick counts as one tick.
value() { # column shape test field(rps|per_cpu)
  awk -F, -v c="$1" -v s="$2" -v t="$3" -v f="$4" -v n="$requests_c50" -v p="$requests_p16" '
    $2 == c && $3 == s && $4 == t {
      if (f == "rps") printf "%.2f\n", $5
      else printf "%.2f\n", (s == "c50" ? n : p) / ($6 > 0 ? $6 : 0.01)
    }' "$raw" | median | awk '{printf "%.2f\n", $1}'
}
requests_c50=${C50_N:-150000}
requests_p16=${P16_N:-1500000}
{
  printf '%-16s' "row"
  for column in "${columns[@]}"; do printf ' %22s' "$column"; done
  echo "   (requests/s | thousand requests per server CPU-second; ratios to ${columns[0]})"
  for shape in $shapes; do
    for test in $tests; do
      printf '%-16s' "$shape $test"
      base_rps=$(value "${columns[0]}" "$shape" "$test" rps)
      base_cpu=$(value "${columns[0]}" "$shape" "$test" per_cpu)
      for column in "${columns[@]}"; do
        rps=$(value "$column" "$shape" "$test" rps)
        cpu=$(value "$column" "$shape" "$test" per_cpu)
        if [[ $column == "${columns[0]}" ]]; then
          printf ' %10.0f | %9.1f' "$rps" "$(echo "$cpu / 1000" | bc -l)"
        else
          printf ' %5.2fx | %6.1f %5.2fx' "$(echo "$rps / $base_rps" | bc -l)" \
            "$(echo "$cpu / 1000" | bc -l)" "$(echo "$cpu / $base_cpu" | bc -l)"
        fi
      done
      echo
    done
  done
} | tee "$out/summary.txt"
echo "raw results: $raw"
