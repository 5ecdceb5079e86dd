#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Configure, build and boot heapkit's Unikraft test app (unikraft/app-test)
# or benchmark image (unikraft/app-bench), keeping the logs:
#
#   tools/uk-run.sh BACKEND LIBC PAGING [APP ARGS...]
#
#     BACKEND  the boot allocator, chosen at boot (heapkit.alloc=BACKEND):
#              tlsf | shard | buddy | region | mimalloc (the real one)
#              ukbuddy                         (Unikraft's own, to compare)
#              One image per LIBC and PAGING serves every BACKEND.
#     LIBC     nolibc | musl
#     PAGING   paging (PAGING + ukvmem) | nopaging
#     APP ARGS test: threads=4 ops=3000 churn=100
#              bench: run cache-scratch threads=4 [alloc=tlsf] [reps=3] [yield=N]
#                     stress [threads=4] [iterations=N] [heap_mb=N]
#
# Environment:
#   APP          test (default) or bench
#   UK_ROOT      your Unikraft tree (required)
#   UK_MUSL      your lib-musl tree (for LIBC=musl)
#   MUSL_TARBALL a local musl-1.2.3.tar.gz, put where lib-musl would download
#                it (for builds without internet)
#   MIMALLOC_TARBALL  a local mimalloc-2.1.7.tar.gz (else Makefile.uk
#                downloads the release)
#   UK_MIMALLOC  0: leave the real mimalloc out of the image (default 1;
#                it needs musl: never in a nolibc image)
#   UK_BUILD     where build directories go (default /tmp/uk/build); each
#                image builds in $UK_BUILD/hk-APP-LIBC-PAGING with its
#                .config, build-APP.log and boot.log (one per app: Unikraft
#                rebuilds musl when the app or the set of libraries changes)
#   UK_BUILD_DIR build in this directory instead
#   UK_EXTRA_CONFIG  more defconfig fragments (files, space separated), e.g.
#                unikraft/configs/checked.config
#   UK_JOBS      make -j (default 2)
#   QEMU_MEM     guest memory in MiB (default 256)
#   QEMU_TIMEOUT seconds before the boot is called hung (default 600)
#   UK_NOBUILD   1: boot the existing image only
#   UK_NOBOOT    1: configure and build only; print the image's path
#
# Each step says what it does; the first that fails stops the script with
# "uk-run: FAILED at STEP" and the end of that step's log. Exit status 0
# when the app printed "heapkit-app-test: PASS" (the bench: "hkbench: ok",
# or "hkstress: ok" for its stress command).
set -eu

usage() { sed -n '4,44p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
backend=$1 libc=$2 paging=$3
shift 3
case $backend in tlsf|shard|buddy|region|mimalloc|ukbuddy) ;; *) usage ;; esac
case $libc in nolibc|musl) ;; *) usage ;; esac
case $paging in paging|nopaging) ;; *) usage ;; esac

: "${UK_ROOT:?set UK_ROOT to your Unikraft tree}"
here=$(cd "$(dirname "$0")/.." && pwd)
configs=$here/unikraft/configs
case ${APP:-test} in
test) app=$here/unikraft/app-test name=app-test pass='heapkit-app-test: PASS' ;;
bench) app=$here/unikraft/app-bench name=app-bench pass='^hkbench: ok\|^hkstress: ok' ;;
*) usage ;;
esac
build=${UK_BUILD_DIR:-${UK_BUILD:-/tmp/uk/build}/hk-${APP:-test}-$libc-$paging}
jobs=${UK_JOBS:-2}
libs=$here/unikraft
if [ "$libc" = musl ]; then
	: "${UK_MUSL:?set UK_MUSL to your lib-musl tree for LIBC=musl}"
	libs=$libs:$UK_MUSL
fi
mimalloc_cfg=
[ "${UK_MIMALLOC:-1}" = 1 ] && [ "$libc" = musl ] && mimalloc_cfg=$configs/mimalloc.config
if [ "$backend" = mimalloc ] && [ -z "$mimalloc_cfg" ]; then
	echo "uk-run: the real mimalloc needs LIBC=musl (and UK_MIMALLOC=1)" >&2
	exit 2
fi
mkdir -p "$build"

# fail STEP LOG: say which step failed, show the end of its log, stop.
fail() {
	echo "uk-run: FAILED at $1" >&2
	[ -f "$2" ] && { echo "--- last lines of $2:" >&2; tail -25 "$2" >&2; }
	exit 1
}
step() { echo "uk-run: $*"; }
mk() {
	make -C "$UK_ROOT" A="$app" L="$libs" O="$build" C="$build/.config" \
	     ${MIMALLOC_TARBALL:+MIMALLOC_TARBALL="$MIMALLOC_TARBALL"} "$@"
}

blog=$build/build-$name.log
if [ "${UK_NOBUILD:-0}" != 1 ]; then
	step "configure $build ($libc, $paging${mimalloc_cfg:+, with mimalloc})"
	# shellcheck disable=SC2086 # UK_EXTRA_CONFIG is a list of files
	cat "$configs/base.config" $mimalloc_cfg "$configs/$libc.config" \
	    "$configs/$paging.config" ${UK_EXTRA_CONFIG:-} > "$build/defconfig"
	if [ "$libc" = musl ] && [ -n "${MUSL_TARBALL:-}" ]; then
		mkdir -p "$build/libmusl"
		[ -f "$build/libmusl/musl-1.2.3.tar.gz" ] || cp "$MUSL_TARBALL" "$build/libmusl/musl-1.2.3.tar.gz"
	fi
	echo "# $(date -u +%FT%TZ) tools/uk-run.sh $backend $libc $paging ($name)" > "$blog"
	mk UK_DEFCONFIG="$build/defconfig" defconfig >> "$blog" 2>&1 || fail "make defconfig" "$blog"
	# The choices must have stuck (a symbol Kconfig rejects is silently dropped).
	# shellcheck disable=SC2086
	for want in $(grep -h '^CONFIG_.*=y' "$configs/base.config" $mimalloc_cfg \
		      "$configs/$libc.config" "$configs/$paging.config"); do
		grep -qx "$want" "$build/.config" || { echo "config lost $want" >> "$blog"; fail "configuration check ($want)" "$blog"; }
	done
	step "build $name (log: $blog)"
	start=$(date +%s)
	mk -j"$jobs" >> "$blog" 2>&1 || fail "make ($name)" "$blog"
	step "built in $(( $(date +%s) - start )) s"
fi

image=$build/${name}_qemu-x86_64
[ -f "$image" ] || image=$(ls "$build"/*_qemu-x86_64 2>/dev/null | grep "/$name" | head -n 1)
[ -n "$image" ] && [ -f "$image" ] || fail "finding the image ${name}_qemu-x86_64 in $build" "$blog"
[ "${UK_NOBOOT:-0}" = 1 ] && { echo "$image"; exit 0; }

# heapkit.alloc= goes to uklibparam (before "--"), the app's arguments after it.
append="heapkit.alloc=$backend --${*:+ $*}"
cmd="qemu-system-x86_64 -accel tcg -cpu max -m ${QEMU_MEM:-256} -nographic -no-reboot -kernel $image"
log=$build/boot.log
step "boot: $cmd -append \"$append\""
echo "# $cmd -append \"$append\"" > "$log"
timeout "${QEMU_TIMEOUT:-600}" $cmd -append "$append" < /dev/null 2>&1 |
	tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >> "$log" || true
# What matters: heapkit's boot line, errors, and the app's report.
grep -E 'heapkit: .*boot allocator|heapkit:.*valid|CRIT|ERR' "$log" | head -20
sed -n '/^heapkit-app-test:\|^--- hkbench csv begin/,$p' "$log"
grep -q "$pass" "$log" || fail "boot (no \"$pass\" in the console)" "$log"
