# bench/lib.sh - helpers shared by the bench/*.sh scripts; source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Owns the small pieces every benchmark needs the same way: the median of a list of numbers,
# a free local port, the servers a comparison runs, and callgrind's instruction totals of a
# running server.

# median [NUMBER...]: the median of the arguments, or of the numbers on standard input
# (separated by spaces or newlines) when there are none; an even count gives the mean of the
# middle two.
median() {
  if (($#)); then printf '%s\n' "$@"; else cat; fi |
    tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# free_port START: the first port from START up that nothing on 127.0.0.1 listens on (a server
# still starting does not count yet: start two scripts a few seconds apart).
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# wait_for_ping PORT [PID]: until the server on PORT answers PING; fails if PID exits first.
wait_for_ping() {
  if ! command -v redis-cli >/dev/null; then
    echo "redis-cli is not installed (Debian: apt-get install redis-tools)" >&2
    return 1
  fi
  until redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; do
    if [[ -n ${2:-} ]] && ! kill -0 "$2" 2>/dev/null; then
      echo "server on port $1 exited before answering PING" >&2
      return 1
    fi
    sleep 0.2
  done
}

# shutdown_server PORT PID: SHUTDOWN NOSAVE to the server on PORT, then waits for PID to go.
shutdown_server() {
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
  wait "$2" 2>/dev/null || true
}

# callgrind_dump PID FILE_PREFIX: asks the callgrind-run process PID to write its counters
# since the previous dump, and prints that dump's total instructions. Dumps are numbered
# files FILE_PREFIX.PID.N; the newest one is read.
dump_count() { # PID FILE_PREFIX: how many dumps PID wrote so far
  { compgen -G "$2.$1.*" || true; } | wc -l
}

callgrind_dump() {
  local before after
  before=$(dump_count "$@")
  # vgdb, not callgrind_control: that finds its targets by their command line, which
  # redis-lite rewrites (the process title).
  vgdb --pid="$1" dump >/dev/null 2>&1
  after=$before
  until ((after > before)); do
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.1
    after=$(dump_count "$@")
  done
  local newest
  newest=$(ls -t "$2.$1".* | head -1)
  until grep -q '^totals:' "$newest"; do sleep 0.1; done
  awk '/^totals:/ {print $2}' "$newest"
}

# cpu_ticks PID: the process's utime + stime, all threads, in clock ticks (getconf CLK_TCK).
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# scratch_and_cleanup: a scratch directory in $work, removed on exit, and the server whose pid
# the script keeps in $server_pid stopped then.
scratch_and_cleanup() {
  work=$(mktemp -d)
  server_pid=
  trap 'if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi; rm -rf "$work"' EXIT
}

# measure_servers FUNCTION [LABEL=LITE_BINARY ...]: calls `FUNCTION COLUMN COMMAND...` for
# real Redis (`redis`; REDIS=path picks another, REDIS= none), then for each redis-lite binary
# (default: lite=target/release/redis-lite-server) with each loop count in THREADS
# ["1 default"]: column LABEL-t1 runs `BINARY --threads 1`, column LABEL the default. Each
# column's name is appended to the array `columns`, in order, for the script's table.
measure_servers() {
  local measure=$1
  shift
  columns=()
  column() {
    columns+=("$1")
    "$measure" "$@"
  }
  local redis=${REDIS-$(command -v redis-server)}
  if [[ -n $redis ]]; then column redis "$redis"; fi
  local servers=("$@")
  if ((${#servers[@]} == 0)); then
    servers=("lite=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/redis-lite-server")
  fi
  local server label binary threads
  for server in "${servers[@]}"; do
    label=${server%%=*} binary=${server#*=}
    for threads in ${THREADS-1 default}; do
      if [[ $threads == default ]]; then
        column "$label" "$binary"
      else
        column "$label-t$threads" "$binary" --threads "$threads"
      fi
    done
  done
}

# collect_columns [LABEL=LITE_BINARY ...]: measure_servers's columns, started by nothing yet:
# fills `columns` and the associative array `command_of` (column -> the command that starts
# it), for scripts that start every column once per round, in an order rotated between rounds.
collect_columns() {
  declare -gA command_of=()
  record_column() { # column command...
    local column=$1
    shift
    command_of[$column]="$*"
  }
  measure_servers record_column "$@"
}

# start_column COLUMN [LOG]: starts COLUMN's server (see collect_columns) on $port without
# persistence, output to LOG [/dev/null], its pid in $server_pid; returns once it answers PING.
start_column() {
  # shellcheck disable=SC2086 # the stored command is a word list
  ${command_of[$1]} --port "$port" --save '' --appendonly no >"${2:-/dev/null}" 2>&1 &
  server_pid=$!
  wait_for_ping "$port" "$server_pid"
}

# rotate_rounds ROUNDS FUNCTION: calls `FUNCTION ROUND COLUMN` for every column (see
# collect_columns) in each of ROUNDS rounds, the order rotated by one each round, so that
# background load and warm caches fall on every column alike.
rotate_rounds() {
  local rounds=$1 function=$2 round i count=${#columns[@]}
  for ((round = 0; round < rounds; round++)); do
    for ((i = 0; i < count; i++)); do
      "$function" "$round" "${columns[(i + round) % count]}"
    done
  done
}
