#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation (what `cargo fuzz build`
# does, without needing cargo-fuzz): SanitizerCoverage's inline 8-bit counters, PC table and
# comparison tracing, passed as stable -C flags. Only the fuzz binaries and the crates they
# link are instrumented (`--target` keeps RUSTFLAGS away from build scripts and proc macros).
#
# FUZZ_SANITIZER=address adds AddressSanitizer. `-Zsanitizer` is unstable, so the stable
# compiler is told to accept it with RUSTC_BOOTSTRAP=1 (a nightly toolchain works the same).
# The parsers are safe Rust; the default run goes without it for speed.
set -euo pipefail
cd "$(dirname "$0")"
target="$(rustc -vV | sed -n 's/^host: //p')"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
if [ "${FUZZ_SANITIZER:-}" = address ]; then
  export RUSTC_BOOTSTRAP=1
  flags+=" -Zsanitizer=address"
fi
RUSTFLAGS="$flags" cargo build --release --target "$target" --bins "$@" >&2
echo "$PWD/target/$target/release"
