#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a public allocator security suite's test programs under several
# allocators and says what became of each case. Two suites are known; the
# directory says which:
#
# - mimalloc-bench's bench/security/ (a common.h that prints NOT_CAUGHT):
#   every .c built three times, with ALLOCATION_SIZE 8, 4096 and 256 KiB
#   (_small, _medium, _large), every .cc once at 4096, with the flags of the
#   suite's CMakeLists.txt (Release: -O3). A case is caught, as the suite's
#   own driver counts it, when it does not print NOT_CAUGHT and does not
#   time out; caught cases are told apart as "message" (aborted, something
#   on stderr), "SIGSEGV" (killed by a fault) or "held" (exit 0: a property
#   the case checks held); "NOT_CAUGHT" and "late" (NOT_CAUGHT, then a
#   failure) are not caught.
# - GrapheneOS hardened_malloc's test/ directory (a test_smc.py): one
#   misuse per program, small and large variants; "message", "SIGSEGV",
#   "ran on" (exit 0: not detected) or the status. The cases test_smc.py
#   calls misuses (a nonzero return code) are counted; the others must run
#   cleanly. A program that needs the suite's own extensions is left out.
#
#   tools/security-suite.sh SUITE_DIR [NAME=LIB ...]
#
# NAME=LIB preloads LIB (an empty LIB: the system's malloc). Default:
# glibc, build/libheapkit.so, build/libheapkit-checked.so and mimalloc.
# Neither suite is part of heapkit: fetch it yourself. Programs are built
# under $TMPDIR/hk-smc; each gets HK_SUITE_TIMEOUT seconds (default 10).
set -u
suite=${1:?usage: tools/security-suite.sh SUITE_DIR [NAME=LIB ...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- glibc= "heapkit=$here/build/libheapkit.so" "checked=$here/build/libheapkit-checked.so" \
		"mimalloc=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
fi
out=${TMPDIR:-/tmp}/hk-smc
limit=${HK_SUITE_TIMEOUT:-10}
mkdir -p "$out"

# run_case PROGRAM LIB: sets rc, err (stderr, one line) and said (stdout)
run_case() {
	(cd "$out" && if [ -n "$2" ]; then LD_PRELOAD=$2 timeout "$limit" "./$1"; else timeout "$limit" "./$1"; fi \
		>"$out/.stdout" 2>"$out/.stderr") 2>/dev/null
	rc=$?
	said=$(tr -d '\0' <"$out/.stdout")
	err=$(head -c 400 "$out/.stderr" | tr '\n\0' '  ')
}

# outcome WORD: r from the last run_case: message, SIGSEGV, WORD (exit 0) or the status
outcome() {
	if [ "$rc" -eq 134 ] && [ -n "$err" ]; then
		r=message
	elif [ "$rc" -eq 139 ]; then
		r=SIGSEGV
	elif [ "$rc" -eq 0 ]; then
		r=$1
	else
		r="status $rc"
	fi
}

table_head() {
	printf '| %s | %s |' "$1" "$2"
	shift 2
	for a in "$@"; do printf ' %s |' "${a%%=*}"; done
	printf '\n|---|---|'
	for a in "$@"; do printf -- '---|'; done
	printf '\n'
}

# --- mimalloc-bench bench/security ---------------------------------------------
# A case's category, by its program's name.
category() {
	case $1 in
	double_free*) echo "double free" ;;
	invalid_free*) echo "invalid free (stack, alloca, far, close, interior, unaligned)" ;;
	*delete*) echo "C++ new/delete form or size mismatch" ;;
	*_memcpy_*) echo "overflow or underflow by memcpy (1 B, 32 B, 1 MiB)" ;;
	one_byte_* | 32_byte_* | one_mbyte_*) echo "overflow or underflow by a write (1 B, 32 B, 1 MiB)" ;;
	write_after_free*) echo "write after free" ;;
	*zero_size*) echo "access to a malloc(0) block" ;;
	*) echo "properties (no reuse, zeroing, NX heap, impossible size)" ;;
	esac
}

mimalloc_bench() {
	local flags=(-O3 -DNDEBUG -Wno-free-nonheap-object -fno-inline -fno-builtin-inline -fno-inline-small-functions
		-fno-ipa-pure-const -w)
	local built=() f n s
	for f in "$suite"/*.c; do
		n=$(basename "$f" .c)
		for s in small:8 medium:4096 'large:256*1024'; do
			cc "${flags[@]}" "-DALLOCATION_SIZE=${s#*:}" -o "$out/${n}_${s%%:*}" "$f" 2>/dev/null &&
				built+=("${n}_${s%%:*}")
		done
	done
	for f in "$suite"/*.cc; do
		n=$(basename "$f" .cc)
		c++ -O3 -DNDEBUG -std=c++17 -fsized-deallocation -w -DALLOCATION_SIZE=4096 -o "$out/$n" "$f" 2>/dev/null &&
			built+=("$n")
	done
	printf 'Per case (caught: message, SIGSEGV or held; not caught: NOT_CAUGHT, late or timeout):\n\n'
	table_head case category "$@"
	declare -A caught msg segv ncat catcaught catmsg
	local t a name lib r cat
	for t in $(printf '%s\n' "${built[@]}" | sort); do
		cat=$(category "$t")
		printf '| %s | %s |' "$t" "$cat"
		ncat[$cat]=$((${ncat[$cat]:-0} + 1))
		for a in "$@"; do
			name=${a%%=*} lib=${a#*=}
			run_case "$t" "$lib"
			if [[ $said == *NOT_CAUGHT* ]]; then
				[ "$rc" -eq 0 ] && r=NOT_CAUGHT || r="late ($rc)"
			elif [ "$rc" -eq 124 ]; then
				r=timeout
			else
				caught[$name]=$((${caught[$name]:-0} + 1))
				catcaught[$cat/$name]=$((${catcaught[$cat/$name]:-0} + 1))
				outcome held
				if [ "$r" = message ]; then
					msg[$name]=$((${msg[$name]:-0} + 1))
					catmsg[$cat/$name]=$((${catmsg[$cat/$name]:-0} + 1))
				fi
				[ "$r" = SIGSEGV ] && segv[$name]=$((${segv[$name]:-0} + 1))
			fi
			printf ' %s |' "$r"
		done
		printf '\n'
	done
	printf '\nPer category, cases caught (of them with a message):\n\n'
	table_head category cases "$@"
	while read -r cat; do
		printf '| %s | %d |' "$cat" "${ncat[$cat]}"
		for a in "$@"; do
			name=${a%%=*}
			printf ' %d (%d) |' "${catcaught[$cat/$name]:-0}" "${catmsg[$cat/$name]:-0}"
		done
		printf '\n'
	done < <(printf '%s\n' "${!ncat[@]}" | sort)
	printf '| **all** | %d |' "${#built[@]}"
	for a in "$@"; do printf ' **%d** (%d) |' "${caught[${a%%=*}]:-0}" "${msg[${a%%=*}]:-0}"; done
	printf '\n\n%d cases built.\n' "${#built[@]}"
	for a in "$@"; do
		name=${a%%=*}
		printf '%s: caught %d of %d (%d with a message, %d by SIGSEGV)\n' "$name" "${caught[$name]:-0}" \
			"${#built[@]}" "${msg[$name]:-0}" "${segv[$name]:-0}"
	done
}

# --- hardened_malloc test/ ------------------------------------------------------
hardened_malloc() {
	# Every program and its expected return code in test_smc.py: misuses first.
	declare -A expect
	local t rc_ e
	while read -r t rc_; do expect[$t]=$rc_; done < <(awk '/def test_/ { sub(/.*def test_/, ""); sub(/\(.*/, ""); name = $0 }
		/returncode, / { rc = $0; sub(/.*returncode, /, "", rc); sub(/\).*/, "", rc); print name, rc }' "$suite/test_smc.py")
	local programs
	programs=$(for t in "${!expect[@]}"; do echo "$t"; done | while read -r t; do
		[ "${expect[$t]}" != 0 ] && echo "0 $t" || echo "1 $t"; done | sort | cut -d' ' -f2)
	local built=()
	for t in $programs; do
		if [ -f "$suite/$t.c" ]; then
			cc -std=gnu2x -O0 -D_GNU_SOURCE -w -o "$out/$t" "$suite/$t.c" -lpthread 2>/dev/null || continue
		elif [ -f "$suite/$t.cc" ]; then
			c++ -std=c++17 -fsized-deallocation -O0 -w -o "$out/$t" "$suite/$t.cc" 2>/dev/null || continue
		else
			continue
		fi
		built+=("$t")
	done
	table_head case "suite expects" "$@"
	declare -A msg segv ran clean
	local nmis=0 misuse a name lib r
	for t in "${built[@]}"; do [ "${expect[$t]}" != 0 ] && nmis=$((nmis + 1)); done
	for t in "${built[@]}"; do
		case ${expect[$t]} in -6) e="abort" ;; -11) e="SIGSEGV" ;; 0) e="runs cleanly" ;; *) e=${expect[$t]} ;; esac
		printf '| %s | %s |' "$t" "$e"
		misuse=0
		[ "${expect[$t]}" != 0 ] && misuse=1
		for a in "$@"; do
			name=${a%%=*} lib=${a#*=}
			run_case "$t" "$lib"
			outcome "ran on"
			case $r in
			message) msg[$name]=$((${msg[$name]:-0} + misuse)) ;;
			SIGSEGV) segv[$name]=$((${segv[$name]:-0} + misuse)) ;;
			"ran on") ran[$name]=$((${ran[$name]:-0} + misuse)); clean[$name]=$((${clean[$name]:-0} + 1 - misuse)) ;;
			esac
			printf ' %s |' "$r"
		done
		printf '\n'
	done
	printf '\n%d programs built, %d of them misuses.\n' "${#built[@]}" "$nmis"
	for a in "$@"; do
		name=${a%%=*}
		printf '%s: misuses: %d message, %d SIGSEGV, %d ran on; clean programs run cleanly: %d of %d\n' "$name" \
			"${msg[$name]:-0}" "${segv[$name]:-0}" "${ran[$name]:-0}" "${clean[$name]:-0}" $((${#built[@]} - nmis))
	done
}

if grep -qs NOT_CAUGHT "$suite/common.h"; then
	mimalloc_bench "$@"
elif [ -f "$suite/test_smc.py" ]; then
	hardened_malloc "$@"
else
	echo "security-suite: $suite is neither mimalloc-bench's bench/security nor hardened_malloc's test/" >&2
	exit 2
fi
