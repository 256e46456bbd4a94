#!/usr/bin/env bash
# bench/scaling.sh - issue 20 goal 3: how redis-lite's throughput grows from 1 to 8 event loops,
# beside Redis, on a many-core machine, with the server's and the client's CPU measured so a
# row the client limits is told from one the server limits.
#
# Usage:  bench/scaling.sh [KIT_DIR]   (a kit made by bench/scaling_kit.sh; default
#         target/scaling-kit). Every program runs from the kit, through its own loader.
# Knobs:  THREADS ["1 2 4 8"] (redis-lite's --threads, one server each), ROUNDS [3],
#         TESTS ["get set"], SHAPES ["p1 p16"] (-P 1 and -P 16), CONNECTIONS [400],
#         CLIENT_THREADS [8] (redis-benchmark --threads), SERVER_CPUS ["0-7"] and CLIENT_CPUS
#         ["8-15"] (the cores each side is pinned to), SECONDS_PER_RUN [2], KEYS [1000000] (-r,
#         and the keys written before the runs), REDIS_IO_THREADS ["8"] (a Redis with
#         `io-threads N` and `io-threads-do-reads yes` besides the plain one per value; "" for
#         none), RESULTS [$OUT if set, else bench/results/scaling-<date>].
#
# Each server (Redis, Redis with I/O threads, then redis-lite at each THREADS) is started once,
# pinned to SERVER_CPUS, and filled with KEYS keys of 16 bytes. A short run per server, test and
# shape sizes that row's runs to about SECONDS_PER_RUN (a machine's speed, under gVisor say, is
# not known in advance). Each round then runs every test and shape against every
# server, the order of the servers rotated from round to round, redis-benchmark pinned to
# CLIENT_CPUS. Per run: requests per second (redis-benchmark's CSV), the server's CPU seconds
# (utime + stime from /proc/PID/stat) and redis-benchmark's (bash's `time`), over the run's
# wall time. Writes runs.csv and summary.txt to RESULTS and prints the summary: medians over the
# rounds, the server's and the client's busy cores, and each redis-lite's ratio to its own one
# loop (the goal: 8 loops at least 6x one) and to Redis. A row whose client was busy on nearly
# all its threads (at least 0.9 x CLIENT_THREADS cores) is marked: there the client, not the
# server, may be the limit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/lib.sh"
kit=$(cd "${1:-$root/target/scaling-kit}" && pwd)
threads_list=${THREADS:-1 2 4 8}
rounds=${ROUNDS:-3}
tests=${TESTS:-get set}
shapes=${SHAPES:-p1 p16}
connections=${CONNECTIONS:-400}
client_threads=${CLIENT_THREADS:-8}
server_cpus=${SERVER_CPUS:-0-7}
client_cpus=${CLIENT_CPUS:-8-15}
seconds_per_run=${SECONDS_PER_RUN:-2}
redis_io_threads=${REDIS_IO_THREADS-8}
keys=${KEYS:-1000000}
results=${RESULTS:-${OUT:-$root/bench/results/scaling-$(date +%Y-%m-%d)}}
mkdir -p "$results"

# The kit's programs, each run through the kit's loader with its libraries, first on the PATH
# (for lib.sh's helpers too).
wrappers=$(mktemp -d)
for program in "$kit"/bin/*; do
  printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
    "$kit/lib/ld-linux-x86-64.so.2" "$kit/lib" "$program" >"$wrappers/${program##*/}"
  chmod +x "$wrappers/${program##*/}"
done
PATH=$wrappers:$PATH

# How programs are pinned: taskset, else Python's sched_setaffinity, else (a sandbox that
# refuses affinity) not at all, which machine.txt then says.
pinning=python
command -v taskset >/dev/null && pinning=taskset
if ! { [[ $pinning == taskset ]] && taskset -c "$server_cpus" true; } 2>/dev/null &&
  ! python3 -c "import os; os.sched_setaffinity(0, {0})" 2>/dev/null; then
  pinning=none
fi

pin() { # cpu-list program args...: runs the program on those cores
  local cpus=$1
  shift
  if [[ $pinning == none ]]; then
    "$@"
  elif [[ $pinning == taskset ]]; then
    taskset -c "$cpus" "$@"
  else
    python3 - "$cpus" "$@" <<'EOF'
import os, sys
cpus = set()
for part in sys.argv[1].split(","):
    low, _, high = part.partition("-")
    cpus.update(range(int(low), int(high or low) + 1))
os.sched_setaffinity(0, cpus)
os.execvp(sys.argv[2], sys.argv[2:])
EOF
  fi
}

tick=$(getconf CLK_TCK)

names=(redis)
redis="redis-server --save '' --appendonly no --daemonize no --logfile '' --protected-mode no"
commands=("$redis")
for t in $redis_io_threads; do
  names+=("redis-io$t")
  commands+=("$redis --io-threads $t --io-threads-do-reads yes")
done
for t in $threads_list; do
  names+=("lite-t$t")
  commands+=("redis-lite-server --save '' --appendonly no --threads $t")
done
pids=()
ports=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$wrappers"
}
trap cleanup EXIT
port=$((23000 + RANDOM % 2000))
for i in "${!names[@]}"; do
  eval "pin $server_cpus ${commands[$i]} --port $port" >"$results/${names[$i]}.log" 2>&1 &
  pids+=($!)
  ports+=($port)
  port=$((port + 1))
done
for i in "${!names[@]}"; do
  wait_for_ping "${ports[$i]}" "${pids[$i]}" || { echo "${names[$i]} did not start" >&2; exit 1; }
  # The job started is a shell around the pinned server: its CPU is read from the server's own
  # process, which INFO names (and which the clean-up stops too).
  pids[$i]=$(redis-cli -p "${ports[$i]}" INFO server | awk -F: '/^process_id:/ {print $2 + 0}')
  pin "$client_cpus" redis-benchmark -p "${ports[$i]}" -c 50 -P 64 -d 16 -r "$keys" -n "$keys" \
    -t set -q >/dev/null
done

{
  echo "$(nproc) cores; kernel $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "pinning: $pinning"
  # Hyperthread siblings split between the two sides would share physical cores.
  echo "core 0's hyperthread siblings: $(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo unknown)"
  echo "servers on cores $server_cpus, redis-benchmark on $client_cpus with --threads $client_threads" \
    "and -c $connections; -d 16 -r $keys; $rounds rounds of about ${seconds_per_run} s a run;" \
    "$(redis-server --version | cut -d' ' -f1-3)"
} | tee "$results/machine.txt"

TIMEFORMAT='%3U %3S'
measure() { # round shape test server-index requests: one run, appended to runs.csv
  local pipeline=1 before after started ended rps user sys
  [[ $2 == p16 ]] && pipeline=16
  before=$(cpu_ticks "${pids[$4]}")
  started=$(date +%s.%N)
  { time pin "$client_cpus" redis-benchmark -p "${ports[$4]}" -c "$connections" \
    --threads "$client_threads" -P "$pipeline" -d 16 -r "$keys" -n "$5" -t "$3" --csv \
    >"$results/last.csv" 2>/dev/null; } 2>"$results/last.time"
  ended=$(date +%s.%N)
  after=$(cpu_ticks "${pids[$4]}")
  rps=$(awk -F'"' 'NR == 2 {print $4}' "$results/last.csv")
  read -r user sys <"$results/last.time"
  awk -v run="$1,$2,$3,${names[$4]},$rps" -v started="$started" -v ended="$ended" \
    -v before="$before" -v after="$after" -v tick="$tick" -v user="$user" -v sys="$sys" \
    'BEGIN {printf "%s,%.3f,%.3f,%.3f\n", run, ended - started, (after - before) / tick, user + sys}' |
    tee -a "$results/runs.csv"
}

echo "round,shape,test,server,rps,wall_s,server_cpu_s,client_cpu_s" >"$results/runs.csv"
declare -A requests
for shape in $shapes; do
  probe=50000
  [[ $shape == p16 ]] && probe=400000
  for test in $tests; do
    for i in "${!names[@]}"; do
      measure 0 "$shape" "$test" "$i" "$probe"
      rps=$(tail -1 "$results/runs.csv" | cut -d, -f5)
      requests[$shape.$test.$i]=$(awk -v rps="$rps" -v s="$seconds_per_run" -v min="$probe" \
        'BEGIN {n = int(rps * s); print (n > min ? n : min)}')
    done
  done
done
for round in $(seq "$rounds"); do
  for shape in $shapes; do
    for test in $tests; do
      count=${#names[@]}
      for k in $(seq 0 $((count - 1))); do
        i=$(((k + round) % count))
        measure "$round" "$shape" "$test" "$i" "${requests[$shape.$test.$i]}"
      done
    done
  done
done
rm -f "$results/last.csv" "$results/last.time"

python3 - "$results/runs.csv" "$client_threads" <<'EOF' | tee "$results/summary.txt"
import csv, statistics, sys
# Round 0 holds the short runs that sized the others.
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["round"] != "0"]
client_threads = int(sys.argv[2])
groups = {}
for r in rows:
    groups.setdefault((r["shape"], r["test"], r["server"]), []).append(r)
def med(runs, f):
    return statistics.median(f(r) for r in runs)
print(f"{'shape':6}{'test':5}{'server':9}{'rps':>11}{'server cores':>14}{'client cores':>14}"
      f"{'x 1 loop':>10}{'x redis':>9}")
def rank(server):  # redis, redis-ioN, then lite-tN, each by N
    kind, _, n = server.partition("-")
    return (kind, n.startswith("io"), int(n.lstrip("iot") or 0))
for (shape, test, server), runs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1], rank(g[0][2]))):
    rps = med(runs, lambda r: float(r["rps"]))
    server_cores = med(runs, lambda r: float(r["server_cpu_s"]) / float(r["wall_s"]))
    client_cores = med(runs, lambda r: float(r["client_cpu_s"]) / float(r["wall_s"]))
    def ratio(other):
        base = groups.get((shape, test, other))
        return f"{rps / med(base, lambda r: float(r['rps'])):.2f}" if base else "-"
    one_loop = ratio("lite-t1") if server.startswith("lite") else ""
    mark = "  client-bound?" if client_cores >= 0.9 * client_threads else ""
    print(f"{shape:6}{test:5}{server:9}{rps:11.0f}{server_cores:14.2f}{client_cores:14.2f}"
          f"{one_loop:>10}{ratio('redis'):>9}{mark}")
EOF
