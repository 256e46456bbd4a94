#!/usr/bin/env bash
# CI's bounded fuzzing: every target for a short time on the committed corpus, so a change
# that makes a parser panic, hang or overallocate on an input near the corpus fails CI.
set -euo pipefail
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" exec "$(dirname "$0")/run.sh" "$@"
