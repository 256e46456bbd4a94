#!/usr/bin/env bash
# bench/memory.sh - memory per key, Redis against redis-lite, over value sizes, with and
# without TTLs: the memory test of the shared harness (bench/run.sh's), as a matrix.
#
# Usage:  bench/memory.sh [LABEL=SERVER_BINARY ...]
#         (default: redis=$(command -v redis-server) lite=target/release/redis-lite-server)
#
# Each cell loads MEM_KEYS keys `key:%012d` (16 bytes) with SET through `redis-cli --pipe`
# into a fresh server and prints INFO `used_memory` and RSS per key (after minus before).
# Knobs: MEM_KEYS [1000000], MEM_VALUES ["16 100 1024"], MEM_TTLS ["no yes"] (yes: SET ... EX
# 1000000, far beyond the run). Memory numbers are stable on a loaded machine; throughput is
# not measured here.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keys=${MEM_KEYS:-1000000}
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=("redis=$(command -v redis-server)" "lite=$root/target/release/redis-lite-server")

free_port() {
  local port=$((20000 + RANDOM % 20000))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
rss_bytes() { awk '/^VmRSS:/{print $2 * 1024}' "/proc/$1/status"; }

# Servers run in an empty directory: none may load a dump.rdb lying in the caller's.
work=$(mktemp -d)
load_file=$work/load.resp
trap 'rm -rf "$work"' EXIT

printf '%-8s %6s %4s %10s %12s %10s\n' server value ttl keys "B/key(used)" "B/key(RSS)"
for size in ${MEM_VALUES:-16 100 1024}; do
  for ttl in ${MEM_TTLS:-no yes}; do
    awk -v n="$keys" -v vs="$size" -v ttl="$ttl" 'BEGIN{
        v=""; for(j=0;j<vs;j++) v=v "v";
        for(i=0;i<n;i++){ k=sprintf("key:%012d",i);
          if (ttl=="yes") printf "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$7\r\n1000000\r\n", length(k), k, vs, v;
          else printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, vs, v } }' >"$load_file"
    for spec in "${servers[@]}"; do
      label=${spec%%=*} bin=${spec#*=}
      port=$(free_port)
      "$bin" --port "$port" --dir "$work" --save '' --appendonly no >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
      um0=$(used_memory "$port") rss0=$(rss_bytes "$pid")
      out=$(redis-cli -p "$port" --pipe <"$load_file" 2>&1 | tail -1)
      grep -q 'errors: 0' <<<"$out" || echo "WARNING: $label: $out" >&2
      sleep 1
      dbsize=$(redis-cli -p "$port" dbsize | tr -d '\r')
      um1=$(used_memory "$port") rss1=$(rss_bytes "$pid")
      kill "$pid"; wait "$pid" 2>/dev/null || true
      awk -v l="$label" -v s="$size" -v t="$ttl" -v n="$dbsize" -v u0="$um0" -v u1="$um1" -v r0="$rss0" -v r1="$rss1" \
        'BEGIN{printf "%-8s %6d %4s %10d %12.1f %10.1f\n", l, s, t, n, (u1-u0)/n, (r1-r0)/n}'
    done
  done
done
