#!/bin/sh
# Quick test of run.sh and table.py without the fetched sources: a fake originals dir of tiny stand-in
# programs (one C file, behaving by its name and by which library is preloaded) and fake allocator
# libraries (empty shared objects).  Checks: the "not built" skip, the CSV header and rows, the interleaved
# order, relative-time parsing, failures reported, peak RSS measured per program (not the driver's), and the
# ratios table.py prints.  Usage: test.sh [WORKDIR]   (default: a fresh temporary directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
w=${1:-$(mktemp -d "${TMPDIR:-/tmp}/hk-originals-test.XXXXXX")}
mkdir -p "$w"
cc=${CC:-cc}
fail() { echo "originals test: FAIL: $*" >&2; exit 1; }

# 1. Not built: one line, exit 0, nothing written.
out=$(HK_ORIGINALS_DIR="$w/none" "$here/run.sh" "$w/none.csv")
[ "$out" = "originals: not built at $w/none (see docs/bench.md), skipped" ] || fail "skip message: $out"
[ ! -e "$w/none.csv" ] || fail "skip wrote a CSV"

# 2. Fake programs and libraries.
cat >"$w/standin.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* Behaves by its name: prints the figure the real program prints; touches MiB of memory (more under the
   fake heapkit, which is also "twice as slow" in the relative-time programs); xmalloc-test fails under it. */
int main(int argc, char **argv)
{
	const char *n = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *pre = getenv("LD_PRELOAD");
	int hk = pre && strstr(pre, "libheapkit") != NULL;
	size_t mib = hk ? 24 : 3;
	char *p = malloc(mib << 20);
	if (!p)
		return 3;
	if (getenv("STANDIN_HANG") && strcmp(n, "threadtest") == 0 && pre && strstr(pre, "libmimalloc"))
		for (;;)
			pause();   /* for the timeout test: killed by run.sh */
	memset(p, 1, mib << 20);
	if (strncmp(n, "larson", 6) == 0)
		printf("Throughput = 1 operations per second, relative time: %.3fs.\n", hk ? 20.0 : 10.0);
	else if (strcmp(n, "xmalloc-test") == 0) {
		if (hk)
			return 1;
		printf("rtime: 4.000, free/sec: 1 M\n");
	} else if (strncmp(n, "rptest", 6) == 0)
		printf("crt 2 threads ........%d memory ops/CPU second (1MiB peak)\n", hk ? 500000 : 1000000);
	else if (strncmp(n, "glibc-thread", 12) == 0)
		printf("%d iterations\n", hk ? 25000000 : 50000000);
	printf("%s %d args, %c\n", n, argc - 1, p[mib << 19]);
	free(p);
	return 0;
}
EOF
mkdir -p "$w/orig" "$w/libs" "$w/hk"
$cc -O1 -o "$w/orig/standin" "$w/standin.c"
echo 'int hk_fake_lib_marker;' >"$w/empty.c"
for l in libs/libmimalloc.so.2 libs/libjemalloc.so.2 libs/libtcmalloc_minimal.so.4 hk/libheapkit.so; do
	$cc -shared -fPIC -o "$w/$l" "$w/empty.c"
done
for p in cfrac espresso barnes larson-s larson-sized-s mstress rptest-s alloc-test-s xmalloc-test cache-thrash \
	cache-scratch malloc-large-s glibc-simple-s glibc-thread-s threadtest linux-scalability; do
	ln -sf standin "$w/orig/$p"
done
: >"$w/orig/barnes-s.input"
touch "$w/orig/READY"

# 3. Run: 2 repetitions, 2 threads; the fake xmalloc-test fails under heapkit, so the exit status is 1.
set +e
HK_ORIGINALS_DIR="$w/orig" HK_BUILD="$w/hk" HK_LIBDIR="$w/libs" BENCH_REPS=2 BENCH_THREADS=2 \
	"$here/run.sh" "$w/out.csv" >"$w/run.out" 2>"$w/run.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "run.sh exit status $rc, expected 1 (one program fails): $(cat "$w/run.err")"
grep -q "xmalloc-test .* on heapkit FAILED" "$w/run.err" || fail "failure not reported: $(cat "$w/run.err")"
head -1 "$w/out.csv" | grep -qx 'program,args,alloc,threads,rep,wall_s,cpu_s,peak_rss_kib,status' ||
	fail "header: $(head -1 "$w/out.csv")"

python3 - "$w/out.csv" <<'EOF' || fail "CSV contents"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
allocs = ["heapkit", "mimalloc", "jemalloc", "tcmalloc", "glibc"]
assert len(rows) == 19 * 5 * 2, len(rows)              # 19 program runs (some programs at 1 and 2 threads)
assert [r["alloc"] for r in rows[:10]] == allocs * 2, [r["alloc"] for r in rows[:10]]  # interleaved
assert [r["rep"] for r in rows[:95]] == ["0"] * 95 and rows[95]["rep"] == "1"          # rep is outermost
fails = [(r["program"], r["alloc"]) for r in rows if r["status"] != "ok"]
assert fails == [("xmalloc-test", "heapkit")] * 2, fails
def get(prog, alloc, rep="0", threads=None):
    return [r for r in rows if r["program"] == prog and r["alloc"] == alloc and r["rep"] == rep
            and (threads is None or r["threads"] == threads)][0]
assert abs(float(get("larson", "heapkit")["wall_s"]) - 20.0) < 1e-9                   # relative time, parsed
assert abs(float(get("rptest", "mimalloc")["wall_s"]) - 2.0) < 1e-9                    # 2e6 / ops
assert abs(float(get("glibc-thread", "glibc")["wall_s"]) - 20.0) < 1e-9                # 1e9 / iterations
assert get("alloc-test", "glibc", threads="1")["args"] == "1"
assert get("alloc-test", "glibc", threads="2")["args"] == "2"
assert get("mstress", "glibc")["args"] == "2 50 25"
# peak RSS is the program's: 3 MiB touched (the driver itself is bigger), 24 MiB under the fake heapkit
small, big = int(get("cfrac", "mimalloc")["peak_rss_kib"]), int(get("cfrac", "heapkit")["peak_rss_kib"])
assert 3 * 1024 <= small < 8 * 1024, small
assert 24 * 1024 <= big < 30 * 1024, big
EOF

# 4. The table: heapkit twice mimalloc's relative time in larson, RSS ratio about 24/3, xmalloc FAIL.
python3 "$here/table.py" "$w/out.csv" >"$w/table.md" || fail "table.py failed"
grep -q '^| larson 2t | 10 | ' "$w/table.md" || grep -q '^| larson | 10 | ' "$w/table.md" || fail "larson row: $(cat "$w/table.md")"
grep '^| larson |' "$w/table.md" | grep -q '| 2.00 (2.00–2.00) |' || fail "larson ratio: $(grep larson "$w/table.md")"
grep '^| xmalloc-test |' "$w/table.md" | grep -q '| FAIL | FAIL |' || fail "xmalloc FAIL: $(cat "$w/table.md")"
grep -q '^| alloc-test 1t |' "$w/table.md" && grep -q '^| alloc-test 2t |' "$w/table.md" || fail "thread rows"
python3 - "$w/table.md" <<'EOF' || fail "RSS ratio or geomean: $(cat "$w/table.md")"
import sys
lines = open(sys.argv[1]).read().splitlines()
row = [l for l in lines if l.startswith("| cfrac |")][0].split("|")
rss = float(row[5].split()[0])            # heapkit RSS column
assert 3.0 < rss < 9.0, rss
geo = [l for l in lines if l.startswith("| **geomean**")][0].split("|")
assert "(18)" in geo[4], geo              # heapkit: 18 programs, the failed one left out
assert "(19)" in geo[6] and 0.9 < float(geo[7].strip(" *")) < 1.1, geo  # jemalloc: like mimalloc
EOF
# A program whose baseline failed a run: ratios over the runs where both ran, marked, out of every geomean.
cat >"$w/basefail.csv" <<'EOF'
program,args,alloc,threads,rep,wall_s,cpu_s,peak_rss_kib,status
a,,heapkit,1,0,1.0,1.0,1024,ok
a,,mimalloc,1,0,2.0,2.0,2048,ok
b,,heapkit,1,0,1.0,1.0,1024,ok
b,,mimalloc,1,0,10.0,10.0,1024,ok
a,,heapkit,1,1,1.0,1.0,1024,ok
a,,mimalloc,1,1,2.0,2.0,2048,ok
b,,heapkit,1,1,1.0,1.0,1024,ok
b,,mimalloc,1,1,75.0,0.0,0,fail
EOF
python3 "$here/table.py" "$w/basefail.csv" >"$w/basefail.md" || fail "table.py on a baseline failure"
grep '^| b |' "$w/basefail.md" | grep -q '| 0.10 (baseline failed 1 of 2) |' || fail "baseline failure row: $(cat "$w/basefail.md")"
grep '^| \*\*geomean' "$w/basefail.md" | grep -q '\*\*0.50\*\* (1)' || fail "baseline failure geomean: $(cat "$w/basefail.md")"
# A run killed at BENCH_TIMEOUT says so: status timeout, wall_s the limit, and the table says TIMEOUT.
set +e
STANDIN_HANG=1 HK_ORIGINALS_DIR="$w/orig" HK_BUILD="$w/hk" HK_LIBDIR="$w/libs" BENCH_REPS=1 BENCH_THREADS=2 \
	BENCH_ONLY=threadtest BENCH_TIMEOUT=1 BENCH_ALLOCS=heapkit,mimalloc "$here/run.sh" "$w/hang.csv" \
	>"$w/hang.out" 2>"$w/hang.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "timeout run exit status $rc, expected 1"
grep -q "threadtest .* on mimalloc FAILED (timeout after 1 s)" "$w/hang.err" || fail "timeout message: $(cat "$w/hang.err")"
grep -q '^threadtest,.*,mimalloc,2,0,1.0000,0.0000,0,timeout$' "$w/hang.csv" || fail "timeout row: $(cat "$w/hang.csv")"
grep -q '^threadtest,.*,heapkit,2,0,.*,ok$' "$w/hang.csv" || fail "the other row: $(cat "$w/hang.csv")"
python3 "$here/table.py" "$w/hang.csv" >"$w/hang.md" || fail "table.py on a timeout"
grep '^| threadtest |' "$w/hang.md" | grep -q '| TIMEOUT (> 1 s) | TIMEOUT | [0-9.]* s own (baseline timed out 1 of 1) |' ||
	fail "timeout row in the table: $(cat "$w/hang.md")"
python3 "$here/table.py" --baseline heapkit "$w/hang.csv" | grep '^| threadtest |' | grep -q '| TIMEOUT | TIMEOUT |' ||
	fail "an allocator's own timeout: $(python3 "$here/table.py" --baseline heapkit "$w/hang.csv")"
# A malformed CSV is refused with a message.
printf 'program,alloc\nx,y\n' >"$w/bad.csv"
if python3 "$here/table.py" "$w/bad.csv" 2>"$w/bad.err"; then fail "bad CSV accepted"; fi
grep -q "header" "$w/bad.err" || fail "bad CSV message: $(cat "$w/bad.err")"
[ -n "${1:-}" ] || rm -rf "$w"
echo "originals test: ok"
