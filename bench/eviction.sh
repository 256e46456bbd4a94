#!/usr/bin/env bash
# bench/eviction.sh - throughput with eviction running (maxmemory 16mb, so nearly every SET
# evicts), per policy: Redis allkeys-lru/lfu and redis-lite allkeys-lru/lfu/tinylfu, alternating
# in one run through the shared harness. Shows what each policy costs per request.
#
# Usage: bench/eviction.sh      (harness knobs pass through: QUICK, ROUNDS, ONLY, OUT...)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/tools/bench.sh}
cd "$root"
cargo build --release -p redis-lite-server
lite=$root/target/release/redis-lite-server
limit=${MAXMEMORY:-16mb}
servers=()
for policy in allkeys-lru allkeys-lfu; do
  servers+=("redis-${policy#allkeys-}=/usr/bin/redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --maxmemory $limit --maxmemory-policy $policy --logfile ''")
done
for policy in allkeys-lru allkeys-lfu allkeys-tinylfu; do
  servers+=("lite-${policy#allkeys-}=$lite --port {port} --save '' --maxmemory $limit --maxmemory-policy $policy")
done
ONLY=${ONLY:-c50,p16} SKIP_MEM=${SKIP_MEM:-1} exec "$harness" "${servers[@]}"
