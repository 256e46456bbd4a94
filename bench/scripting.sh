#!/usr/bin/env bash
# EVALSHA side by side with real Redis: a one-GET script and a small read-modify-write script,
# at -c 50 and -P 16, alternating servers each round; prints each run and the medians.
# Usage: bench/scripting.sh [lite binary] (default target/release/redis-lite-server)
# Knobs: ROUNDS (3), N (200000 requests per run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LITE=${1:-target/release/redis-lite-server}
ROUNDS=${ROUNDS:-3}
N=${N:-200000}
RPORT=16500
LPORT=16501
redis-server --port $RPORT --save "" --appendonly no --daemonize no --logfile "" >/dev/null 2>&1 &
RPID=$!
"$LITE" --port $LPORT --save "" --appendonly no >/dev/null 2>&1 &
LPID=$!
trap 'kill $RPID $LPID 2>/dev/null || true' EXIT
sleep 1
GET_SCRIPT="return redis.call('GET', KEYS[1])"
RMW_SCRIPT="local v = tonumber(redis.call('GET', KEYS[1]) or '0'); if v < 1000000000 then redis.call('SET', KEYS[1], v + 1) end; return v"
declare -A SHA
for port in $RPORT $LPORT; do
  redis-cli -p $port SET k 1 >/dev/null
  SHA[get]=$(redis-cli -p $port SCRIPT LOAD "$GET_SCRIPT")
  SHA[rmw]=$(redis-cli -p $port SCRIPT LOAD "$RMW_SCRIPT")
done
run() { # port script shape -> requests per second
  local port=$1 sha=$2 shape=$3
  redis-benchmark -p "$port" -n "$N" $shape -q EVALSHA "$sha" 1 k 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {print $(NF-5)}' | tail -1
}
declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  for script in get rmw; do
    for shape_name in c50 p16; do
      case $shape_name in c50) shape="-c 50" ;; p16) shape="-c 50 -P 16" ;; esac
      for server in redis lite; do
        port=$RPORT; [ $server = lite ] && port=$LPORT
        rps=$(run $port "${SHA[$script]}" "$shape")
        echo "round $round $script $shape_name $server $rps"
        RESULTS[$script.$shape_name.$server]+="$rps "
      done
    done
  done
done
echo
printf "%-10s %-5s %12s %12s %7s\n" script shape redis lite ratio
for script in get rmw; do
  for shape_name in c50 p16; do
    r=$(echo ${RESULTS[$script.$shape_name.redis]} | median)
    l=$(echo ${RESULTS[$script.$shape_name.lite]} | median)
    printf "%-10s %-5s %12s %12s %7.2f\n" $script $shape_name $r $l "$(echo "$l / $r" | bc -l)"
  done
done
