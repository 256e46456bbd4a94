#!/usr/bin/env bash
# bench/large_values.sh - issue 20 goal 5: large values (SET/GET of 1 KB, 10 KB, 100 KB) and
# MSET/MGET of 100 keys spread over the keyspace (so over many shards), redis-lite against
# real Redis, side by side.
#
# Usage:  bench/large_values.sh [MODE] [LITE_BINARY]
#   MODE         throughput (default): redis-benchmark -c 50, ROUNDS rounds alternating the
#                  servers, medians of requests per second
#                instructions: instructions per request in user space, counted by callgrind
#                  (exact, where times on a shared machine are noise): each server is run
#                  twice per workload with N and 5N requests, and the difference over 4N
#                  requests cancels start-up and connection set-up
#                syscalls: system calls per request (strace -c -f over 5N requests, minus the
#                  same over N)
#                switches: context switches, futex and sched_yield calls and CPU time per
#                  request (perf stat on the server's threads while N requests run, after the
#                  preload; the CPU time is noise on a loaded machine, the counts are not)
#   LITE_BINARY  redis-lite-server [target/release/redis-lite-server]
#
# Both servers run with their default threads, no persistence. Each workload:
#   set-1k get-1k     SET/GET -d 1024   over  20,000 keys
#   set-10k get-10k   SET/GET -d 10240  over   5,000 keys
#   set-100k get-100k SET/GET -d 102400 over     500 keys
#   mset-100          MSET of 100 keys chosen at random among 100,000 (16-byte values)
#   mget-100          MGET of 100 keys chosen at random among 100,000 (after mset-100)
# Knobs: ROUNDS [3], ONLY=name,name (workloads), CLIENTS [50], BASE_PORT (first port tried) [17800],
# LITE_ARGS (more arguments for redis-lite, e.g. "--threads 1").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=${1:-throughput}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lite=${2:-$root/target/release/redis-lite-server}
redis=$(command -v redis-server)
[[ -x $lite ]] || { echo "large_values.sh: no redis-lite-server at $lite" >&2; exit 1; }
rounds=${ROUNDS:-3}
clients=${CLIENTS:-50}
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port "${BASE_PORT:-17800}")

# The 100 arguments of MSET/MGET: redis-benchmark draws each __rand_int__ on its own.
mset_args=() mget_args=()
for _ in $(seq 100); do
  mset_args+=(key:__rand_int__ vvvvvvvvvvvvvvvv)
  mget_args+=(key:__rand_int__)
done

# name -> requests at N (throughput and the small count of the difference methods)
declare -A requests=([set-1k]=40000 [get-1k]=40000 [set-10k]=20000 [get-10k]=20000
  [set-100k]=4000 [get-100k]=4000 [mset-100]=4000 [mget-100]=4000)
workloads=(set-1k get-1k set-10k get-10k set-100k get-100k mset-100 mget-100)
if [[ -n ${ONLY:-} ]]; then IFS=, read -r -a workloads <<<"$ONLY"; fi

benchmark() { # workload requests
  local common=(-p "$port" -c "$clients" -n "$2" -q)
  case $1 in
    set-1k) redis-benchmark "${common[@]}" -t set -d 1024 -r 20000 ;;
    get-1k) redis-benchmark "${common[@]}" -t get -d 1024 -r 20000 ;;
    set-10k) redis-benchmark "${common[@]}" -t set -d 10240 -r 5000 ;;
    get-10k) redis-benchmark "${common[@]}" -t get -d 10240 -r 5000 ;;
    set-100k) redis-benchmark "${common[@]}" -t set -d 102400 -r 500 ;;
    get-100k) redis-benchmark "${common[@]}" -t get -d 102400 -r 500 ;;
    mset-100) redis-benchmark "${common[@]}" -r 100000 MSET "${mset_args[@]}" ;;
    mget-100) redis-benchmark "${common[@]}" -r 100000 MGET "${mget_args[@]}" ;;
  esac 2>&1 | tr '\r' '\n' |
    awk '/requests per second/ {for (i = 2; i <= NF; i++) if ($i == "requests") rps = $(i - 1)}
         END {print rps}'
}

# Fills most of the keys a GET workload reads (the SET of the same size, untimed): three
# random draws per key leave about 5% of them missing.
preload() { # workload
  case $1 in
    get-1k) benchmark set-1k 60000 >/dev/null ;;
    get-10k) benchmark set-10k 15000 >/dev/null ;;
    get-100k) benchmark set-100k 1500 >/dev/null ;;
    mget-100) benchmark mset-100 3000 >/dev/null ;;
  esac
}

start() { # server [wrapper...]
  local which=$1
  shift
  if [[ $which == redis ]]; then
    "$@" "$redis" --port "$port" --save '' --appendonly no --dir "$work" >/dev/null 2>&1 &
  else
    # shellcheck disable=SC2086 # LITE_ARGS is a list of words
    "$@" "$lite" --port "$port" --save '' --dir "$work" ${LITE_ARGS:-} >/dev/null 2>&1 &
  fi
  server_pid=$!
  wait_for_ping "$port" "$server_pid" || exit 1
}

stop() {
  shutdown_server "$port" "$server_pid"
  server_pid=
}

throughput() {
  echo "workload      redis rps   lite rps   lite/redis   (median of $rounds rounds, -c $clients)"
  for w in "${workloads[@]}"; do
    : >"$work/redis.$w"
    : >"$work/lite.$w"
    for round in $(seq "$rounds"); do
      # The order alternates every round, so neither server always runs on a warmer machine.
      local order=(redis lite)
      ((round % 2 == 0)) && order=(lite redis)
      for s in "${order[@]}"; do
        start "$s"
        preload "$w"
        benchmark "$w" "${requests[$w]}" >>"$work/$s.$w"
        stop
      done
    done
    local r l
    r=$(median <"$work/redis.$w")
    l=$(median <"$work/lite.$w")
    awk -v w="$w" -v r="$r" -v l="$l" -v rs="$(sort -g "$work/redis.$w" | tr '\n' ' ')" \
      -v ls="$(sort -g "$work/lite.$w" | tr '\n' ' ')" \
      'BEGIN {printf "%-12s %10.0f %10.0f %10.2fx   redis [%s] lite [%s]\n", w, r, l, l / r, rs, ls}'
  done
}

# Instructions (callgrind totals) of one server run of `workload` with `n` requests.
instructions_run() { # server workload n
  rm -f "$work"/cg.*
  start "$1" valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p"
  preload "$2"
  benchmark "$2" "$3" >/dev/null
  stop
  awk '/^totals:/ {s += $2} END {print s}' "$work"/cg.*
}

# System calls (strace -c -f, all threads) of one server run.
syscalls_run() { # server workload n
  start "$1" strace -c -f -o "$work/strace"
  preload "$2"
  benchmark "$2" "$3" >/dev/null
  stop
  awk '$NF == "total" {print $(NF-2)}' "$work/strace"
}

difference() { # counter
  local counter=$1
  echo "workload      redis/request   lite/request   lite/redis   ($mode; difference of 5N and N requests)"
  for w in "${workloads[@]}"; do
    local n=$((requests[$w] / 4)) r l
    r=$(($($counter redis "$w" $((5 * n))) - $($counter redis "$w" "$n")))
    l=$(($($counter lite "$w" $((5 * n))) - $($counter lite "$w" "$n")))
    awk -v w="$w" -v r="$r" -v l="$l" -v n="$((4 * n))" \
      'BEGIN {printf "%-12s %14.1f %14.1f %10.2fx\n", w, r / n, l / n, l / r}'
  done
}

# Context switches, futex and sched_yield calls of the server's threads, per request, while
# the timed requests run (start-up and the preload are left out).
switches() {
  echo "workload    server  switches/req  futex/req  sched_yield/req  cpu-us/req   (perf stat, N requests)"
  for w in "${workloads[@]}"; do
    for s in redis lite; do
      start "$s"
      preload "$w"
      perf stat -x, -o "$work/perf" -p "$server_pid" \
        -e task-clock,context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield &
      local perf_pid=$!
      sleep 0.5 # perf attaches
      benchmark "$w" "${requests[$w]}" >/dev/null
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
      stop
      awk -F, -v w="$w" -v s="$s" -v n="${requests[$w]}" \
        '$3 == "task-clock" {t = $1} $3 == "context-switches" {c = $1}
         $3 ~ /futex/ {f = $1} $3 ~ /sched_yield/ {y = $1}
         END {printf "%-11s %-6s %12.2f %10.2f %16.3f %11.1f\n", w, s, c / n, f / n, y / n, t * 1000 / n}' "$work/perf"
    done
  done
}

case $mode in
  throughput) throughput ;;
  switches) switches ;;
  instructions) difference instructions_run ;;
  syscalls) difference syscalls_run ;;
  *) echo "large_values.sh: unknown mode $mode (throughput, instructions, syscalls, switches)" >&2; exit 1 ;;
esac
