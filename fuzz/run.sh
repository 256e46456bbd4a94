#!/usr/bin/env bash
# Runs fuzz targets one after the other on the committed corpus (fuzz/corpus/<target>), each
# for FUZZ_SECONDS (default 15) or FUZZ_RUNS executions, whichever comes first. New inputs go
# to a scratch corpus, never into the repository. Fails at the first target that crashes,
# hangs (an input over 10 s) or runs out of memory (2 GiB), leaving the input that did it in
# $FUZZ_LOG_DIR. Usage: fuzz/run.sh [target...] (default: all of them).
set -euo pipefail
cd "$(dirname "$0")"
# FUZZ_BIN: binaries built earlier (by build.sh), to fuzz while the sources change.
bin="${FUZZ_BIN:-$(./build.sh)}"
logs="${FUZZ_LOG_DIR:-$(mktemp -d)}"
mkdir -p "$logs"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
for t in "${targets[@]}"; do
  scratch="$(mktemp -d)"
  args=(-max_total_time="${FUZZ_SECONDS:-15}" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$logs/$t-")
  if [ -n "${FUZZ_RUNS:-}" ]; then args+=(-runs="$FUZZ_RUNS"); fi
  if "$bin/$t" "${args[@]}" "$scratch" "corpus/$t" >"$logs/$t.log" 2>&1; then
    rm -rf "$scratch"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log")
    last=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$logs/$t.log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
    echo "fuzz: $t: $execs executions, $last"
  else
    rm -rf "$scratch"
    echo "fuzz: $t FAILED; its log and the input that did it are in $logs:" >&2
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$logs/$t.log" >&2 || tail -20 "$logs/$t.log" >&2
    exit 1
  fi
done
