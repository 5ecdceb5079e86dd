#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The benchmark sweep inside Unikraft: build heapkit's benchmark image
# (unikraft/app-bench) ONCE (every boot allocator is in it, chosen at boot
# with heapkit.alloc=NAME), boot it under QEMU once per benchmark x
# allocator x repetition (repetitions interleaved across the allocators:
# A B C A B C ...), gather the CSV rows every boot prints into one file in
# hkbench's format (bench/result.h) and make the HTML report from it.
#
#   tools/uk-sweep.sh [-o OUT] [-r REPS] [-a "ALLOCS"] [-s] ["WORKLOAD k=v ..." ...]
#
#     -o OUT    output directory (default /tmp/uk/sweep)
#     -r REPS   boots per benchmark and allocator (default 3)
#     -a ALLOCS boot allocators (default "mimalloc shard tlsf buddy ukbuddy":
#               mimalloc is the real one; ukbuddy is Unikraft's own binary
#               buddy, the baseline; region is valid too)
#     -s        also boot each image once with "stress" (mstress on the boot
#               allocator and private instances, then the exhaustion check)
#     -m "WORKLOAD k=v ..."  measure instead the smallest guest memory (whole
#               MiB, QEMU -m) in which each allocator passes that run: a
#               bisection between MINMEM_LO (1) and MINMEM_HI (64) MiB, one
#               boot per step; writes OUT/minmem.txt (no sweep, no report)
#     WORKLOAD k=v ...  one parameter set per argument, as "run" takes it in
#               the image (default: the six classic benchmarks, 4 threads,
#               small enough for a few seconds per boot under TCG)
#
# Environment: UK_ROOT (your Unikraft tree, required: nothing is downloaded),
# UK_MUSL and MUSL_TARBALL (for LIBC=musl), LIBC (musl: the real mimalloc
# needs it; nolibc leaves mimalloc out), PAGING (nopaging),
# UK_BUILD / UK_BUILD_DIR / UK_JOBS as tools/uk-run.sh takes them,
# QEMU_MEM (512), QEMU_TIMEOUT (120 s per boot), YIELD (allocator calls
# between two yields in the image, default 64), STRESS_ARGS (for -s; default
# "heap_mb=64 rounds=10 scale=50 transfer=64 large=0"), UK_SWEEP_NOBUILD=1
# (boot the images already in OUT/images). -r 0 -s: the stress boots only
# (sweep.csv and the report are left alone).
#
# Writes OUT/sweep.csv, OUT/summary.csv, OUT/report.html, OUT/stress.txt (-s),
# OUT/wins.txt (which allocator wins which benchmark), OUT/images/hkbench,
# OUT/logs/{build,boot-*}.log. Exit status 0 when every boot passed its checks.
set -eu

usage() { sed -n '4,40p' "$0" >&2; exit 2; }
out=/tmp/uk/sweep reps=3 allocs="mimalloc shard tlsf buddy ukbuddy" stress=0 minmem=
while getopts o:r:a:sm:h opt; do
	case $opt in
	o) out=$OPTARG ;;
	r) reps=$OPTARG ;;
	a) allocs=$OPTARG ;;
	s) stress=1 ;;
	m) minmem=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
	set -- "cache-scratch threads=4 iterations=2000 repetitions=100" \
	       "cache-thrash threads=4 iterations=2000 repetitions=100" \
	       "threadtest threads=4 iterations=20 objects=4000" \
	       "linux-scalability threads=4 iterations=30000" \
	       "larson threads=4 seconds=0.3 slots=500 rounds=2000" \
	       "phong threads=4 iterations=10000 slots=1024"
fi
: "${UK_ROOT:?set UK_ROOT to your Unikraft tree}"
here=$(cd "$(dirname "$0")/.." && pwd)
libc=${LIBC:-musl} paging=${PAGING:-nopaging}
mkdir -p "$out/images" "$out/logs"

# --- Build: one image for every boot allocator -------------------------------------
img=$out/images/hkbench
if [ "${UK_SWEEP_NOBUILD:-0}" = 1 ]; then
	[ -f "$img" ] || { echo "uk-sweep: no $img (build without UK_SWEEP_NOBUILD)" >&2; exit 1; }
else
	echo "uk-sweep: building the image ($libc, $paging; boot allocators: $allocs)"
	built=$(APP=bench UK_NOBOOT=1 "$here/tools/uk-run.sh" tlsf "$libc" "$paging" | tail -n 1) || {
		echo "uk-sweep: build failed" >&2; exit 1; }
	cp "$built" "$img"
	cp "$(dirname "$built")/build-app-bench.log" "$out/logs/build.log"
	cp "$(dirname "$built")/.config" "$out/logs/config"
fi

# --- Boot: one image, one command line ---------------------------------------------
# boot ALLOC LOG ARGS...: the console (CR and escapes removed) into LOG.
boot() {
	a=$1 log=$2
	shift 2
	echo "# qemu-system-x86_64 ... -kernel hkbench -append \"heapkit.alloc=$a -- $*\"" > "$log"
	timeout "${QEMU_TIMEOUT:-120}" qemu-system-x86_64 -accel tcg -cpu max -m "${QEMU_MEM:-512}" \
		-nographic -no-reboot -kernel "$img" -append "heapkit.alloc=$a -- $*" < /dev/null 2>&1 |
		tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >> "$log" || true
}

# The label the image gives the boot allocator (its "allocator" column).
label() { case $1 in ukbuddy) echo uk-boot-ukalloc ;; *) echo "uk-boot-$1" ;; esac; }

# --- Minimum guest memory (-m) --------------------------------------------------------
# passes ALLOC MIB: one boot of the run in MIB MiB; 0 when it printed "hkbench: ok".
passes() {
	# shellcheck disable=SC2086 # the run is split into words on purpose
	QEMU_MEM=$2 boot "$1" "$out/logs/minmem-$1-$2.log" run $minmem yield="${YIELD:-64}"
	grep -q '^hkbench: ok' "$out/logs/minmem-$1-$2.log"
}
if [ -n "$minmem" ]; then
	lo0=${MINMEM_LO:-1} hi0=${MINMEM_HI:-64}
	{
		echo "# smallest guest memory (QEMU -m, MiB) that passes: run $minmem"
		echo "# image $img, $libc, $paging; qemu-system-x86_64 -accel tcg -cpu max -m N; $(date -u +%FT%TZ)"
		echo "# allocator  min_MiB  (fails at min-1; boots tried: MiB=pass/FAIL ...)"
	} > "$out/minmem.txt"
	for a in $allocs; do
		tried=""
		if ! passes "$a" "$hi0"; then
			echo "$a  >$hi0  (FAIL at $hi0)" | tee -a "$out/minmem.txt"
			continue
		fi
		lo=$lo0 hi=$hi0 tried="$hi0=pass"
		# Invariant: hi passes; every size below lo is known (or assumed) to fail.
		while [ "$lo" -lt "$hi" ]; do
			mid=$(( (lo + hi) / 2 ))
			if passes "$a" "$mid"; then hi=$mid tried="$tried $mid=pass"; else lo=$((mid + 1)) tried="$tried $mid=FAIL"; fi
		done
		echo "$a  $hi  ($tried)" | tee -a "$out/minmem.txt"
	done
	exit 0
fi

csv=$out/sweep.csv
# The header the image prints (bench/result.h's HKB_RESULT_CSV_HEADER).
header=benchmark,allocator,threads,params,rep,seconds,throughput,unit,peak_rss_kb,held_kb,live_kb,better,status,cpu_seconds
[ "$reps" -gt 0 ] && echo "$header" > "$csv"
failed=0 nboots=0
rep=0
while [ "$rep" -lt "$reps" ]; do
	set_no=0
	for pset in "$@"; do
		set_no=$((set_no + 1))
		wl=${pset%% *}
		for a in $allocs; do
			log=$out/logs/boot-$a-$set_no-$wl-r$rep.log
			# shellcheck disable=SC2086 # the set is split into words on purpose
			boot "$a" "$log" run $pset yield="${YIELD:-64}"
			nboots=$((nboots + 1))
			# Rows only: Unikraft's console messages (e.g. "[ 0.14] Warn: ... stubbed")
			# may land between the markers.
			rows=$(sed -n '/^--- hkbench csv begin/,/^--- hkbench csv end/p' "$log" |
			       grep -E '^[a-z][a-z0-9-]*,uk-boot-[a-z]+,' || true)
			if grep -q '^hkbench: ok' "$log" && [ -n "$rows" ]; then
				# The image counts repetitions from 0 in each boot: number them by boot.
				echo "$rows" | awk -F, -v OFS=, -v rep="$rep" '{ $5 = rep; print }' >> "$csv"
			else
				failed=$((failed + 1))
				echo "uk-sweep: FAILED: $a: run $pset (see $log)" >&2
				[ -n "$rows" ] && echo "$rows" | awk -F, -v OFS=, -v rep="$rep" '{ $5 = rep; print }' >> "$csv"
				echo "$rows" | grep -q ',FAIL$' ||
					echo "$wl,$(label "$a"),0,boot-failed,$rep,0,0,-,-1,-1,-1,higher,FAIL," >> "$csv"
			fi
		done
	done
	rep=$((rep + 1))
done

# --- Stress: once per image ---------------------------------------------------------
if [ "$stress" = 1 ]; then
	: > "$out/stress.txt"
	for a in $allocs; do
		log=$out/logs/stress-$a.log
		# shellcheck disable=SC2086 # STRESS_ARGS is split into words on purpose
		boot "$a" "$log" stress ${STRESS_ARGS:-heap_mb=64 rounds=10 scale=50 transfer=64 large=0} \
			yield="${YIELD:-64}"
		if grep -q '^hkstress: ok' "$log"; then v=ok; else v=FAILED; failed=$((failed + 1)); fi
		{
			echo "== $a: $v"
			grep -E '^(mstress,|# mstress|boot allocator heap|exhaustion|  [a-z]+: )' "$log" || true
		} >> "$out/stress.txt"
	done
fi

if [ "$reps" -gt 0 ]; then
	python3 "$here/tools/report.py" --sweep "$csv" --baseline "$(label ukbuddy)" \
		--out "$out/report.html" --summary-csv "$out/summary.csv" \
		--title "heapkit on Unikraft ($libc, $paging, QEMU TCG): boot allocators"
	# Which allocator wins which benchmark: the best median of its figure.
	python3 - "$csv" > "$out/wins.txt" <<'PY'
import csv, statistics, sys
runs = {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["status"] != "ok":
        continue
    key = (r["benchmark"], r["unit"], r["better"])
    runs.setdefault(key, {}).setdefault(r["allocator"], []).append(float(r["throughput"]))
print("benchmark           unit        winner (median; every allocator's median, min-max)")
for (bench, unit, better), by in sorted(runs.items()):
    med = {a: statistics.median(v) for a, v in by.items()}
    pick = min if better == "lower" else max
    best = pick(med, key=med.get)
    rest = "  ".join(f"{a} {med[a]:.4g} ({min(by[a]):.4g}-{max(by[a]):.4g})" for a in sorted(med, key=med.get, reverse=better != "lower"))
    print(f"{bench:19s} {unit:11s} {best}: {rest}")
PY
	cat "$out/wins.txt"
fi
echo "uk-sweep: $nboots benchmark boots, $failed failed boots in all; $out"
[ "$failed" -eq 0 ]
