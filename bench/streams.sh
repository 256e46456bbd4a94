#!/usr/bin/env bash
# Streams side by side with real Redis: XADD throughput (-c 50, and -c 50 -P 16), XRANGE of a
# 100-entry stream (-c 50), XREADGROUP+XACK pairs per second (bench/xreadgroup_pairs.py: PAIR_CLIENTS
# consumers drain PAIRS entries one XREADGROUP COUNT 1 and one XACK at a time) with the server's
# CPU microseconds per pair, and the memory one entry costs in a stream of 1M entries
# (used_memory before and after loading them through redis-cli --pipe, on a fresh server).
# Each round runs every test on both servers, Redis first on odd rounds and redis-lite first on
# even ones; prints each run, then the medians and the ratios (redis-lite / Redis).
# Usage: bench/streams.sh [lite binary] (default target/release/redis-lite-server)
# Knobs: ROUNDS (3), N (200000 requests per throughput run), ENTRIES (1000000), PAIRS (100000),
# PAIR_CLIENTS (4).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LITE=${1:-target/release/redis-lite-server}
ROUNDS=${ROUNDS:-3}
N=${N:-200000}
ENTRIES=${ENTRIES:-1000000}
PAIRS=${PAIRS:-100000}
PAIR_CLIENTS=${PAIR_CLIENTS:-4}
HERE=$(dirname "$0")
RPORT=16510
LPORT=16511
PIDS=()
WORK=$(mktemp -d)
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start() { # server -> starts it afresh on its port
  local server=$1
  if [ "$server" = redis ]; then
    redis-server --port $RPORT --save "" --appendonly no --daemonize no --logfile "" >/dev/null 2>&1 &
  else
    "$LITE" --port $LPORT --save "" --appendonly no >/dev/null 2>&1 &
  fi
  PIDS+=($!)
  for _ in $(seq 50); do
    redis-cli -p "$(port "$server")" PING 2>/dev/null | grep -q PONG && return
    sleep 0.1
  done
  echo "bench/streams.sh: $server did not start" >&2
  exit 1
}
stop() { # server
  redis-cli -p "$(port "$1")" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}
port() { if [ "$1" = redis ]; then echo $RPORT; else echo $LPORT; fi; }

rps() { # port shape command... -> requests per second
  local p=$1 shape=$2
  shift 2
  redis-benchmark -p "$p" -n "$N" $shape -q "$@" 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {print $(NF-5)}' | tail -1
}
used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }

# The 1M XADDs as one RESP stream for redis-cli --pipe.
awk -v n="$ENTRIES" 'BEGIN {
  for (i = 0; i < n; i++) {
    v = "value:" i
    printf "*5\r\n$4\r\nXADD\r\n$3\r\nmem\r\n$1\r\n*\r\n$5\r\nfield\r\n$%d\r\n%s\r\n", length(v), v
  }
}' > "$WORK/load.resp"

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  order="redis lite"
  [ $((round % 2)) -eq 0 ] && order="lite redis"
  for server in $order; do
    start "$server"
    p=$(port "$server")
    add_c50=$(rps "$p" "-c 50" XADD s '*' field value)
    add_p16=$(rps "$p" "-c 50 -P 16" XADD s '*' field value)
    for i in $(seq 1 100); do echo "XADD r $i-0 field value$i"; done | redis-cli -p "$p" >/dev/null
    range_c50=$(rps "$p" "-c 50" XRANGE r - +)
    pairs=$(python3 "$HERE/xreadgroup_pairs.py" "$p" --entries "$PAIRS" --clients "$PAIR_CLIENTS")
    pairs_s=$(echo "$pairs" | sed -n 's/.*pairs_per_s=\([0-9.]*\).*/\1/p')
    pair_cpu=$(echo "$pairs" | sed -n 's/.*server_cpu_us_per_pair=\([0-9.]*\).*/\1/p')
    stop "$server"
    # Memory on a fresh server, so nothing else's allocations move the delta.
    start "$server"
    before=$(used_memory "$p")
    redis-cli -p "$p" --pipe < "$WORK/load.resp" >/dev/null
    [ "$(redis-cli -p "$p" XLEN mem)" = "$ENTRIES" ] || { echo "bench/streams.sh: load incomplete on $server" >&2; exit 1; }
    after=$(used_memory "$p")
    per_entry=$(echo "scale=2; ($after - $before) / $ENTRIES" | bc)
    stop "$server"
    echo "round $round $server xadd_c50=$add_c50 xadd_p16=$add_p16 xrange100_c50=$range_c50 xreadgroup_xack_pairs=$pairs_s pair_server_cpu_us=$pair_cpu bytes_per_entry=$per_entry"
    RESULTS[xadd_c50.$server]+="$add_c50 "
    RESULTS[xadd_p16.$server]+="$add_p16 "
    RESULTS[xrange100_c50.$server]+="$range_c50 "
    RESULTS[xreadgroup_xack_pairs.$server]+="$pairs_s "
    RESULTS[pair_server_cpu_us.$server]+="$pair_cpu "
    RESULTS[bytes_per_entry.$server]+="$per_entry "
  done
done
echo
printf "%-22s %12s %12s %7s\n" measure redis lite ratio
for measure in xadd_c50 xadd_p16 xrange100_c50 xreadgroup_xack_pairs pair_server_cpu_us bytes_per_entry; do
  r=$(echo ${RESULTS[$measure.redis]} | median)
  l=$(echo ${RESULTS[$measure.lite]} | median)
  printf "%-22s %12s %12s %7.2f\n" $measure "$r" "$l" "$(echo "$l / $r" | bc -l)"
done
