#!/usr/bin/env bash
# bench/aof_before_after.sh - a change to the AOF or the connection loop, measured side by side:
# real Redis, an earlier redis-lite binary and the current one, under `appendfsync everysec`
# and with the AOF off, alternating in one run through the shared harness.
#
# Usage: bench/aof_before_after.sh /path/to/earlier/redis-lite-server
#        (harness knobs pass through: QUICK, ROUNDS, ONLY, OUT...)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/tools/bench.sh}
before=${1:?usage: $0 /path/to/earlier/redis-lite-server}
cd "$root"
cargo build --release -p redis-lite-server
lite=$root/target/release/redis-lite-server
servers=()
for aof in everysec off; do
  if [ "$aof" = off ]; then
    redis_aof="--appendonly no"; lite_aof="--appendonly no"
  else
    redis_aof="--appendonly yes --appendfsync $aof"; lite_aof="--appendonly yes --appendfsync $aof"
  fi
  servers+=("redis-$aof=/usr/bin/redis-server --port {port} --bind 127.0.0.1 --save '' $redis_aof --protected-mode no --logfile ''")
  servers+=("before-$aof=$before --port {port} --save '' $lite_aof")
  servers+=("lite-$aof=$lite --port {port} --save '' $lite_aof")
done
ONLY=${ONLY:-c50,p16} SKIP_MEM=${SKIP_MEM:-1} exec "$harness" "${servers[@]}"
