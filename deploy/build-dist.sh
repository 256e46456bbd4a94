#!/usr/bin/env bash
# Builds the shipped binaries with the `dist` profile, linked statically against glibc
# (`+crt-static`), so they run with no shared library at all: on any x86-64 Linux host, in a
# `FROM scratch` image or an empty chroot. The explicit --target keeps build scripts and proc
# macros dynamic (they run here, at build time).
# Output, in target/x86_64-unknown-linux-gnu/dist/:
#   redis-lite-server, redis-lite-cli, redis-lite-check   one program each, for hosts
#   redis-lite                                           all three in one file, chosen by the
#                                                        name it is called by (the image's)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
# Relative relocations packed as RELR (glibc 2.36 relocates a static PIE with them): the usual
# 24 bytes per pointer in read-only-after-relocation data became 256 KB of the server's 8 MB.
# jemalloc's C through deploy/dist-cc.sh: -O2 on its allocation paths, -Os on the rest (the
# mallctl tree alone was 217 KB at -O3 with unrolled loops).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
CC_x86_64_unknown_linux_gnu="$PWD/deploy/dist-cc.sh" \
  cargo build --profile dist --locked --target "$target" \
  -p redis-lite-server -p redis-lite-cli -p redis-lite-check -p redis-lite-dist \
  --bin redis-lite-server --bin redis-lite-cli --bin redis-lite-check --bin redis-lite
out="target/$target/dist"
for bin in redis-lite-server redis-lite-cli redis-lite-check redis-lite; do
  # A static executable has no interpreter (PT_INTERP); `file` is not everywhere, readelf is
  # with binutils, and this check needs neither when both are absent.
  if command -v readelf >/dev/null 2>&1 && readelf -l "$out/$bin" | grep -q 'Requesting program interpreter'; then
    echo "build-dist: $out/$bin is dynamically linked" >&2
    exit 1
  fi
  printf '%s\t%s bytes\n' "$out/$bin" "$(stat -c %s "$out/$bin")"
done
