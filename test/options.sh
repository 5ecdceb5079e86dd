#!/bin/sh
# SPDX-License-Identifier: MIT
# The drop-in's runtime options (src/override/options.c, README: Options):
# what HEAPKIT_SHOW_STATS, HEAPKIT_VERBOSE and HEAPKIT_SHOW_ERRORS print, the
# tunables read from the environment, a misspelt name or a bad value named
# once on stderr, and a HEAPKIT_TRACE path that cannot be written.
#   test/options.sh BUILD_DIR [HK_HARDEN: the build's level, default 1]
set -u
build=$1
level=${2:-1}
lib=$build/libheapkit.so
prog=$build/options_target
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fails=0

# run VAR=VALUE...: the program under the drop-in; its stderr (and the
# statistics' copy of it) in $out.
run() {
	env "$@" LD_PRELOAD="$lib" "$prog" >/dev/null 2>"$out"
	rc=$?
	[ "$rc" -eq 0 ] || { echo "FAIL the program exited with $rc under $*"; fails=$((fails + 1)); }
}
# expect WHAT REGEX: a line of $out matches.
expect() {
	if grep -q -E -- "$2" "$out"; then echo "ok   $1"; else echo "FAIL $1: no line matching '$2' in:"; sed 's/^/     /' "$out"; fails=$((fails + 1)); fi
}
# count WHAT N REGEX: exactly N lines of $out match.
count() {
	n=$(grep -c -E -- "$3" "$out")
	if [ "$n" -eq "$2" ]; then echo "ok   $1"; else echo "FAIL $1: $n lines matching '$3', expected $2:"; sed 's/^/     /' "$out"; fails=$((fails + 1)); fi
}

run
count "silent by default" 0 'heapkit'

# Statistics at exit, though the program closed its stderr first.
run HEAPKIT_SHOW_STATS=1
expect "stats: header" '^heapkit: statistics of libheapkit.so [0-9]+\.[0-9]+\.[0-9]+, pid [0-9]+$'
expect "stats: current and peak memory" '^heapkit: memory in use +now [0-9.]+ [KMG]?i?B, peak [0-9.]+ [KMG]?i?B$'
expect "stats: calls" '^heapkit: blocks +allocated [0-9]+, freed [0-9]+$'
expect "stats: cross-thread frees" '^heapkit: cross-thread frees +collected [1-9][0-9]*$'
expect "stats: segments" '^heapkit: segments \(4 MiB\) +live [0-9]+, small [0-9]+$'
expect "stats: OS mappings" '^heapkit: OS mappings +segments mapped [1-9][0-9]*, unmapped [0-9]+$'
expect "stats: per size class" '^heapkit: per size class'
expect "stats: the 4 KiB class" '^heapkit: +4096 B +[0-9]+ / [0-9]+$'
# Every call counted, the fast paths' too: at least the program's 512 + 100 000 (its C library adds a few).
blocks=$(sed -n 's/^heapkit: blocks *allocated \([0-9]*\), freed \([0-9]*\)$/\1 \2/p' "$out")
if [ -n "$blocks" ] && [ "${blocks% *}" -ge 100512 ] && [ "${blocks#* }" -ge 100512 ]; then
	echo "ok   stats: every malloc and free counted ($blocks)"
else
	echo "FAIL stats: every malloc and free counted: '$blocks', expected 100512 or more each"; fails=$((fails + 1))
fi
# The program held 2 MiB at its peak, and the stats are printed after it freed them; its 100 000 pairs of
# 32-byte blocks stay below it only if every free is counted too (3 MiB more if they were not).
expect "stats: the true peak (2 MiB)" '^heapkit: memory in use .*peak 2\.[0-9] MiB$'

# Verbose: what was loaded, its version, every option with its origin.
run HEAPKIT_VERBOSE=1 HEAPKIT_PURGE_DELAY=-1 HEAPKIT_HUGE_CACHE=64m HEAPKIT_SEGMENT_CACHE=2
expect "verbose: loaded" '^heapkit: libheapkit.so [0-9.]+ \(shard over OS pages.*\) loaded in pid [0-9]+$'
count "verbose: every option listed" 11 '^heapkit: +HEAPKIT_[A-Z_]+=-?[0-9]+ +\((default|environment)\)'
expect "tunable: purge delay" '^heapkit: +HEAPKIT_PURGE_DELAY=-1 +\(environment\)'
expect "tunable: huge cache in MiB" '^heapkit: +HEAPKIT_HUGE_CACHE=67108864 +\(environment\)'
expect "tunable: segment cache" '^heapkit: +HEAPKIT_SEGMENT_CACHE=2 +\(environment\)'
expect "verbose: defaults" '^heapkit: +HEAPKIT_RESERVE=0 +\(default\)'

# The README documents every option the drop-in lists.
run HEAPKIT_VERBOSE=1
readme=$(dirname "$0")/../README.md
for name in $(sed -n 's/^heapkit: *\(HEAPKIT_[A-Z_]*\)=.*/\1/p' "$out"); do
	grep -q "^| \`$name[=\`]" "$readme" && echo "ok   README documents $name" || { echo "FAIL README: no row for $name"; fails=$((fails + 1)); }
done

# malloc(0) and the fault report: named and aborted by default; a 1-byte block
# with HEAPKIT_ZERO_TRAP=0; the plain fault with HEAPKIT_FAULT_REPORT=0; a
# program's own SIGSEGV handler, installed in main, wins over heapkit's; a
# fault elsewhere is the plain SIGSEGV.
# status WHAT WANT MODE VAR=VALUE...: the program's exit status (128 + signal when killed).
status() {
	what=$1 want=$2 mode=$3
	shift 3
	env "$@" LD_PRELOAD="$lib" "$prog" "$mode" >/dev/null 2>"$out"
	got=$?
	if [ "$got" -eq "$want" ]; then echo "ok   $what"; else echo "FAIL $what: status $got, expected $want"; sed 's/^/     /' "$out"; fails=$((fails + 1)); fi
}
# A -DHK_HARDEN=0 build has no trap addresses (its free does not judge pointers): its banner says the
# trap's default is 0, a 1-byte block is what malloc(0) gives, and asking for the trap is refused by name.
run HEAPKIT_VERBOSE=1
if [ "$level" = 0 ]; then
	expect "level 0: the banner says there is no trap" 'HEAPKIT_ZERO_TRAP=0 +\(default\) +malloc\(0\) returns a 1-byte block'
	status "level 0: malloc(0) is a 1-byte block" 0 zero-write
	status "level 0: HEAPKIT_ZERO_TRAP=1 changes nothing" 0 zero-write HEAPKIT_ZERO_TRAP=1
	expect "level 0: HEAPKIT_ZERO_TRAP=1 refused" "^heapkit: bad value '1' for HEAPKIT_ZERO_TRAP \\(expected .* from 0 to 0\\), default 0 kept$"
else
	expect "level $level: the banner says malloc(0) traps" 'HEAPKIT_ZERO_TRAP=1 +\(default\) +malloc\(0\) returns an address where any read or write faults'
	status "zero trap: aborts" 134 zero-write
	expect "zero trap: named" '^heapkit: write into a malloc\(0\) block \(it has no usable bytes\) at 0x[0-9a-f]+$'
	status "zero trap off: a 1-byte block" 0 zero-write HEAPKIT_ZERO_TRAP=0
	status "fault report off: the plain fault" 139 zero-write HEAPKIT_FAULT_REPORT=0
	count "fault report off: nothing said" 0 'heapkit'
	status "the program's own handler wins" 7 own-handler
fi
status "a fault not at a heapkit address: the default action" 139 null-write
count "a fault not at a heapkit address: nothing said" 0 'heapkit'

# Failed requests, one line each, only when asked.
run HEAPKIT_SHOW_ERRORS=1
expect "errors: malloc too large" '^heapkit: a malloc failed: out of memory \(ENOMEM\)$'
expect "errors: calloc overflow" '^heapkit: a request for an overflowing n \* size failed: out of memory \(ENOMEM\)$'
expect "errors: aligned_alloc too large" '^heapkit: a request for 4611686018427387904 bytes failed: out of memory'
count "errors: one line per failure" 3 '^heapkit: a (malloc|request for)'

if [ -e "$build/libheapkit-checked.so" ]; then
	lib=$build/libheapkit-checked.so
	run HEAPKIT_SHOW_ERRORS=1
	count "errors: the checked drop-in too" 3 '^heapkit: a (malloc|request for)'
	lib=$build/libheapkit.so
fi

# A misspelt name: named once, with the nearest option.
run HEAPKIT_SHWO_STATS=1
count "misspelt: named once" 1 '^heapkit: unknown option HEAPKIT_SHWO_STATS \(did you mean HEAPKIT_SHOW_STATS\?\)'
count "misspelt: nothing else" 1 'heapkit'
run HEAPKIT_ZZZZZZZZZZZZ=1
count "unknown: named, no suggestion" 1 '^heapkit: unknown option HEAPKIT_ZZZZZZZZZZZZ, ignored'

# A bad value: named with what was expected; the default stays.
run HEAPKIT_PURGE_DELAY=soon HEAPKIT_VERBOSE=1
count "bad value: named once" 1 "^heapkit: bad value 'soon' for HEAPKIT_PURGE_DELAY \(expected milliseconds from -1 to 60000\), default 25 kept$"
expect "bad value: default kept" '^heapkit: +HEAPKIT_PURGE_DELAY=25 +\(default\)'
run HEAPKIT_HUGE_CACHE=12q
count "bad bytes value" 1 "^heapkit: bad value '12q' for HEAPKIT_HUGE_CACHE"
run HEAPKIT_SHOW_STATS=2
count "bad boolean" 1 "^heapkit: bad value '2' for HEAPKIT_SHOW_STATS \(expected 0 or 1"
# Other heapkit libraries' variables are theirs to judge.
run HEAPKIT_BACKTRACE=1 HEAPKIT_TRACE_CHILDREN=1
count "foreign names left alone" 0 'heapkit'

# The recorder: a trace path that cannot be written is said, once.
if [ -e "$build/libheapkit-trace.so" ]; then
	HEAPKIT_TRACE=/nonexistent-dir/x.trace LD_PRELOAD="$build/libheapkit-trace.so" "$prog" >/dev/null 2>"$out"
	count "trace: unwritable path said" 1 '^heapkit-trace: cannot write the trace to /nonexistent-dir/x.trace \(No such file or directory\); not recording$'
fi

[ "$fails" -eq 0 ] && echo "all options checks passed" || echo "$fails options checks failed"
[ "$fails" -eq 0 ]
