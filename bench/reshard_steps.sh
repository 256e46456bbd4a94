#!/usr/bin/env bash
# Where a resharding's time goes, step by step, for Redis 7.0.15 and each redis-lite binary
# given, alternating each round: two masters, the first serving every slot with KEYS keys
# (DEBUG POPULATE), then `redis-cli --cluster reshard` of SLOTS slots to the second, with
# redis-cli under strace. Prints, per server: the reshard's seconds, and for each command
# redis-cli sends (SETSLOT IMPORTING/MIGRATING/NODE on the target or the source,
# GETKEYSINSLOT, MIGRATE) how many it sent and the mean time from its write to its reply's
# read; then the syscalls both servers made per slot (strace -c -f of the servers in a second
# run, attached for the reshard only). On a shared machine the absolute times are noise: compare the columns of one run.
# Usage: bench/reshard_steps.sh [LABEL=BINARY ...] (default lite=target/release/redis-lite-server)
# Knobs: ROUNDS (3), SLOTS (1000), KEYS (16384), BASE_PORT (16800; nodes BASE_PORT, +1),
#        SYSCALLS (1; 0 skips the run counting syscalls).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${ROUNDS:-3}
SLOTS=${SLOTS:-1000}
KEYS=${KEYS:-16384}
BASE_PORT=${BASE_PORT:-16800}
SYSCALLS=${SYSCALLS:-1}
(($#)) || set -- lite=target/release/redis-lite-server
for t in redis-server redis-cli strace; do
  command -v "$t" >/dev/null || { echo "bench/reshard_steps.sh: '$t' not found" >&2; exit 1; }
done
WORK=$(mktemp -d)
A=$(free_port "$BASE_PORT")
B=$(free_port $((A + 1)))
trap 'for p in $A $B; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done; rm -rf "$WORK"' EXIT

PIDS=()
start_node() { # binary port: a cluster node in a directory of its own
  mkdir -p "$WORK/$2"
  "$1" --port "$2" --cluster-enabled yes --cluster-config-file nodes.conf \
    --save "" --appendonly no --enable-debug-command yes --dir "$WORK/$2" >/dev/null 2>&1 &
  PIDS+=($!)
  until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.05; done
}

stop_nodes() {
  for p in $A $B; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  for p in $A $B; do while redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.05; done; done
  PIDS=()
  rm -rf "${WORK:?}"/$A "${WORK:?}"/$B
}

# reshard BINARY LABEL [count]: one resharding; redis-cli's trace in $WORK/LABEL.cli; with
# `count`, both servers' syscalls during it (strace -c -f attached) in $WORK/LABEL.syscalls.*.
reshard() {
  local binary=$1 label=$2 counting=() pid
  start_node "$binary" "$A"
  start_node "$binary" "$B"
  redis-cli -p "$A" cluster addslotsrange 0 16383 >/dev/null
  redis-cli -p "$A" cluster meet 127.0.0.1 "$B" >/dev/null
  for p in $A $B; do
    until redis-cli -p "$p" cluster info | grep -q cluster_state:ok &&
      redis-cli -p "$p" cluster info | grep -q cluster_known_nodes:2; do sleep 0.1; done
  done
  redis-cli -p "$A" debug populate "$KEYS" key 16 >/dev/null
  local from to start end
  from=$(redis-cli -p "$A" cluster myid)
  to=$(redis-cli -p "$B" cluster myid)
  if [ "${3:-}" = count ]; then
    for pid in "${PIDS[@]}"; do
      strace -c -f -p "$pid" -o "$WORK/$label.syscalls.$pid" 2>/dev/null &
      counting+=($!)
    done
    sleep 1 # attached
  fi
  start=$(date +%s.%N)
  strace -tt -T -e trace=sendto,recvfrom -s 120 -o "$WORK/$label.cli" \
    redis-cli --cluster reshard "127.0.0.1:$A" --cluster-from "$from" --cluster-to "$to" \
    --cluster-slots "$SLOTS" --cluster-yes --cluster-pipeline 10 >"$WORK/reshard.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
  for pid in "${counting[@]}"; do kill -INT "$pid"; wait "$pid" 2>/dev/null || true; done
  stop_nodes
}

# steps TRACE: "command count mean_us" for each command redis-cli sent, from its strace.
steps() {
  python3 - "$1" <<'EOF'
import re, sys, collections
def secs(stamp):
    h, m, s = stamp.split(':')
    return int(h) * 3600 + int(m) * 60 + float(s)
total, count, pending = collections.defaultdict(float), collections.Counter(), None
for line in open(sys.argv[1]):
    m = re.match(r'(\S+) (sendto|recvfrom)\((\d+), "(.*?)"', line)
    if not m:
        continue
    stamp, call, fd, data = m.groups()
    if call == 'sendto':
        words = [w for w in data.split('\\r\\n') if w and w[0] not in '*$']
        name = ' '.join(words[:2]).upper()
        if name == 'CLUSTER SETSLOT' and len(words) > 3:
            name = f'SETSLOT {words[3].upper()} fd{fd}'
        pending = (name, secs(stamp))
    elif pending:
        took = float(re.search(r'<([\d.]+)>', line).group(1))
        total[pending[0]] += secs(stamp) + took - pending[1]
        count[pending[0]] += 1
        pending = None
for name in sorted(total, key=lambda n: -total[n]):
    print(f'{name:28s} {count[name]:6d} {total[name] / count[name] * 1e6:8.0f}')
EOF
}

servers=("redis=$(command -v redis-server)" "$@")
declare -A SECONDS_OF
for round in $(seq 1 "$ROUNDS"); do
  for entry in "${servers[@]}"; do
    label=${entry%%=*}
    secs=$(reshard "${entry#*=}" "$label")
    echo "round $round $label: $SLOTS slots in ${secs}s"
    SECONDS_OF[$label]+="$secs "
  done
done
echo
for entry in "${servers[@]}"; do
  label=${entry%%=*}
  echo "== $label: median $(echo ${SECONDS_OF[$label]} | median) s for $SLOTS slots; last round's steps (command, count, mean µs to the reply):"
  steps "$WORK/$label.cli"
done
((SYSCALLS)) || exit 0
echo
for entry in "${servers[@]}"; do
  label=${entry%%=*}
  reshard "${entry#*=}" "$label" count >/dev/null
  echo "== $label: syscalls per slot during the reshard, both servers (strace -c -f), most frequent first"
  cat "$WORK/$label".syscalls.* | awk -v slots="$SLOTS" '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
      calls[$NF] += $4 } END { for (c in calls) printf "%-16s %8.1f\n", c, calls[c] / slots }' |
    sort -k2 -rn | head -12
done
