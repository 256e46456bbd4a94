#!/usr/bin/env bash
# bench/tls.sh - TLS against real Redis, and plain connections before/after TLS landed.
#
# Usage:  [N=requests] bench/tls.sh tls [ROUNDS]
#           redis-lite's and redis-server's TLS ports side by side:
#           redis-benchmark --tls --cacert CA --cert C --key K -p TLSPORT -c 50 -P 16 -n N
#             -t set|get -r 100000 -q
#         [N=requests] BASELINE=/path/to/old/redis-lite-server bench/tls.sh plain [ROUNDS]
#           the same plain SET/GET against the baseline binary and this tree's release build
#
# Both servers run with --threads 1 (redis-lite) and no persistence. Each round runs SET and
# GET against each server in turn (the order alternates between rounds) and records requests/s
# and the server's CPU time per request (utime+stime from /proc, in ns). Prints every run, then
# medians and a/b ratios. Certificates are made by openssl in a scratch directory at run time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/redis-lite-server
[[ -x $bin ]] || { echo "build first: cargo build --release" >&2; exit 1; }
what=${1:-tls}
rounds=${2:-3}
requests=${N:-1000000}
tick=$(getconf CLK_TCK)
scratch=$(mktemp -d)


openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$scratch/ca.key" -out "$scratch/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$scratch/server.key" -out "$scratch/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$scratch/ext"
openssl x509 -req -in "$scratch/server.csr" -CA "$scratch/ca.crt" -CAkey "$scratch/ca.key" \
  -CAcreateserial -days 1 -extfile "$scratch/ext" -out "$scratch/server.crt" 2>/dev/null
tls_files=(--tls-cert-file "$scratch/server.crt" --tls-key-file "$scratch/server.key"
  --tls-ca-cert-file "$scratch/ca.crt")
client_tls=(--tls --cacert "$scratch/ca.crt" --cert "$scratch/server.crt" --key "$scratch/server.key")

declare -A port pid bench_args
if [[ $what == tls ]]; then
  modes=(lite redis)
  port[lite]=$(free_port 17500)
  "$bin" --port 0 --tls-port "${port[lite]}" "${tls_files[@]}" --save '' --threads 1 >/dev/null 2>&1 &
  pid[lite]=$!
  port[redis]=$(free_port $((port[lite] + 1)))
  redis-server --port 0 --tls-port "${port[redis]}" "${tls_files[@]}" --save '' --appendonly no >/dev/null 2>&1 &
  pid[redis]=$!
  bench_args[lite]="${client_tls[*]}"
  bench_args[redis]="${client_tls[*]}"
else
  [[ -x ${BASELINE:-} ]] || { echo "set BASELINE to the old redis-lite-server" >&2; exit 1; }
  modes=(before after)
  port[before]=$(free_port 17500)
  "$BASELINE" --port "${port[before]}" --save '' --threads 1 >/dev/null 2>&1 &
  pid[before]=$!
  port[after]=$(free_port $((port[before] + 1)))
  "$bin" --port "${port[after]}" --save '' --threads 1 >/dev/null 2>&1 &
  pid[after]=$!
  bench_args[before]=""
  bench_args[after]=""
fi
trap 'kill "${pid[${modes[0]}]}" "${pid[${modes[1]}]}" 2>/dev/null || true; rm -rf "$scratch"' EXIT
for mode in "${modes[@]}"; do
  # shellcheck disable=SC2086
  until redis-cli ${bench_args[$mode]} -p "${port[$mode]}" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

results=$(mktemp)
for round in $(seq "$rounds"); do
  order="${modes[0]} ${modes[1]}"
  (( round % 2 == 0 )) && order="${modes[1]} ${modes[0]}"
  for test in set get; do
    for mode in $order; do
      before=$(cpu_ticks "${pid[$mode]}")
      # shellcheck disable=SC2086
      rps=$(redis-benchmark ${bench_args[$mode]} -p "${port[$mode]}" -c 50 -P 16 -n "$requests" \
        -t "$test" -r 100000 -q | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1)
      after=$(cpu_ticks "${pid[$mode]}")
      ns=$(( (after - before) * 1000000000 / tick / requests ))
      echo "round $round $test $mode $rps req/s, $ns ns CPU/request" >&2
      echo "$test $mode $rps $ns" >>"$results"
    done
  done
done

a=${modes[0]} b=${modes[1]}
for test in set get; do
  for mode in "$a" "$b"; do
    rps=$(awk -v t="$test" -v m="$mode" '$1==t && $2==m {print $3}' "$results" | median)
    ns=$(awk -v t="$test" -v m="$mode" '$1==t && $2==m {print $4}' "$results" | median)
    printf '%s %-6s median %10.0f req/s  %5.0f ns CPU/request\n' "$test" "$mode" "$rps" "$ns"
    eval "${test}_${mode}_rps=$rps ${test}_${mode}_ns=$ns"
  done
  ar=${test}_${a}_rps br=${test}_${b}_rps an=${test}_${a}_ns bn=${test}_${b}_ns
  awk -v w="${!ar}" -v x="${!br}" -v y="${!an}" -v z="${!bn}" -v t="$test" -v a="$a" -v b="$b" \
    'BEGIN {printf "%s %s/%s: throughput %.3f, CPU per request %.3f\n", t, a, b, w / x, y / z}'
done
rm -f "$results"
