#!/usr/bin/env bash
# bench/encryption.sh - the cost of encryption at rest: SAVE time, and SET throughput with
# AOF `everysec` and `always`, each with encryption off and on, side by side.
#
# Usage:  bench/encryption.sh
#
# Off and on alternate in every round (so drift in the machine hits both alike), and each
# figure is the median over the rounds. Knobs (environment):
#   KEYS=N        keys for the SAVE test, made with DEBUG POPULATE [1000000]
#   ROUNDS=N      rounds per figure [5]
#   REQUESTS=N    SETs per redis-benchmark run [200000]
#   CLIENTS=N     redis-benchmark connections [50]
#   PIPELINE=N    redis-benchmark pipeline depth [1]
#   BIN=path      the server binary [target/release/redis-lite-server, built if absent]
# Quick smoke test:  KEYS=1000 ROUNDS=1 REQUESTS=2000 bench/encryption.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() { echo "bench/encryption.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keys=${KEYS:-1000000}
rounds=${ROUNDS:-5}
requests=${REQUESTS:-200000}
clients=${CLIENTS:-50}
pipeline=${PIPELINE:-1}
bin=${BIN:-$root/target/release/redis-lite-server}
for t in redis-benchmark redis-cli openssl; do
  command -v "$t" >/dev/null || die "'$t' not found on PATH"
done
if [[ -z ${BIN:-} ]]; then
  (cd "$root" && cargo build --release -p redis-lite-server)
fi
[[ -x $bin ]] || die "no server binary at $bin"

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
(umask 077 && openssl rand -hex 32 >"$work/key")

port=$(free_port 17380)

# start ENCRYPTION(yes|no) [extra directives...]: a fresh server on an empty data dir.
start() {
  local enc=$1
  shift
  rm -rf "$work/data" && mkdir "$work/data"
  "$bin" --port "$port" --dir "$work/data" --save "" --enable-debug-command yes \
    --encryption "$enc" --encryption-key-file "$work/key" "$@" >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited at start-up"; }
    sleep 0.1
  done
  die "the server did not answer"
}

stop() {
  shutdown_server "$port" "$pid"
  pid=
}


# SAVE seconds for KEYS keys.
save_secs() {
  start "$1"
  redis-cli -p "$port" debug populate "$keys" key 100 >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  redis-cli -p "$port" save >/dev/null
  t1=$(date +%s.%N)
  stop
  echo "$t1 - $t0" | bc -l
}

# SET requests per second with AOF under FSYNC.
set_rps() {
  start "$1" --appendonly yes --appendfsync "$2"
  redis-benchmark -p "$port" -t set -n "$requests" -c "$clients" -P "$pipeline" -r 100000 --csv \
    | awk -F'","' '/^"SET"/ { print $2 }'
  stop
}

declare -A results
for round in $(seq "$rounds"); do
  for enc in no yes; do
    results[save-$enc]+="$(save_secs "$enc") "
    for fsync in everysec always; do
      results[$fsync-$enc]+="$(set_rps "$enc" "$fsync") "
    done
  done
  echo "round $round of $rounds done" >&2
done

figure() { tr ' ' '\n' <<<"${results[$1]}" | grep . | median; }
printf '\n%-32s %14s %14s %8s\n' "test (median of $rounds)" "encryption no" "encryption yes" "ratio"
row() {
  local off on
  off=$(figure "$2-no")
  on=$(figure "$2-yes")
  printf '%-32s %14s %14s %8.3f\n' "$1" "$off" "$on" "$(echo "$on / $off" | bc -l)"
}
row "SAVE of $keys keys (s)" save
row "SET rps, appendfsync everysec" everysec
row "SET rps, appendfsync always" always
