#!/usr/bin/env bash
# The C compiler of deploy/build-dist.sh (it sets CC_x86_64_unknown_linux_gnu to this script):
# `cc` with the arguments it is given, except for jemalloc's sources, which get an optimization
# level per file. jemalloc's configure gives every file `-O3 -funroll-loops`. The files that
# allocation and free run through get -O2 without the unrolling (the same instructions per
# request); the rest (the mallctl tree in ctl.c, stats printing, the profiler, the hugepage
# allocator, background threads: off the request path) is built for size. A flag appended here
# comes after configure's and cc's, so it is the one that counts. BENCHMARKS.md, issue 22.
set -euo pipefail

case $PWD in
  */tikv-jemalloc-sys-*/out/build)
    for arg in "$@"; do
      [[ $arg =~ ^src/([a-z_]+)\.c$ ]] || continue
      case ${BASH_REMATCH[1]} in
        jemalloc | arena | tcache | large | bin | cache_bin | bitmap | emap | rtree | extent | \
          edata | eset | pac | pa | sz | tsd | thread_event | ehooks | pages | decay | base | mutex)
          exec cc "$@" -O2 -fno-unroll-loops ;;
        *) exec cc "$@" -Os -fno-unroll-loops ;;
      esac
    done
    ;;
esac
exec cc "$@"
