#!/usr/bin/env bash
# bench/loop_wakeups.sh - system calls, context switches and wake-ups per request at -c 50, for
# real Redis and redis-lite (--threads 1 and the default loops): counts, which a loaded machine
# does not distort the way it distorts times (perf's software counters and syscall tracepoints,
# on the server's threads while redis-benchmark runs; the client's own context switches too).
#
# Usage:  bench/loop_wakeups.sh [LABEL=LITE_BINARY ...]   (default: lite=target/release/redis-lite-server)
# Knobs:  N [200000] requests per test, TESTS ["get set"], ROUNDS [3] (the median is printed),
#         THREADS ["1 default"].
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

requests=${N:-200000}
tests=${TESTS:-get set}
rounds=${ROUNDS:-3}
events=context-switches,cpu-migrations,sched:sched_wakeup
for call in epoll_wait epoll_pwait recvfrom sendto read write futex sched_yield; do
  events+=,syscalls:sys_enter_$call
done


scratch_and_cleanup
port=$(free_port 18100)

declare -A counts
measure() { # column command...
  local column=$1
  shift
  local round test
  for round in $(seq "$rounds"); do
    "$@" --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
    server_pid=$!
    wait_for_ping "$port" "$server_pid"
    for test in $tests; do
      perf stat -x, -e "$events" -p "$server_pid" -o "$work/server.txt" &
      local perf_pid=$!
      sleep 0.5 # perf attaches
      perf stat -x, -e context-switches -o "$work/client.txt" \
        redis-benchmark -p "$port" -c 50 -d 16 -r 100000 -t "$test" -n "$requests" -q >/dev/null 2>&1
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
      # perf -x, lines: value,unit,event,...; per request, kept for the median over rounds.
      while IFS=, read -r value _ event _; do
        [[ $value =~ ^[0-9]+$ ]] || continue
        counts[$column.$test.${event#*sys_enter_}]+="$(echo "scale=4; $value / $requests" | bc) "
      done <"$work/server.txt"
      while IFS=, read -r value _ event _; do
        [[ $value =~ ^[0-9]+$ ]] || continue
        counts[$column.$test.client-$event]+="$(echo "scale=4; $value / $requests" | bc) "
      done <"$work/client.txt"
    done
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  done
}

measure_servers measure "$@"

echo "per request, median of $rounds rounds, redis-benchmark -c 50 -n $requests (server's threads; client-* is redis-benchmark)"
for test in $tests; do
  printf '%-28s' "$test"
  for column in "${columns[@]}"; do printf ' %12s' "$column"; done
  echo
  for event in context-switches cpu-migrations sched:sched_wakeup epoll_wait epoll_pwait recvfrom sendto read write futex sched_yield client-context-switches; do
    printf '  %-26s' "$event"
    for column in "${columns[@]}"; do
      printf ' %12s' "$(median ${counts[$column.$test.$event]:-0})"
    done
    echo
  done
done
