#!/usr/bin/env bash
# bench/observability_instructions.sh - instructions per request with the slow log, latency
# tracking and the metrics endpoint on (the first two at their defaults, /metrics served and
# scraped) and all off, counted by callgrind: on a shared, loaded machine the count is exact
# where times are noise.
#
# Usage:  bench/observability_instructions.sh      (needs target/release built, valgrind)
#
# For SET and GET, "on" (defaults plus --metrics-port, scraped once after the load) and "off"
# (--slowlog-log-slower-than -1 --latency-tracking no, no metrics port),
# starts redis-lite (--threads 1) under callgrind twice, runs
#   redis-benchmark -c 50 -P 16 -r 100000 -t set|get -n N
# with N = 50000 and 250000, shuts it down and reads callgrind's total; the difference divided
# by 200000 is the instructions per request, start-up and connection set-up cancelled out.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/redis-lite-server
[[ -x $bin ]] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(free_port 17600)
metrics_port=$(free_port $((port + 1)))

total_instructions() { # test mode requests
  local args=(--port "$port" --save '' --threads 1)
  case $2 in
    on) args+=(--metrics-port "$metrics_port") ;;
    off) args+=(--slowlog-log-slower-than -1 --latency-tracking no) ;;
  esac
  rm -f "$work"/cg.*
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/cg.%p" \
    "$bin" "${args[@]}" >/dev/null 2>&1 &
  local pid=$!
  until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do sleep 0.2; done
  redis-benchmark -p "$port" -c 50 -P 16 -r 100000 -t "$1" -n "$3" -q >/dev/null 2>&1
  # One scrape per run, as Prometheus would make one every 15 s: the same in both runs of a
  # mode, so it cancels out of the difference with the request count's start-up.
  [[ $2 == on ]] && curl -s "http://127.0.0.1:$metrics_port/metrics" >/dev/null
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  awk '/^totals:/ {print $2}' "$work"/cg.*
}

for test in set get; do
  for mode in on off; do
    small=$(total_instructions "$test" "$mode" 50000)
    large=$(total_instructions "$test" "$mode" 250000)
    per=$(( (large - small) / 200000 ))
    echo "$test $mode: $per instructions/request"
    eval "${test}_${mode}=$per"
  done
  on=${test}_on off=${test}_off
  awk -v a="${!on}" -v b="${!off}" -v t="$test" 'BEGIN {printf "%s on/off: %.4f (+%.1f%%)\n", t, a / b, (a / b - 1) * 100}'
done
