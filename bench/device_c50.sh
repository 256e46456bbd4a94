#!/usr/bin/env bash
# Unpipelined throughput side by side with real Redis, for a machine other than the 2-core one
# the other benchmarks ran on: EVALSHA of a one-GET script and of a read-modify-write script,
# and plain GET and SET, all at -c 50 (one request per round trip). Builds nothing.
#
# Usage: bench/device_c50.sh path/to/release/redis-lite-server
# Knobs: ROUNDS (5), N (requests per run, 200000), CLIENTS (50), PIPELINE (1; 16 for -P 16),
#        LITE_THREADS (space-separated `--threads` values run as extra servers besides the
#        default; "1" unless set, "" for none), TESTS ("evget evrmw get set").
#
# Every round runs each test against every server, rotating which server goes first, each
# server started once and kept. Prints every run (requests per second, and the server's and
# redis-benchmark's CPU microseconds per request, from /proc and time(1)), then the medians,
# and the median over rounds of each server's ratio to Redis in the same round.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LITE=${1:?usage: bench/device_c50.sh path/to/redis-lite-server}
ROUNDS=${ROUNDS:-5}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
LITE_THREADS=${LITE_THREADS-1}
TESTS=${TESTS:-evget evrmw get set}
for tool in redis-server redis-cli redis-benchmark; do
  command -v $tool >/dev/null || { echo "$tool is not on PATH" >&2; exit 1; }
done
[ -x "$LITE" ] || { echo "$LITE is not an executable" >&2; exit 1; }
# GNU time(1) for redis-benchmark's CPU; without it that column reads 0.
TIME=""
[ -x /usr/bin/time ] && TIME=/usr/bin/time

NAMES=(redis lite)
COMMANDS=("redis-server --save '' --appendonly no --daemonize no --logfile ''"
          "$LITE --save '' --appendonly no")
for t in $LITE_THREADS; do
  NAMES+=("lite-t$t")
  COMMANDS+=("$LITE --save '' --appendonly no --threads $t")
done
PIDS=()
PORTS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
port=$((21000 + RANDOM % 2000))
for i in "${!NAMES[@]}"; do
  eval "exec ${COMMANDS[$i]} --port $port" >/dev/null 2>&1 &
  PIDS+=($!)
  PORTS+=($port)
  port=$((port + 1))
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 50); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" PING >/dev/null || { echo "the server on port $port did not start" >&2; exit 1; }
done

GET_SCRIPT="return redis.call('GET', KEYS[1])"
RMW_SCRIPT="local v = tonumber(redis.call('GET', KEYS[1]) or '0'); if v < 1000000000 then redis.call('SET', KEYS[1], v + 1) end; return v"
for port in "${PORTS[@]}"; do
  redis-cli -p "$port" SET k 1 >/dev/null
  GET_SHA=$(redis-cli -p "$port" SCRIPT LOAD "$GET_SCRIPT")
  RMW_SHA=$(redis-cli -p "$port" SCRIPT LOAD "$RMW_SCRIPT")
done
request() { # test -> redis-benchmark's command
  case $1 in
    evget) echo "EVALSHA $GET_SHA 1 k" ;;
    evrmw) echo "EVALSHA $RMW_SHA 1 k" ;;
    get) echo "GET k" ;;
    set) echo "SET k 1" ;;
  esac
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
trap 'cleanup; rm -rf "$TMP"' EXIT

echo "$(nproc) cores; $(uptime); $(redis-server --version | cut -d' ' -f1-3); $("$LITE" --version 2>/dev/null | head -1)"
echo "-c $CLIENTS -P $PIPELINE, N=$N, $ROUNDS rounds"
declare -A RPS SERVER_US BENCH_US
for round in $(seq 1 "$ROUNDS"); do
  for test in $TESTS; do
    count=${#NAMES[@]}
    for j in $(seq 0 $((count - 1))); do
      i=$(((j + round) % count))
      name=${NAMES[$i]}
      before=$(cpu_ticks "${PIDS[$i]}")
      if [ -n "$TIME" ]; then
        $TIME -o "$TMP/time" -f "%U %S" redis-benchmark -p "${PORTS[$i]}" -n "$N" -c "$CLIENTS" \
          -P "$PIPELINE" -q $(request "$test") 2>/dev/null | tr '\r' '\n' >"$TMP/out"
      else
        redis-benchmark -p "${PORTS[$i]}" -n "$N" -c "$CLIENTS" -P "$PIPELINE" -q \
          $(request "$test") 2>/dev/null | tr '\r' '\n' >"$TMP/out"
        echo "0 0" >"$TMP/time"
      fi
      after=$(cpu_ticks "${PIDS[$i]}")
      rps=$(awk '/requests per second/ {print $(NF-5)}' "$TMP/out" | tail -1)
      server_us=$(echo "($after - $before) * 1000000 / $TICK / $N" | bc -l)
      bench_us=$(awk -v n="$N" '{print ($1 + $2) * 1000000 / n}' "$TMP/time")
      printf "round %d %-6s %-9s %11s/s  server %6.2f us/req  benchmark %6.2f us/req\n" \
        "$round" "$test" "$name" "$rps" "$server_us" "$bench_us"
      RPS[$round.$test.$name]=$rps
      SERVER_US[$test.$name]+="$server_us "
      BENCH_US[$test.$name]+="$bench_us "
    done
  done
done

echo
echo "Medians: requests/s (ratio to Redis's median), server and redis-benchmark CPU us per request"
printf "%-6s" test
for name in "${NAMES[@]}"; do printf " | %-30s" "$name"; done
echo
for test in $TESTS; do
  redis_median=$(for r in $(seq 1 "$ROUNDS"); do echo "${RPS[$r.$test.redis]}"; done | median)
  printf "%-6s" "$test"
  for name in "${NAMES[@]}"; do
    m=$(for r in $(seq 1 "$ROUNDS"); do echo "${RPS[$r.$test.$name]}"; done | median)
    s=$(echo "${SERVER_US[$test.$name]}" | median)
    b=$(echo "${BENCH_US[$test.$name]}" | median)
    printf " | %9.0f %5.2fx %5.2f %5.2f" "$m" "$(echo "$m / $redis_median" | bc -l)" "$s" "$b"
  done
  echo
done
echo
echo "Median over rounds of the ratio to Redis in the same round"
for test in $TESTS; do
  printf "%-6s" "$test"
  for name in "${NAMES[@]:1}"; do
    ratio=$(for r in $(seq 1 "$ROUNDS"); do
      echo "${RPS[$r.$test.$name]} / ${RPS[$r.$test.redis]}" | bc -l
    done | median)
    printf "  %s %.3f" "$name" "$ratio"
  done
  echo
done
