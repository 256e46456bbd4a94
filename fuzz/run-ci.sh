#!/usr/bin/env bash
# CI's bounded fuzzing: every target for a short time on the committed corpus, so a change
# that makes a parser panic, hang or overallocate on an input near the corpus fails CI.
# Built at -O1 without debug info: 2 min 33 s against 3 min 55 s for the release profile on
# 2 cores, at the same executions per second (rdb 224k against 170k in 10 s, resp_request 431k
# against 576k); a failure's input is kept, to replay with `fuzz/run.sh` at full settings.
set -euo pipefail
export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0
FUZZ_SECONDS="${FUZZ_SECONDS:-8}" exec "$(dirname "$0")/run.sh" "$@"
