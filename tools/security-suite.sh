#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a public allocator security suite's test programs (GrapheneOS
# hardened_malloc's test/ directory: one misuse per program, small and large
# variants, C and C++) under several allocators and says what became of each
# misuse: "message" (aborted, something on stderr), "SIGSEGV" (killed by a
# fault), "ran on" (exit 0: not detected), or the status. The suite is not
# part of heapkit: fetch it yourself and pass its test/ directory.
#
#   tools/security-suite.sh SUITE_TEST_DIR [NAME=LIB ...]
#
# NAME=LIB preloads LIB (an empty LIB: the system's malloc). Default:
# glibc, build/libheapkit.so, build/libheapkit-checked.so and mimalloc.
# Programs are built under $TMPDIR/hk-smc; a program that needs the suite's
# own extensions (and does not build against glibc) is left out. The cases
# the suite's own expectations (test_smc.py) call misuses (a nonzero return
# code) are counted; the others are programs that must run cleanly.
set -u
suite=${1:?usage: tools/security-suite.sh SUITE_TEST_DIR [NAME=LIB ...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- glibc= "heapkit=$here/build/libheapkit.so" "checked=$here/build/libheapkit-checked.so" \
		"mimalloc=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
fi
out=${TMPDIR:-/tmp}/hk-smc
mkdir -p "$out"

# Every program and its expected return code in test_smc.py: misuses first.
declare -A expect
while read -r t rc; do expect[$t]=$rc; done < <(awk '/def test_/ { sub(/.*def test_/, ""); sub(/\(.*/, ""); name = $0 }
	/returncode, / { rc = $0; sub(/.*returncode, /, "", rc); sub(/\).*/, "", rc); print name, rc }' "$suite/test_smc.py")
programs=$(for t in "${!expect[@]}"; do echo "$t"; done | sort -t' ' -k1 | while read -r t; do
	[ "${expect[$t]}" != 0 ] && echo "0 $t" || echo "1 $t"; done | sort | cut -d' ' -f2)

built=()
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

printf '| case | suite expects |'
for a in "$@"; do printf ' %s |' "${a%%=*}"; done
printf '\n|---|---|'
for a in "$@"; do printf -- '---|'; done
printf '\n'
declare -A msg segv ran clean
nmis=0
for t in "${built[@]}"; do [ "${expect[$t]}" != 0 ] && nmis=$((nmis + 1)); done
for t in "${built[@]}"; do
	case ${expect[$t]} in -6) e="abort" ;; -11) e="SIGSEGV" ;; 0) e="runs cleanly" ;; *) e=${expect[$t]} ;; esac
	printf '| %s | %s |' "$t" "$e"
	misuse=0
	[ "${expect[$t]}" != 0 ] && misuse=1
	for a in "$@"; do
		name=${a%%=*} lib=${a#*=}
		err=$(cd "$out" && if [ -n "$lib" ]; then LD_PRELOAD=$lib timeout 20 "./$t"; else timeout 20 "./$t"; fi 2>&1 >/dev/null)
		rc=$?
		if [ $rc -eq 134 ] && [ -n "$err" ]; then
			r=message; msg[$name]=$((${msg[$name]:-0} + misuse))
		elif [ $rc -eq 139 ]; then
			r=SIGSEGV; segv[$name]=$((${segv[$name]:-0} + misuse))
		elif [ $rc -eq 0 ]; then
			r="ran on"; ran[$name]=$((${ran[$name]:-0} + misuse)); clean[$name]=$((${clean[$name]:-0} + 1 - misuse))
		else
			r="status $rc"
		fi
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
