#!/usr/bin/env bash
# bench/rdb_load.sh - how long redis-lite builds take to load one snapshot: each binary in turn,
# ROUNDS times alternating, is started on the directory holding dump.rdb and timed until its
# first PONG (a server answers -LOADING until the load ends); DBSIZE says what was loaded.
#
# Usage:  bench/rdb_load.sh DIR LABEL=BINARY [LABEL=BINARY...]
#         (DIR holds dump.rdb, for example one real Redis saved after DEBUG POPULATE)
# Knobs: ROUNDS [3]. Prints one line per run, then the median per label.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"

dir=$1
shift
rounds=${ROUNDS:-3}
port=$(free_port 17990)
declare -A times
for round in $(seq 1 "$rounds"); do
  for column in "$@"; do
    label=${column%%=*}
    binary=${column#*=}
    start=$(date +%s.%N)
    "$binary" --port "$port" --dir "$dir" --save '' --appendonly no >/dev/null 2>&1 &
    pid=$!
    until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do sleep 0.02; done
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    keys=$(redis-cli -p "$port" dbsize)
    shutdown_server "$port" "$pid"
    echo "round $round $label ${seconds}s $keys keys"
    times[$label]+="$seconds "
  done
done
for column in "$@"; do
  label=${column%%=*}
  echo "$label median $(median ${times[$label]})s"
done
