#!/usr/bin/env bash
# Replication side by side with real Redis (issue 14), alternating servers each round:
# - full sync of KEYS keys (DEBUG POPULATE, 16-byte values) to one real Redis replica, diskless
#   (the 7.0 default): seconds from REPLICAOF to master_link_status:up, and the master's extra
#   memory meanwhile (peak PSS of the master and its children above the PSS before, sampled
#   every 20 ms: Redis forks, redis-lite takes a copy-on-write snapshot in-process); then the
#   same with random SETs over the keys running during the sync (`wsync`, `wmem`; the keys are
#   loaded with redis-benchmark -r KEYS, about 63% of KEYS distinct);
# - master throughput with two real Redis replicas attached: redis-benchmark SET at -c 50 and
#   -c 50 -P 16, and the replicas' largest lag behind the master (bytes) sampled during the run.
# Usage: bench/replication.sh [lite binary] (default target/release/redis-lite-server)
# Knobs: ROUNDS (3), KEYS (1000000), N (200000 requests per throughput run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LITE=${1:-target/release/redis-lite-server}
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
N=${N:-200000}
MPORT=16600
R1=16601
R2=16602
WORK=$(mktemp -d)
trap 'kill $(cat $WORK/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $WORK' EXIT

pss_kb() { # pid -> PSS of the process and its children, in kB
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)))
  done
  echo $total
}

start_master() { # kind; in a directory of its own, so it loads nothing a replica saved
  local dir
  dir=$(mktemp -d -p "$WORK")
  if [ "$1" = redis ]; then
    redis-server --port $MPORT --save "" --appendonly no --daemonize no --logfile "" \
      --repl-diskless-sync-delay 0 --enable-debug-command yes --dir "$dir" >/dev/null 2>&1 &
  else
    "$LITE" --port $MPORT --save "" --appendonly no --repl-diskless-sync-delay 0 \
      --enable-debug-command yes --dir "$dir" >/dev/null 2>&1 &
  fi
  echo $! > "$WORK/master.pid"
  until redis-cli -p $MPORT ping >/dev/null 2>&1; do sleep 0.05; done
}

start_replica() { # port; in a directory of its own (a replica saves what it loads there)
  redis-server --port "$1" --save "" --appendonly no --daemonize no --logfile "" \
    --dir "$(mktemp -d -p "$WORK")" >/dev/null 2>&1 &
  echo $! > "$WORK/r$1.pid"
  until redis-cli -p "$1" ping >/dev/null 2>&1; do sleep 0.05; done
}

link_up() { redis-cli -p "$1" info replication | grep -q "master_link_status:up"; }

stop_all() {
  kill -9 $(cat "$WORK"/*.pid) 2>/dev/null || true
  rm -f "$WORK"/*.pid
  for port in $MPORT $R1 $R2; do
    while redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.05; done
  done
}

full_sync() { # kind [writing] -> "seconds extra_mb"
  # With "writing", random SETs over the same keys run during the sync (Redis's forked child
  # then shares fewer pages with its parent; redis-lite copies a shard's entries only when it
  # writes them out).
  start_master "$1"
  if [ "${2:-}" = writing ]; then
    redis-benchmark -p $MPORT -n "$KEYS" -r "$KEYS" -P 64 -d 16 -t set -q >/dev/null 2>&1
  else
    redis-cli -p $MPORT debug populate "$KEYS" key 16 >/dev/null
  fi
  local mpid base peak now start end writer=
  mpid=$(cat "$WORK/master.pid")
  base=$(pss_kb "$mpid"); peak=$base
  start_replica $R1
  if [ "${2:-}" = writing ]; then
    redis-benchmark -p $MPORT -n 100000000 -r "$KEYS" -c 10 -P 16 -d 16 -t set -q >/dev/null 2>&1 &
    writer=$!
  fi
  start=$(date +%s.%N)
  redis-cli -p $R1 replicaof 127.0.0.1 $MPORT >/dev/null
  until link_up $R1; do
    now=$(pss_kb "$mpid"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.02
  done
  end=$(date +%s.%N)
  [ -n "$writer" ] && kill "$writer" 2>/dev/null
  echo "$(echo "$end - $start" | bc) $(( (peak - base) / 1024 ))"
}

throughput() { # shape -> "rps max_lag_bytes"
  local shape=$1 lag=0 rps
  touch "$WORK/sampling"
  (
    max=0
    while [ -f "$WORK/sampling" ]; do
      # Each replica's offset first, then the master's: an upper bound of the lag (the
      # writes between the two reads count too).
      for r in $R1 $R2; do
        s=$(redis-cli -p $r info replication | awk -F: '/^slave_repl_offset/ {print $2+0}')
        m=$(redis-cli -p $MPORT info replication | awk -F: '/^master_repl_offset/ {print $2+0}')
        d=$((m - s)); [ $d -gt $max ] && max=$d
      done
      echo $max > "$WORK/lag"
      sleep 0.05
    done
  ) &
  rps=$(redis-benchmark -p $MPORT -n "$N" -r 100000 $shape -t set -q 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {print $(NF-5)}' | tail -1)
  rm -f "$WORK/sampling"; wait $! 2>/dev/null || true
  lag=$(cat "$WORK/lag" 2>/dev/null || echo 0)
  echo "$rps $lag"
}

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for kind in redis lite; do
    read -r secs mb < <(full_sync $kind)
    echo "round $round $kind full_sync ${secs}s extra ${mb}MB"
    R[$kind.sync]+="$secs "; R[$kind.mem]+="$mb "
    stop_all
    read -r secs mb < <(full_sync $kind writing)
    echo "round $round $kind full_sync_under_writes ${secs}s extra ${mb}MB"
    R[$kind.wsync]+="$secs "; R[$kind.wmem]+="$mb "
    stop_all
    start_master $kind
    for r in $R1 $R2; do
      start_replica $r
      redis-cli -p $r replicaof 127.0.0.1 $MPORT >/dev/null
    done
    until link_up $R1 && link_up $R2; do sleep 0.05; done
    for shape_name in c50 p16; do
      case $shape_name in c50) shape="-c 50" ;; p16) shape="-c 50 -P 16" ;; esac
      read -r rps lag < <(throughput "$shape")
      echo "round $round $kind $shape_name ${rps} rps, max replica lag ${lag} bytes"
      R[$kind.$shape_name]+="$rps "; R[$kind.$shape_name.lag]+="$lag "
    done
    stop_all
  done
done
echo
printf "%-28s %14s %14s %8s\n" measure redis lite ratio
for m in sync mem wsync wmem c50 c50.lag p16 p16.lag; do
  r=$(echo ${R[redis.$m]} | median); l=$(echo ${R[lite.$m]} | median)
  ratio=$(awk -v a="$l" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-28s %14s %14s %8s\n" "$m" "$r" "$l" "$ratio"
done
