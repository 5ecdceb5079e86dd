#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the heap fuzzer with clang (libFuzzer + ASan + UBSan; the main build
# uses gcc) and run it for SECONDS (default 25) over the corpus kept in the
# repository. New inputs go to $BUILD/corpus, not into the repository.
#
#   test/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
#   HK_FUZZ_BUILD=dir   where to build (default build-fuzz)
#   CC=clang-NN         which clang
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${HK_FUZZ_BUILD:-$root/build-fuzz}
secs=${1:-25}
shift || true
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac

# The allocator sources, as CMakeLists.txt globs them.
defs=(-DHK_HOSTED=1 -DHK_ASAN=1)
srcs=()
for d in core buddy region tlsf shard checked; do
  shopt -s nullglob
  files=("$root"/src/$d/*.c)
  shopt -u nullglob
  if [ ${#files[@]} -gt 0 ]; then
    srcs+=("${files[@]}")
    defs+=("-DHK_HAVE_$(echo "$d" | tr a-z A-Z)=1")
  fi
done

mkdir -p "$out/corpus"
echo "fuzz: building $out/fuzz_heap with $cc"
"$cc" -std=gnu11 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "${defs[@]}" -I"$root/include" -I"$root/src" \
  "${srcs[@]}" "$root/src/platform/hosted.c" "$root/test/fuzz/fuzz_heap.c" \
  -o "$out/fuzz_heap" -lpthread

echo "fuzz: running for ${secs}s"
start=$(date +%s)
cd "$out"
./fuzz_heap -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=2048 -print_final_stats=1 \
  "$@" "$out/corpus" "$root/test/fuzz/corpus"
echo "fuzz: ok after $(( $(date +%s) - start ))s"
