#!/usr/bin/env bash
# bench/scaling_kit.sh - packs what bench/scaling.sh needs into one folder, for a machine where
# nothing can be installed (the `device` tool's many-core machine): the release redis-lite
# server (stripped), this machine's redis-server, redis-benchmark and redis-cli, every shared
# library the four load, and the dynamic loader itself, so they run whatever that machine's
# distribution and libc are (bench/scaling.sh starts each through the packed loader).
#
# Usage:  bench/scaling_kit.sh [KIT_DIR]     (default: target/scaling-kit, which git ignores)
# Knobs:  LITE [target/release/redis-lite-server]
# Then, from the repository root, one device call runs the whole table, for example:
#   run(command="bash bench/scaling.sh target/scaling-kit", carry=["target/scaling-kit"])
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit=${1:-$root/target/scaling-kit}
lite=${LITE:-$root/target/release/redis-lite-server}
[[ -x $lite ]] || { echo "no redis-lite server at $lite (cargo build --release -p redis-lite-server)" >&2; exit 1; }

rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/lib"
for tool in redis-server redis-benchmark redis-cli; do
  path=$(command -v "$tool") || { echo "$tool is not on PATH" >&2; exit 1; }
  # redis-server is a link to redis-check-rdb; the copy keeps the name, which Redis reads.
  cp "$(readlink -f "$path")" "$kit/bin/$tool"
done
cp "$lite" "$kit/bin/redis-lite-server"
strip "$kit/bin/redis-lite-server"

# Libraries resolved by ldd (`name => /path (address)`) and the loader (`/path (address)`).
for binary in "$kit"/bin/*; do
  ldd "$binary"
done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u |
  while read -r library; do
    cp -L "$library" "$kit/lib/"
  done
[[ -e $kit/lib/ld-linux-x86-64.so.2 ]] || { echo "ldd named no ld-linux-x86-64.so.2" >&2; exit 1; }

"$kit/lib/ld-linux-x86-64.so.2" --library-path "$kit/lib" "$kit/bin/redis-benchmark" --version >/dev/null
"$kit/lib/ld-linux-x86-64.so.2" --library-path "$kit/lib" "$kit/bin/redis-lite-server" --version >/dev/null
echo "kit in $kit: $(du -sh "$kit" | cut -f1), $(ls "$kit/lib" | wc -l) libraries"
