#!/usr/bin/env bash
# bench/aof.sh - SET/GET throughput with the AOF on, redis-lite against real Redis, under each
# appendfsync policy (no, everysec, always), alternating in one run through the shared harness.
#
# Usage: bench/aof.sh            (harness knobs pass through: QUICK, ROUNDS, ONLY, OUT...)
# Default workloads: c50 and p16 (ONLY=c50,p16); no memory phase.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/tools/bench.sh}
cd "$root"
cargo build --release -p redis-lite-server
lite=$root/target/release/redis-lite-server
servers=()
for policy in no everysec always; do
  # Each server runs in its own directory, so its AOF goes there.
  servers+=("redis-$policy=/usr/bin/redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly yes --appendfsync $policy --protected-mode no --logfile ''")
  servers+=("lite-$policy=$lite --port {port} --save '' --appendonly yes --appendfsync $policy")
done
ONLY=${ONLY:-c50,p16} SKIP_MEM=${SKIP_MEM:-1} exec "$harness" "${servers[@]}"
