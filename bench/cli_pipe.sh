#!/usr/bin/env bash
# redis-lite-cli --pipe against redis-cli --pipe, side by side: both load the same 1M-key
# RESP file into redis-lite-server (flushed before each run), alternating which goes first,
# ROUNDS times; prints each run's seconds and the medians.
# Usage: ROUNDS=5 KEYS=1000000 bench/cli_pipe.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
KEYS=${KEYS:-1000000}
PORT=${PORT:-7399}
cargo build --release -q -p redis-lite-cli -p redis-lite-server
work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT
target/release/redis-lite-server --port "$PORT" --save "" >/dev/null &
server_pid=$!
sleep 0.5
python3 - "$KEYS" > "$work/data.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"key:%d" % i
    v = b"value:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY
run() { # $1 = client binary; prints seconds
  redis-cli -p "$PORT" FLUSHALL >/dev/null
  local start end
  start=$(date +%s.%N)
  "$1" -p "$PORT" --pipe < "$work/data.resp" > "$work/out" 2>&1
  end=$(date +%s.%N)
  grep -q "errors: 0, replies: $KEYS" "$work/out" || { cat "$work/out"; exit 1; }
  echo "$end - $start" | bc
}
lite=(); redis=()
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then
    lite+=("$(run target/release/redis-lite-cli)"); redis+=("$(run redis-cli)")
  else
    redis+=("$(run redis-cli)"); lite+=("$(run target/release/redis-lite-cli)")
  fi
  echo "round $r: redis-lite-cli ${lite[-1]}s  redis-cli ${redis[-1]}s"
done
ml=$(median "${lite[@]}"); mr=$(median "${redis[@]}")
echo "median: redis-lite-cli ${ml}s  redis-cli ${mr}s  ratio (redis-cli time / redis-lite-cli time) $(echo "scale=2; $mr / $ml" | bc)"
