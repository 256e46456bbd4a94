#!/usr/bin/env bash
# bench/cluster_instructions.sh - what cluster mode adds to a request: user-space instructions
# per GET and SET (-c 50, unpipelined and -P 16), standalone and as a one-node cluster that
# serves every slot, for real Redis and redis-lite (one event loop), counted by callgrind.
#
# Usage:  bench/cluster_instructions.sh [LABEL=BINARY ...]
#         (default: redis=/usr/bin/redis-server lite=target/release/redis-lite-server)
#
# For each row it runs redis-benchmark -c 50 [-P 16] -d 16 -r 100000 -t TEST -n 20000, then
# -n 100000, dumping callgrind's counters after each: (second total - first) / 80000 is the
# instructions per request with the connections' set-up cancelled out. The cluster rule
# (MOVED/ASK, CROSSSLOT) judges every keyed command, and in cluster mode the keyspace hashes each
# key with its slot (CRC16) too; the difference between the two columns is their cost.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

servers=("$@")
((${#servers[@]})) || servers=(redis=/usr/bin/redis-server "lite=$root/target/release/redis-lite-server")

scratch_and_cleanup

measure() { # label binary mode
  local label=$1 binary mode=$3 port args=()
  binary=$(realpath "$2") # the server runs in the scratch directory
  port=$(free_port 17950)
  [[ $label != redis* ]] && args+=(--threads 1)
  [[ $mode == cluster ]] && args+=(--cluster-enabled yes --cluster-config-file "$work/nodes-$port.conf")
  (cd "$work" && exec valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$work/cg.%p" \
    "$binary" --port "$port" --save '' --appendonly no "${args[@]}" >/dev/null 2>&1) &
  server_pid=$!
  wait_for_ping "$port" "$server_pid"
  if [[ $mode == cluster ]]; then
    redis-cli -p "$port" cluster addslotsrange 0 16383 >/dev/null
    until redis-cli -p "$port" cluster info | grep -q cluster_state:ok; do sleep 0.2; done
  fi
  local test pipeline small large
  for test in get set; do
    for pipeline in 1 16; do
      callgrind_dump "$server_pid" "$work/cg" >/dev/null
      redis-benchmark -p "$port" -c 50 -P "$pipeline" -d 16 -r 100000 -n 20000 -q -t "$test" >/dev/null 2>&1
      small=$(callgrind_dump "$server_pid" "$work/cg")
      redis-benchmark -p "$port" -c 50 -P "$pipeline" -d 16 -r 100000 -n 100000 -q -t "$test" >/dev/null 2>&1
      large=$(callgrind_dump "$server_pid" "$work/cg")
      printf '%-8s %-10s P%-3s %-4s %6d\n' "$label" "$mode" "$pipeline" "$test" $(((large - small) / 80000))
    done
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

printf '%-8s %-10s %-4s %-4s %6s\n' server mode pipe test instr
for server in "${servers[@]}"; do
  for mode in standalone cluster; do
    measure "${server%%=*}" "${server#*=}" "$mode"
  done
done
