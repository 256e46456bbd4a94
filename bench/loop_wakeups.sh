#!/usr/bin/env bash
# bench/loop_wakeups.sh - system calls, context switches and wake-ups per request at -c 50 (and
# -c 50 -P 16), for real Redis and redis-lite (--threads 1 and the default loops): counts, which a loaded machine
# does not distort the way it distorts times (perf's software counters and syscall tracepoints,
# on the server's threads while redis-benchmark runs; the client's own context switches too).
#
# Usage:  bench/loop_wakeups.sh [LABEL=LITE_BINARY ...]   (default: lite=target/release/redis-lite-server)
# Knobs:  N [200000] requests per test, TESTS ["get set"; any redis-benchmark -t test],
#         SHAPES ["c50"; "c50 p16" adds -P 16 runs of N * 10 requests], ROUNDS [3] (the median
#         is printed), THREADS ["1 default"], RT [unset; 1 runs the server and redis-benchmark
#         under SCHED_FIFO (`chrt -f 10`, root only): on a machine other jobs load, they then
#         run as on a quiet one, where a waiting thread's sched_yield returns at once instead
#         of handing its core to another job, which is what makes lock contention cost CPU].
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

requests=${N:-200000}
tests=${TESTS:-get set}
shapes=${SHAPES:-c50}
rounds=${ROUNDS:-3}
events=context-switches,cpu-migrations,sched:sched_wakeup
for call in epoll_wait epoll_pwait recvfrom sendto read write futex sched_yield; do
  events+=,syscalls:sys_enter_$call
done


scratch_and_cleanup
port=$(free_port 18100)
ticks_per_second=$(getconf CLK_TCK)
realtime=()
[[ -n ${RT:-} ]] && realtime=(chrt -f 10)

declare -A counts
measure() { # column command...
  local column=$1
  shift
  local round shape test n pipeline
  for round in $(seq "$rounds"); do
    "${realtime[@]}" "$@" --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
    server_pid=$!
    wait_for_ping "$port" "$server_pid"
    for shape in $shapes; do
      if [[ $shape == p16 ]]; then n=$((requests * 10)) pipeline=(-P 16); else n=$requests pipeline=(); fi
      for test in $tests; do
        perf stat -x, -e "$events" -p "$server_pid" -o "$work/server.txt" &
        local perf_pid=$!
        sleep 0.5 # perf attaches
        local ticks_before
        ticks_before=$(cpu_ticks "$server_pid")
        perf stat -x, -e context-switches -o "$work/client.txt" \
          "${realtime[@]}" redis-benchmark -p "$port" -c 50 "${pipeline[@]}" -d 16 -r 100000 -t "$test" -n "$n" -q >/dev/null 2>&1
        counts[$column.$shape.$test.cpu-us]+="$(echo "scale=3; ($(cpu_ticks "$server_pid") - $ticks_before) * 1000000 / $ticks_per_second / $n" | bc) "
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        # perf -x, lines: value,unit,event,...; per request, kept for the median over rounds.
        while IFS=, read -r value _ event _; do
          [[ $value =~ ^[0-9]+$ ]] || continue
          counts[$column.$shape.$test.${event#*sys_enter_}]+="$(echo "scale=4; $value / $n" | bc) "
        done <"$work/server.txt"
        while IFS=, read -r value _ event _; do
          [[ $value =~ ^[0-9]+$ ]] || continue
          counts[$column.$shape.$test.client-$event]+="$(echo "scale=4; $value / $n" | bc) "
        done <"$work/client.txt"
      done
    done
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  done
}

measure_servers measure "$@"

echo "per request, median of $rounds rounds, redis-benchmark -c 50 [-P 16] -n $requests [x 10 at p16] (server's threads; cpu-us: the server's CPU in µs, from /proc in 10 ms ticks; client-* is redis-benchmark)"
for shape_test in $(for s in $shapes; do for t in $tests; do echo "$s.$t"; done; done); do
  printf '%-28s' "${shape_test/./ }"
  for column in "${columns[@]}"; do printf ' %12s' "$column"; done
  echo
  for event in cpu-us context-switches cpu-migrations sched:sched_wakeup epoll_wait epoll_pwait recvfrom sendto read write futex sched_yield client-context-switches; do
    printf '  %-26s' "$event"
    for column in "${columns[@]}"; do
      printf ' %12s' "$(median ${counts[$column.$shape_test.$event]:-0})"
    done
    echo
  done
done
