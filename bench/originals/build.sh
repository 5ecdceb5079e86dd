#!/usr/bin/env bash
# Build the field's standard allocator benchmark programs from a checkout of mimalloc-bench
# (github:daanx/mimalloc-bench) and of Hoard's benchmarks (github:emeryberger/Hoard), which provides
# threadtest and linux-scalability.  Nothing is fetched here and nothing is committed: the sources are
# given as paths.
#
#   bench/originals/build.sh MIMALLOC_BENCH_DIR [HOARD_DIR]
#
# MIMALLOC_BENCH_DIR holds bench/cfrac, bench/larson, ...; HOARD_DIR holds benchmarks/threadtest, ...
# (default: MIMALLOC_BENCH_DIR/extern/hd, where mimalloc-bench's build-bench-env.sh puts Hoard).
# Output: ${HK_ORIGINALS_DIR:-/tmp/originals}/<program> plus the input files, and READY when complete.
# A program that fails to build is reported and left out; the exit status is then 1 (READY is still
# written, listing what was built, so run.sh can run the rest).
set -u

usage() { echo "usage: $0 MIMALLOC_BENCH_DIR [HOARD_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
src=$(cd "$1" 2>/dev/null && pwd) || { echo "build.sh: no directory $1" >&2; exit 2; }
b="$src/bench"
[ -f "$b/larson/larson.cpp" ] || { echo "build.sh: $1 is not a mimalloc-bench checkout (no bench/larson/larson.cpp)" >&2; exit 2; }
hoard="${2:-$src/extern/hd}"
out="${HK_ORIGINALS_DIR:-/tmp/originals}"
mkdir -p "$out" || exit 1
rm -f "$out/READY"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
# As mimalloc-bench's CMake Release build: -O3 -DNDEBUG, warnings off (these are 1980s-1990s sources).
OPT="-O3 -DNDEBUG -w"
log="$out/build.log"
: >"$log"
failed=""
built=""

build() { # name command...
	local name=$1; shift
	if "$@" >>"$log" 2>&1; then
		built="$built $name"
	else
		echo "build.sh: $name failed (see $log)" >&2
		failed="$failed $name"
	fi
}

cfrac_src="cfrac.c pops.c pconst.c pio.c pabs.c pneg.c pcmp.c podd.c phalf.c padd.c psub.c pmul.c pdivmod.c
	psqrt.c ppowmod.c atop.c ptoa.c itop.c utop.c ptou.c errorp.c pfloat.c pidiv.c pimod.c picmp.c primes.c
	pcfrac.c pgcd.c"
espresso_src="cofactor.c cols.c compl.c contain.c cubestr.c cvrin.c cvrm.c cvrmisc.c cvrout.c dominate.c equiv.c
	espresso.c essen.c exact.c expand.c gasp.c getopt.c gimpel.c globals.c hack.c indep.c irred.c main.c map.c
	matrix.c mincov.c opo.c pair.c part.c primes.c reduce.c rows.c set.c setc.c sharp.c sminterf.c solution.c
	sparse.c unate.c utility.c verify.c"
barnes_src="code.c code_io.c load.c grav.c getparam.c util.c"
pre() { local d=$1; shift; for f in "$@"; do printf '%s/%s ' "$d" "$f"; done; }

# Old C: implicit int and implicit declarations are errors in GCC 14; gnu89 accepts them.
OLDC="-std=gnu89 -Wno-implicit-function-declaration -Wno-implicit-int -Wno-int-conversion -Wno-incompatible-pointer-types"
# shellcheck disable=SC2046,SC2086
build cfrac $CC $OPT $OLDC -DNOMEMOPT=1 -o "$out/cfrac" $(pre "$b/cfrac" $cfrac_src) -lm
# shellcheck disable=SC2046,SC2086
build espresso $CC $OPT $OLDC -o "$out/espresso" $(pre "$b/espresso" $espresso_src) -lm
# shellcheck disable=SC2046,SC2086
build barnes $CC $OPT $OLDC -o "$out/barnes" $(pre "$b/barnes" $barnes_src) -lm
build larson $CXX $OPT -std=c++17 -DCPP=1 -o "$out/larson" "$b/larson/larson.cpp" -lpthread
build larson-sized $CXX $OPT -std=c++17 -DCPP=1 -DSIZED=1 -fsized-deallocation -o "$out/larson-sized" \
	"$b/larson/larson.cpp" -lpthread
build alloc-test $CXX $OPT -std=c++17 -DBENCH=4 -o "$out/alloc-test" "$b/alloc-test/test_common.cpp" \
	"$b/alloc-test/allocator_tester.cpp" -lpthread
build cache-scratch $CXX $OPT -std=c++17 -o "$out/cache-scratch" "$b/cache-scratch/cache-scratch.cpp" -lpthread
build cache-thrash $CXX $OPT -std=c++17 -o "$out/cache-thrash" "$b/cache-thrash/cache-thrash.cpp" -lpthread
build xmalloc-test $CC $OPT -o "$out/xmalloc-test" "$b/xmalloc-test/xmalloc-test.c" -lpthread
build malloc-large $CXX $OPT -std=c++17 -o "$out/malloc-large" "$b/malloc-large/malloc-large.cpp" -lpthread
build mstress $CC $OPT -o "$out/mstress" "$b/mstress/mstress.c" -lpthread
build rptest $CC $OPT -I"$b/rptest" -o "$out/rptest" "$b/rptest/rptest.c" "$b/rptest/thread.c" "$b/rptest/timer.c" \
	-lpthread -lm
build glibc-simple $CC $OPT -o "$out/glibc-simple" "$b/glibc-bench/bench-malloc-simple.c" -lpthread
build glibc-thread $CC $OPT -o "$out/glibc-thread" "$b/glibc-bench/bench-malloc-thread.c" -lpthread -lm
cp "$b/espresso/largest.espresso" "$out/largest.espresso" && cp "$b/barnes/input" "$out/barnes.input" ||
	failed="$failed inputs"

# Scaled variants (name-s) for run.sh's default, quick set: the same program with a smaller compiled-in count,
# built from a patched copy of the source under $out/src-s (see docs/bench.md for every change).  The patch
# must apply exactly once, or the variant is not built.
mkdir -p "$out/src-s"
scaled() { # name source 'sed-expression' grep-pattern-after compile-command-with-@SRC@...
	local name=$1 srcf=$2 expr=$3 want=$4; shift 4
	local copy="$out/src-s/$name-$(basename "$srcf")"
	sed "$expr" "$srcf" >"$copy" || { failed="$failed $name"; return; }
	if ! grep -q -- "$want" "$copy" || cmp -s "$srcf" "$copy"; then
		echo "build.sh: $name: patch '$expr' did not apply to $srcf" >&2
		failed="$failed $name"
		return
	fi
	local args=() a
	for a in "$@"; do args+=("${a//@SRC@/$copy}"); done
	build "$name" "${args[@]}"
}
scaled alloc-test-s "$b/alloc-test/allocator_tester.cpp" 's/iterCount = 100000000;/iterCount = 5000000;/' \
	'iterCount = 5000000;' $CXX $OPT -std=c++17 -DBENCH=4 -I"$b/alloc-test" -o "$out/alloc-test-s" \
	"$b/alloc-test/test_common.cpp" @SRC@ -lpthread
scaled malloc-large-s "$b/malloc-large/malloc-large.cpp" 's/kNumIterations = 2000;/kNumIterations = 400;/' \
	'kNumIterations = 400;' $CXX $OPT -std=c++17 -o "$out/malloc-large-s" @SRC@ -lpthread
scaled glibc-simple-s "$b/glibc-bench/bench-malloc-simple.c" 's/define NUM_ITERS 2000000/define NUM_ITERS 200000/' \
	'define NUM_ITERS 200000' $CC $OPT -o "$out/glibc-simple-s" @SRC@ -lpthread
scaled glibc-thread-s "$b/glibc-bench/bench-malloc-thread.c" 's/define BENCHMARK_DURATION\t2/define BENCHMARK_DURATION\t1/' \
	'define BENCHMARK_DURATION.1' $CC $OPT -o "$out/glibc-thread-s" @SRC@ -lpthread -lm
# rptest's main thread polls its workers with 1 s sleeps (about 6 s per run doing nothing); 0.1 s polls.
scaled rptest-s "$b/rptest/rptest.c" 's/thread_sleep(1000);/thread_sleep(100);/g' 'thread_sleep(100);' \
	$CC $OPT -I"$b/rptest" -o "$out/rptest-s" @SRC@ "$b/rptest/thread.c" "$b/rptest/timer.c" -lpthread -lm
# larson sleeps 2.5 s after printing its result (for old threads to die); the figure is already out.
for v in larson larson-sized; do
	if [ $v = larson ]; then d="-DCPP=1"; else d="-DCPP=1 -DSIZED=1 -fsized-deallocation"; fi
	# shellcheck disable=SC2086
	scaled $v-s "$b/larson/larson.cpp" 's/Sleep(2500L) ;/Sleep(0L) ;/' 'Sleep(0L) ;' \
		$CXX $OPT -std=c++17 $d -o "$out/$v-s" @SRC@ -lpthread
done
# Smaller inputs: espresso's first 800 cubes of largest.espresso; barnes with 16384 bodies instead of 163840.
{ head -2 "$b/espresso/largest.espresso"; sed -n '3,$p' "$b/espresso/largest.espresso" | grep -v '^\.' | head -800
	echo .e; } >"$out/espresso-s.espresso"
sed '2s/^163840$/16384/' "$b/barnes/input" >"$out/barnes-s.input"
grep -qx 16384 "$out/barnes-s.input" || { echo "build.sh: barnes input has no 163840 on line 2" >&2; failed="$failed barnes-s.input"; }

if [ -d "$hoard/benchmarks" ]; then
	h="$hoard/benchmarks"
	build threadtest $CXX $OPT -std=c++17 -I"$h/common" -o "$out/threadtest" "$h/threadtest/threadtest.cpp" -lpthread
	build linux-scalability $CC $OPT -I"$h/common" -I"$h/linux-scalability" -o "$out/linux-scalability" \
		"$h/linux-scalability/linux-scalability.c" -lpthread -lm
else
	echo "build.sh: no Hoard checkout at $hoard (threadtest, linux-scalability left out)" >&2
	failed="$failed threadtest linux-scalability"
fi

echo "built:$built" | tee "$out/READY"
if [ -n "$failed" ]; then
	echo "not built:$failed" | tee -a "$out/READY" >&2
	exit 1
fi
