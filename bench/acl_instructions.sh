#!/usr/bin/env bash
# bench/acl_instructions.sh - instructions per request of the ACL permission check, counted by
# callgrind (exact where times on a shared machine are noise).
#
# Usage:  bench/acl_instructions.sh BEFORE_BINARY AFTER_BINARY
#   BEFORE_BINARY: redis-lite-server built without ACLs (the commit before them), release
#   AFTER_BINARY:  redis-lite-server with ACLs, release
#
# For SET and GET, starts each binary (--threads 1) under callgrind twice and runs
#   redis-benchmark -c 50 -P 16 -r 100000 -t set|get -n N
# with N = 50000 and 250000; the difference of the totals over 200000 requests is the
# instructions per request, start-up and connection set-up cancelled out. "after" runs as the
# default user (every permission: the one-load fast path) and as a user with `+@all ~*` but no
# channels (not unrestricted, so every command goes through the full check).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

before=$1
after=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(free_port 17700)

total_instructions() { # binary test requests mode
  rm -f "$work"/cg.*
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" \
    "$1" --port "$port" --save '' --threads 1 >/dev/null 2>&1 &
  local pid=$!
  until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do sleep 0.2; done
  local auth=()
  if [[ $4 == checked ]]; then
    redis-cli -p "$port" acl setuser bench on '>pw' '+@all' '~*' resetchannels >/dev/null
    auth=(--user bench -a pw)
  fi
  redis-benchmark -p "$port" "${auth[@]}" -c 50 -P 16 -r 100000 -t "$2" -n "$3" -q >/dev/null 2>&1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  awk '/^totals:/ {print $2}' "$work"/cg.*
}

per_request() { # binary test mode
  local small large
  small=$(total_instructions "$1" "$2" 50000 "$3")
  large=$(total_instructions "$1" "$2" 250000 "$3")
  echo $(( (large - small) / 200000 ))
}

for test in set get; do
  b=$(per_request "$before" "$test" default)
  a=$(per_request "$after" "$test" default)
  c=$(per_request "$after" "$test" checked)
  awk -v t="$test" -v b="$b" -v a="$a" -v c="$c" 'BEGIN {
    printf "%s: before %d, after (default user) %d (%+.1f%%), after (checked user) %d (%+.1f%%) instructions/request\n",
      t, b, a, (a / b - 1) * 100, c, (c / b - 1) * 100 }'
done
