#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Configure, build and boot heapkit's Unikraft test app (unikraft/app-test)
# or benchmark image (unikraft/app-bench) in one variant, keeping the logs:
#
#   tools/uk-run.sh BACKEND LIBC PAGING [APP ARGS...]
#
#     BACKEND  tlsf | shard | buddy | region   (heapkit as the boot allocator)
#              ukbuddy                         (Unikraft's own, to compare)
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
#   UK_BUILD     where build directories go (default /tmp/uk/build); each
#                variant builds in $UK_BUILD/hk-BACKEND-LIBC-PAGING (the
#                bench: hkbench-...) with its .config, build.log and boot.log
#   UK_BUILD_DIR build in this directory instead (e.g. one per LIBC and PAGING
#                shared by the backends: Unikraft then rebuilds only what the
#                changed options touch)
#   UK_EXTRA_CONFIG  more defconfig fragments (files, space separated), e.g.
#                unikraft/configs/checked.config
#   UK_JOBS      make -j (default 2)
#   QEMU_MEM     guest memory in MiB (default 256)
#   QEMU_TIMEOUT seconds before the boot is called hung (default 600)
#   UK_NOBUILD   1: boot the existing image only
#   UK_NOBOOT    1: configure and build only; print the image's path
#
# Exit status 0 when the app printed "heapkit-app-test: PASS" (the bench:
# "hkbench: ok", or "hkstress: ok" for its stress command).
set -eu

usage() { sed -n '4,40p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
backend=$1 libc=$2 paging=$3
shift 3
case $backend in tlsf|shard|buddy|region|ukbuddy) ;; *) usage ;; esac
case $libc in nolibc|musl) ;; *) usage ;; esac
case $paging in paging|nopaging) ;; *) usage ;; esac

: "${UK_ROOT:?set UK_ROOT to your Unikraft tree}"
here=$(cd "$(dirname "$0")/.." && pwd)
configs=$here/unikraft/configs
case ${APP:-test} in
test) app=$here/unikraft/app-test build=${UK_BUILD:-/tmp/uk/build}/hk-$backend-$libc-$paging
      pass='heapkit-app-test: PASS' ;;
bench) app=$here/unikraft/app-bench build=${UK_BUILD:-/tmp/uk/build}/hkbench-$backend-$libc-$paging
       pass='^hkbench: ok\|^hkstress: ok' ;;
*) usage ;;
esac
build=${UK_BUILD_DIR:-$build}
jobs=${UK_JOBS:-2}
libs=$here/unikraft
if [ "$libc" = musl ]; then
	: "${UK_MUSL:?set UK_MUSL to your lib-musl tree for LIBC=musl}"
	libs=$libs:$UK_MUSL
fi
mkdir -p "$build"
mk() { make -C "$UK_ROOT" A="$app" L="$libs" O="$build" C="$build/.config" "$@"; }

if [ "${UK_NOBUILD:-0}" != 1 ]; then
	cat "$configs/base.config" "$configs/$backend.config" \
	    "$configs/$libc.config" "$configs/$paging.config" ${UK_EXTRA_CONFIG:-} > "$build/defconfig"
	if [ "$libc" = musl ] && [ -n "${MUSL_TARBALL:-}" ]; then
		mkdir -p "$build/libmusl"
		[ -f "$build/libmusl/musl-1.2.3.tar.gz" ] || cp "$MUSL_TARBALL" "$build/libmusl/musl-1.2.3.tar.gz"
	fi
	{
		echo "# $(date -u +%FT%TZ) tools/uk-run.sh $backend $libc $paging"
		mk UK_DEFCONFIG="$build/defconfig" defconfig
		mk -j"$jobs"
	} > "$build/build.log" 2>&1 || { tail -30 "$build/build.log"; echo "build failed: $build/build.log" >&2; exit 1; }
	# The choices must have stuck (a symbol Kconfig rejects is silently dropped).
	for want in $(grep -h '^CONFIG_.*=y' "$configs/$backend.config" "$configs/$libc.config" \
		      "$configs/$paging.config"); do
		grep -qx "$want" "$build/.config" || { echo "config lost $want" >&2; exit 1; }
	done
fi

image=$(ls "$build"/*_qemu-x86_64 2>/dev/null | head -n 1)
[ -n "$image" ] || { echo "no image in $build" >&2; exit 1; }
[ "${UK_NOBOOT:-0}" = 1 ] && { echo "$image"; exit 0; }
cmd="qemu-system-x86_64 -accel tcg -cpu max -m ${QEMU_MEM:-256} -nographic -no-reboot -kernel $image"
[ $# -gt 0 ] && cmd="$cmd -append \"-- $*\""
echo "# $cmd" > "$build/boot.log"
eval timeout "${QEMU_TIMEOUT:-600}" "$cmd" < /dev/null 2>&1 | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >> "$build/boot.log" || true
# What matters: heapkit's boot line, errors, and the app's report.
grep -E 'libheapkit|CRIT|ERR' "$build/boot.log" | head -20
sed -n '/^heapkit-app-test:\|^--- hkbench csv begin/,$p' "$build/boot.log"
grep -q "$pass" "$build/boot.log"
