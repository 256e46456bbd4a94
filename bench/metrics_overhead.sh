#!/usr/bin/env bash
# Throughput with the metrics endpoint on and scraped every second, against it off: two
# redis-lite servers started once and kept, redis-benchmark run against each in turn, rotating
# which goes first each round. Prints every run and the median over rounds of on/off.
#
# Usage: bench/metrics_overhead.sh path/to/release/redis-lite-server
# Knobs: ROUNDS (5), N (requests per run, 1000000), CLIENTS (50), PIPELINE (16),
#        TESTS (set,get), SCRAPE_EVERY (seconds between scrapes, 1).
set -euo pipefail
LITE=${1:?usage: bench/metrics_overhead.sh path/to/redis-lite-server}
ROUNDS=${ROUNDS:-5}
N=${N:-1000000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
TESTS=${TESTS:-set,get}
SCRAPE_EVERY=${SCRAPE_EVERY:-1}
for tool in redis-benchmark curl; do
  command -v $tool >/dev/null || { echo "$tool is not on PATH" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
OFF_PORT=$(free_port); ON_PORT=$(free_port); METRICS_PORT=$(free_port)
"$LITE" --port "$OFF_PORT" --save '' --appendonly no --logfile /dev/null & OFF_PID=$!
"$LITE" --port "$ON_PORT" --metrics-port "$METRICS_PORT" --save '' --appendonly no --logfile /dev/null & ON_PID=$!
SCRAPER_PID=""
cleanup() { kill $OFF_PID $ON_PID ${SCRAPER_PID:+$SCRAPER_PID} 2>/dev/null || true; }
trap cleanup EXIT
for port in $OFF_PORT $ON_PORT; do
  until redis-cli -p "$port" PING >/dev/null 2>&1; do sleep 0.1; done
done
( while true; do curl -s -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; sleep "$SCRAPE_EVERY"; done ) &
SCRAPER_PID=$!

# One redis-benchmark run: "test rps" lines.
run() {
  redis-benchmark -p "$1" -q -c "$CLIENTS" -P "$PIPELINE" -n "$N" -r 100000 -t "$TESTS" \
    | tr '\r' '\n' | awk -F'[: ]+' '/requests per second/ { print $1, $2 }'
}
results=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  order="off on"; [ $((round % 2)) = 0 ] && order="on off"
  for which in $order; do
    port=$OFF_PORT; [ $which = on ] && port=$ON_PORT
    run "$port" | while read -r test rps; do echo "$round $which $test $rps" | tee -a "$results"; done
  done
done
echo "median requests/s over $ROUNDS rounds, and on/off:"
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, which, test, rps = line.split()
    runs.setdefault((test, which), []).append(float(rps))
for test in sorted({t for t, _ in runs}):
    off, on = statistics.median(runs[(test, "off")]), statistics.median(runs[(test, "on")])
    print(f"{test}: off {off:.0f}, on {on:.0f}, on/off {on / off:.3f}")
PY
rm -f "$results"
