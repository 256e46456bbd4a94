#!/usr/bin/env bash
# bench/row_instructions.sh - user-space instructions per request, row by row, for real Redis and
# redis-lite (--threads 1 and the default loops), counted by callgrind: exact and repeatable on a
# shared machine where times are noise.
#
# Usage:  bench/row_instructions.sh [LABEL=LITE_BINARY ...]
#         (default: lite=target/release/redis-lite-server; several binaries compare builds)
#
# Each server runs once under callgrind; for every row (-c 50 and -c 50 -P 16 of SET, GET, INCR,
# LPUSH, LRANGE 100, LPOP, SADD, HSET, ZADD, MSET of 10 keys) it runs
#   redis-benchmark -c 50 [-P 16] -d 16 -r 100000 -t TEST -n SMALL, then -n LARGE
# dumping callgrind's counters after each; (LARGE's total - SMALL's total) / (LARGE - SMALL) is
# the instructions per request with the connection set-up cancelled out. LRANGE 100 runs as the
# command `LRANGE mylist 0 99` on the list the LPUSH row filled (redis-benchmark's own
# lrange_100 test would LPUSH first and count both); LPOP then drains it.
# Time-driven work (the cron, at hz 10) is counted too, and the servers run about 50 times slower
# under callgrind, so it weighs more than at full speed: compare rows, not small differences.
#
# Knobs: C50_N="SMALL LARGE" [5000 25000], P16_N [40000 200000], TESTS (space-separated subset),
#        SHAPES ["c50 p16"], KEEP=DIR (keeps each row's LARGE dump as DIR/LABEL.SHAPE.TEST.cg for
#        callgrind_annotate), THREADS ["1 default"] (which loop counts of redis-lite to run; empty:
#        Redis alone), REDIS [redis-server on PATH] (empty: redis-lite alone, no ratios).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

read -r c50_small c50_large <<<"${C50_N:-5000 25000}"
read -r p16_small p16_large <<<"${P16_N:-40000 200000}"
tests=${TESTS:-set get incr lpush lrange_100 lpop sadd hset zadd mset}
shapes=${SHAPES:-c50 p16}
keep=${KEEP:-}
[[ -n $keep ]] && mkdir -p "$keep"


scratch_and_cleanup
port=$(free_port 17900)

benchmark() { # shape test requests
  local pipeline=() command=(-t "$2")
  [[ $1 == p16 ]] && pipeline=(-P 16)
  [[ $2 == lrange_100 ]] && command=(lrange mylist 0 99)
  redis-benchmark -p "$port" -c 50 "${pipeline[@]}" -d 16 -r 100000 -n "$3" -q "${command[@]}" >/dev/null 2>&1
}

declare -A per_request
measure() { # column command...
  local column=$1
  shift
  valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$work/cg.%p" "$@" --port "$port" --save '' \
    --appendonly no >/dev/null 2>&1 &
  server_pid=$!
  wait_for_ping "$port" "$server_pid"
  local shape test small large small_total large_total
  for shape in $shapes; do
    if [[ $shape == c50 ]]; then small=$c50_small large=$c50_large; else small=$p16_small large=$p16_large; fi
    for test in $tests; do
      callgrind_dump "$server_pid" "$work/cg" >/dev/null # starts the count afresh
      benchmark "$shape" "$test" "$small"
      small_total=$(callgrind_dump "$server_pid" "$work/cg")
      benchmark "$shape" "$test" "$large"
      large_total=$(callgrind_dump "$server_pid" "$work/cg")
      [[ -n $keep ]] && cp "$(ls -t "$work/cg.$server_pid".* | head -1)" "$keep/$column.$shape.$test.cg"
      per_request[$column.$shape.$test]=$(((large_total - small_total) / (large - small)))
    done
  done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  rm -f "$work"/cg.*
}

measure_servers measure "$@"

printf '%-16s' "row"
for column in "${columns[@]}"; do printf ' %14s' "$column"; done
echo "   (user-space instructions per request; ratio to redis)"
for shape in $shapes; do
  for test in $tests; do
    printf '%-16s' "$shape $test"
    redis_count=${per_request[redis.$shape.$test]:-}
    for column in "${columns[@]}"; do
      count=${per_request[$column.$shape.$test]}
      if [[ $column == redis || -z $redis_count ]]; then
        printf ' %14d' "$count"
      else
        printf ' %7d %5.2fx' "$count" "$(echo "$count / $redis_count" | bc -l)"
      fi
    done
    echo
  done
done
