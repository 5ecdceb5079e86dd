#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main benchmark job (`make bench`): the drop-in comparison, a sweep of
# every workload over every allocator at 1 and 2 threads, the recorded
# programs, per-call latency (hklatency), the standard programs
# (bench/originals/run.sh, when built), then the report.
#
#   tools/bench-main.sh [BUILD_DIR]          (default: build)
#
# Environment: BENCH_OUT (default bench-out), BENCH_REPS (default 3),
# BENCH_THREADS (default 1,2), BENCH_ALLOCS (sweep allocators, default: all
# available), BENCH_QUICK=1 (tiny parameters: a smoke run in seconds),
# BENCH_STRICT=0 (exit 0 even if some runs failed), BENCH_ORIGINALS_REPS
# (default 2: repetitions of the standard programs, when they are built).
# Writes BENCH_OUT/{compare.txt,compare.csv,compare.json,sweep.csv,sweep.json,
# summary.csv,trace-*.json,latency.csv,originals.csv,report.html}.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${BENCH_OUT:-bench-out}
REPS=${BENCH_REPS:-3}
THREADS=${BENCH_THREADS:-1,2}
ALLOCS=${BENCH_ALLOCS:-default}
HKB="$BUILD/hkbench"
if [ ! -x "$HKB" ]; then
  echo "bench-main: $HKB not built (run make first)" >&2
  exit 2
fi
mkdir -p "$OUT"
failed=0
tiny=()
[ "${BENCH_QUICK:-0}" = 1 ] && tiny=(--tiny)
start=$(date +%s)

echo "== heapkit benchmarks: $(nproc) CPUs, build $BUILD, $REPS interleaved repetitions"
[ -e "$BUILD/libheapkit.so" ] || echo "   (no $BUILD/libheapkit.so yet: the heapkit drop-in is left out)"

echo
echo "== 1. drop-in comparison (LD_PRELOAD, one process per run)"
"$HKB" compare --reps "$REPS" "${tiny[@]}" --csv "$OUT/compare.csv" --json "$OUT/compare.json" \
  | tee "$OUT/compare.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1

# Sweep parameters: the workloads' defaults scaled so that one run takes
# about 0.05-0.2 s on a small machine; the report shows them per benchmark.
SWEEP_SET=(
  --set threadtest.iterations=20
  --set linux-scalability.iterations=1000000
  --set larson.seconds=0.2
  --set phong.iterations=100000
  --set xmalloc.objects=150000
  --set mstress.iterations=150000
  --set glibc-simple.iterations=1000
  --set glibc-thread.iterations=300000
  --set malloc-large.iterations=60 --set malloc-large.max=16m
  --set fragmentation.objects=50000
)
[ "${BENCH_QUICK:-0}" = 1 ] && SWEEP_SET=()
# Replays of the real programs' traces kept in the repository (bench/traces).
TRACES=(bench/traces/*.trace)
trace_list=$(IFS=,; echo "${TRACES[*]}")
SWEEP_SET+=(--vary "replay.trace=$trace_list")
echo
echo "== 2. sweep: every workload x allocators ($ALLOCS) x threads $THREADS"
"$HKB" sweep --bench all --allocs "$ALLOCS" --threads "$THREADS" --reps "$REPS" "${tiny[@]}" \
  "${SWEEP_SET[@]}" --heap-mb 512 --csv "$OUT/sweep.csv" --json "$OUT/sweep.json" || failed=1

echo
echo "== 3. the recorded programs (bench/traces)"
infos=()
for t in "${TRACES[@]}"; do
  info="$OUT/trace-$(basename "$t" .trace).json"
  "$HKB" trace-info "$t" --json "$info" || failed=1
  infos+=("$info")
done

echo
echo "== 4. per-call latency of the in-process instances (hklatency)"
lat_ops=300000
[ "${BENCH_QUICK:-0}" = 1 ] && lat_ops=20000
report_args=()
if [ -x "$BUILD/hklatency" ]; then
  if "$BUILD/hklatency" --csv --ops "$lat_ops" --repeat 3 > "$OUT/latency.csv"; then
    report_args+=(--latency "$OUT/latency.csv")
  else
    failed=1
  fi
fi

echo
echo "== 5. standard programs (bench/originals)"
rm -f "$OUT/originals.csv"
if [ -f bench/originals/run.sh ]; then
  # Two repetitions keep make bench under 5 minutes with the programs built
  # (BENCH_ORIGINALS_REPS to change); the sweep's BENCH_ALLOCS names are not theirs.
  env -u BENCH_ALLOCS HK_BUILD="$BUILD" BENCH_REPS="${BENCH_ORIGINALS_REPS:-2}" \
    bash bench/originals/run.sh "$OUT/originals.csv" || failed=1
  [ -s "$OUT/originals.csv" ] && report_args+=(--originals "$OUT/originals.csv")
else
  echo "   (bench/originals/run.sh not there: skipped)"
fi

echo
echo "== 6. report"
python3 tools/report.py --sweep "$OUT/sweep.csv" --sweep-json "$OUT/sweep.json" --compare "$OUT/compare.json" \
  --traces "${infos[@]}" "${report_args[@]}" --summary-csv "$OUT/summary.csv" --out "$OUT/report.html" || failed=1
echo "bench-main: done in $(( $(date +%s) - start )) s; outputs in $OUT/"
if [ "$failed" != 0 ]; then
  echo "bench-main: some runs FAILED (see FAIL above and in the report)" >&2
  [ "${BENCH_STRICT:-1}" = 0 ] || exit 1
fi
exit 0
