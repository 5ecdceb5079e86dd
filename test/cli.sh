#!/bin/sh
# SPDX-License-Identifier: MIT
# The tools' command-line convention (tools/opts.h, README: Command line), for
# hkbench and each of its commands, hkstress and hklatency:
#   --help     the usage on stdout, nothing on stderr, status 0
#   --version  "<tool> heapkit X.Y.Z", status 0
#   an unknown option: named on stderr with the nearest known one, status 2
#   --allocs   the one spelling of the allocator option (--alloc still taken)
#   test/cli.sh BUILD_DIR VERSION
set -u
build=$1
version=$2
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fails=0
fail() { echo "FAIL $*"; sed 's/^/     /' "$out" "$err" | head -20; fails=$((fails + 1)); }

# each TOOL [COMMAND]: the convention for one program or command.
each() {
	name="$*"
	"$build"/"$@" --help >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "^usage: $name" "$out" && [ ! -s "$err" ] && grep -q -- '--help' "$out"; then
		echo "ok   $name --help"
	else
		fail "$name --help: status $rc, usage on stdout, empty stderr"
	fi
	"$build"/"$@" --version >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q -x "$name heapkit $version" "$out"; then
		echo "ok   $name --version"
	else
		fail "$name --version: status $rc, '$name heapkit $version'"
	fi
	"$build"/"$@" --hepl >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "unknown option '--hepl'; did you mean '--help'?" "$err"; then
		echo "ok   $name --hepl (a suggestion, status 2)"
	else
		fail "$name --hepl: status $rc, the suggestion on stderr"
	fi
}

for c in list run test sweep compare trace-info; do
	each hkbench "$c"
done
each hkstress
each hklatency

# hkbench itself: the commands, and a misspelt one.
"$build"/hkbench --help >"$out" 2>"$err" && grep -q '^usage: hkbench COMMAND' "$out" &&
	[ "$(grep -c -E '^  (list|run|test|sweep|compare|trace-info) ' "$out")" -eq 6 ] &&
	echo "ok   hkbench --help lists the commands" || fail "hkbench --help lists the commands"
"$build"/hkbench --version | grep -q -x "hkbench heapkit $version" && echo "ok   hkbench --version" ||
	fail "hkbench --version"
"$build"/hkbench swep >"$out" 2>"$err"
[ $? -eq 2 ] && grep -q "did you mean 'sweep'" "$err" && echo "ok   hkbench swep (a suggestion)" ||
	fail "hkbench swep"

# The allocator option: --allocs in every usage that takes an allocator, and no other spelling shown.
for t in "hkbench run" "hkbench sweep" "hkbench compare" "hkbench test" hkstress hklatency; do
	# shellcheck disable=SC2086 # the command is split into words on purpose
	"$build"/$t --help >"$out" 2>&1
	if grep -q -- '^  --allocs ' "$out" && ! grep -q -E -- '--alloc( |=|$)' "$out"; then
		echo "ok   $t: --allocs"
	else
		fail "$t: --allocs, and no other spelling"
	fi
done
"$build"/hkbench run glibc-simple --tiny --alloc system --no-header >"$out" 2>"$err" &&
	grep -q '^glibc-simple,system,' "$out" && echo "ok   --alloc still accepted" || fail "--alloc still accepted"

[ "$fails" -eq 0 ] && echo "all command-line checks passed" || echo "$fails command-line checks failed"
[ "$fails" -eq 0 ]
