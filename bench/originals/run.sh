#!/bin/sh
# bench/originals/run.sh OUT_CSV: the standard allocator benchmark programs (built by build.sh into
# ${HK_ORIGINALS_DIR:-/tmp/originals}) against heapkit, mimalloc, jemalloc, tcmalloc and glibc, interleaved.
# Options are environment variables: see bench/originals/run.py and docs/bench.md.
exec python3 "$(dirname "$0")/run.py" "$@"
