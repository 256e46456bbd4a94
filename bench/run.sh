#!/usr/bin/env bash
# bench/run.sh - build redis-lite and compare it side by side with real Redis.
#
# Usage:  bench/run.sh [LABEL=COMMAND ...]     (extra servers are passed to the harness)
#
# Runs, in order:
#   1. cargo build --release
#   2. a redis-benchmark -t set,get,incr,mset check against redis-lite; any error fails the run
#   3. the shared side-by-side harness: redis (baseline), lite (default threads), lite-t1 (--threads 1)
#
# The harness's environment knobs pass straight through (QUICK, ROUNDS, ONLY, MEM_KEYS,
# SKIP_MEM, BENCH_THREADS, SERVER_CPUS, CLIENT_CPUS, OUT, ...; see its header). Own knobs:
#   BENCH_HARNESS=path  harness location [REPO/../shared/tools/bench.sh]
#   SMOKE_N=N           requests per test in the redis-benchmark check [20000]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() { echo "bench/run.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/tools/bench.sh}
[[ -f $harness ]] || die "benchmark harness not found at '$harness' (set BENCH_HARNESS=/path/to/bench.sh)"
for t in redis-server redis-benchmark redis-cli; do
  command -v "$t" >/dev/null || die "'$t' not found on PATH; install Redis 7 (e.g. apt-get install redis-server redis-tools)"
done

cd "$root"
cargo build --release
bin=$root/target/release/redis-lite-server
[[ -x $bin ]] || die "build did not produce $bin"

# --- redis-benchmark compatibility check ------------------------------------
port=$(free_port 16380)
"$bin" --port "$port" >/dev/null 2>&1 &
smoke_pid=$!
trap 'kill "$smoke_pid" 2>/dev/null || true; wait "$smoke_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
  kill -0 "$smoke_pid" 2>/dev/null || die "redis-lite-server exited at startup"
  sleep 0.1
done

# -e: older clients print error replies only with it (7.x always prints them, exits, and
# warns that -e is redundant - that warning is dropped so it cannot match "error").
# The timeout catches a server that stops answering; the client would wait forever.
smoke=$(timeout 120 redis-benchmark -p "$port" -t set,get,incr,mset -n "${SMOKE_N:-20000}" -r 10000 -q -e 2>&1 \
        | tr '\r' '\n' | sed '/-e option has no effect/d') || smoke_failed=1
kill "$smoke_pid" 2>/dev/null || true; wait "$smoke_pid" 2>/dev/null || true; trap - EXIT
# A test cut short leaves no final "N requests per second" line, so count them too.
results=$(grep -E ': [0-9.]+ requests per second' <<<"$smoke" || true)
echo "$results"
grep -i 'warning' <<<"$smoke" >&2 || true
if [[ -n ${smoke_failed:-} ]] || grep -qiE 'error|could not connect' <<<"$smoke" || [[ $(grep -c . <<<"$results") -ne 4 ]]; then
  die "redis-benchmark -t set,get,incr,mset against redis-lite failed or had errors:"$'\n'"$(grep -v 'rps=' <<<"$smoke")"
fi
echo "redis-benchmark -t set,get,incr,mset: no errors"

# --- side-by-side run -------------------------------------------------------
# Redis comes first so every ratio is "relative to Redis". lite-t1 separates the
# per-request cost from the benefit of extra threads on a box where the client
# needs a core too.
exec bash "$harness" \
  redis="$(command -v redis-server)" \
  "lite=$bin --port {port}" \
  "lite-t1=$bin --port {port} --threads 1" \
  "$@"
