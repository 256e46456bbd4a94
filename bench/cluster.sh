#!/usr/bin/env bash
# Redis Cluster side by side with real Redis (issue 18), alternating servers each round:
# - redis-benchmark --cluster against three masters made by `redis-cli --cluster create`:
#   SET and GET at -c 50 (`c50`) and -c 50 -P 16 (`p16`), requests per second;
# - resharding: KEYS keys (DEBUG POPULATE, 16-byte values) on a master serving every slot,
#   then `redis-cli --cluster reshard` of all 16384 slots to a second, empty master: seconds,
#   checked by the second master's DBSIZE afterwards.
# Every node of a round runs the same server; the clients are Redis's own tools.
# Usage: bench/cluster.sh [lite binary] (default target/release/redis-lite-server)
# Knobs: ROUNDS (3), N (200000 requests per benchmark run), KEYS (1000000),
#        PIPELINE (keys per MIGRATE, redis-cli's --cluster-pipeline: 10 as redis-cli),
#        BASE_PORT (16700; the nodes take BASE_PORT..+2, their buses +10000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LITE=${1:-target/release/redis-lite-server}
ROUNDS=${ROUNDS:-3}
N=${N:-200000}
KEYS=${KEYS:-1000000}
PIPELINE=${PIPELINE:-10}
BASE_PORT=${BASE_PORT:-16700}
PORTS=($BASE_PORT $((BASE_PORT + 1)) $((BASE_PORT + 2)))
WORK=$(mktemp -d)
trap 'kill -9 $(cat $WORK/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $WORK' EXIT

die() { echo "bench/cluster.sh: $*" >&2; exit 1; }
for t in redis-server redis-cli redis-benchmark; do
  command -v "$t" >/dev/null || die "'$t' not found on PATH"
done
[ -x "$LITE" ] || die "$LITE is not built (cargo build --release)"

start_node() { # kind port; a cluster node with nodes.conf in a directory of its own
  local dir
  dir=$(mktemp -d -p "$WORK")
  local args=(--port "$2" --cluster-enabled yes --cluster-config-file nodes.conf --save ""
    --appendonly no --enable-debug-command yes --dir "$dir")
  if [ "$1" = redis ]; then
    redis-server "${args[@]}" --daemonize no --logfile "" >/dev/null 2>&1 &
  else
    "$LITE" "${args[@]}" >/dev/null 2>&1 &
  fi
  echo $! > "$WORK/$2.pid"
  disown  # no "Killed" notice when stop_all ends it
  until redis-cli -p "$2" ping >/dev/null 2>&1; do sleep 0.05; done
}

stop_all() {
  kill -9 $(cat "$WORK"/*.pid) 2>/dev/null || true
  rm -f "$WORK"/*.pid
  for port in "${PORTS[@]}"; do
    while redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
  done
}

# Until every node given says cluster_state:ok and knows them all.
wait_ok() {
  local port
  for port in "$@"; do
    until redis-cli -p "$port" cluster info | grep -q "cluster_state:ok" &&
      [ "$(redis-cli -p "$port" cluster info | awk -F: '/cluster_known_nodes/ {print $2+0}')" -eq $# ]; do
      sleep 0.1
    done
  done
}

benchmark() { # shape -> "set_rps get_rps"
  redis-benchmark --cluster -p "${PORTS[0]}" -n "$N" -r 100000 $1 -t set,get -q 2>/dev/null |
    tr '\r' '\n' | awk '/^SET: .*requests per second/ {s=$2} /^GET: .*requests per second/ {g=$2} END {print s, g}'
}

reshard() { # kind -> seconds
  local a=${PORTS[0]} b=${PORTS[1]} from to start end moved
  start_node "$1" "$a"
  start_node "$1" "$b"
  redis-cli -p "$a" cluster addslotsrange 0 16383 >/dev/null
  redis-cli -p "$a" cluster meet 127.0.0.1 "$b" >/dev/null
  wait_ok "$a" "$b"
  redis-cli -p "$a" debug populate "$KEYS" key 16 >/dev/null
  from=$(redis-cli -p "$a" cluster myid)
  to=$(redis-cli -p "$b" cluster myid)
  start=$(date +%s.%N)
  redis-cli --cluster reshard "127.0.0.1:$a" --cluster-from "$from" --cluster-to "$to" \
    --cluster-slots 16384 --cluster-yes --cluster-pipeline "$PIPELINE" >"$WORK/reshard.log" 2>&1 ||
    die "redis-cli --cluster reshard failed: $(tail -5 "$WORK/reshard.log")"
  end=$(date +%s.%N)
  moved=$(redis-cli -p "$b" dbsize)
  [ "$moved" -eq "$KEYS" ] || die "$1: $moved keys of $KEYS reached the new master"
  echo "$end - $start" | bc
}

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for kind in redis lite; do
    for port in "${PORTS[@]}"; do start_node $kind "$port"; done
    redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-yes >"$WORK/create.log" 2>&1 ||
      die "$kind: redis-cli --cluster create failed: $(tail -5 "$WORK/create.log")"
    wait_ok "${PORTS[@]}"
    for shape_name in c50 p16; do
      case $shape_name in c50) shape="-c 50" ;; p16) shape="-c 50 -P 16" ;; esac
      read -r set get < <(benchmark "$shape")
      [ -n "$get" ] || die "$kind: redis-benchmark --cluster $shape reported nothing"
      echo "round $round $kind $shape_name SET ${set} rps, GET ${get} rps"
      R[$kind.$shape_name.set]+="$set "; R[$kind.$shape_name.get]+="$get "
    done
    stop_all
    secs=$(reshard $kind)
    echo "round $round $kind reshard of $KEYS keys ${secs}s"
    R[$kind.reshard]+="$secs "
    stop_all
  done
done
echo
printf "%-28s %14s %14s %8s\n" measure redis lite ratio
for m in c50.set c50.get p16.set p16.get reshard; do
  r=$(echo ${R[redis.$m]} | median); l=$(echo ${R[lite.$m]} | median)
  ratio=$(awk -v a="$l" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-28s %14s %14s %8s\n" "$m" "$r" "$l" "$ratio"
done
