#!/bin/sh
# SPDX-License-Identifier: MIT
# make install, checked: install the build into a temporary prefix, then build
# and run consumers against it - with pkg-config (the README's example, as
# printed there) and with CMake (find_package(heapkit 0.2) and its three
# targets) - and run the installed tools.
#
#   test/install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/hk-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
libdir=${libdir%/}
[ -e "$prefix/lib/pkgconfig/heapkit.pc" ] || libdir=$(dirname "$(find "$prefix" -name heapkit.pc)")/..
fail() { echo "install: FAIL: $*"; exit 1; }
for f in bin/hkbench bin/hkstress bin/hklatency share/heapkit/report.py include/heapkit.h; do
	[ -e "$prefix/$f" ] || fail "$f not installed"
done
for f in libhkalloc.a libhkalloc.so.0 libhkalloc_freestanding.a libheapkit.so.0 pkgconfig/heapkit.pc \
	 cmake/heapkit/heapkit-config.cmake cmake/heapkit/heapkit-config-version.cmake; do
	[ -e "$libdir/$f" ] || fail "lib/$f not installed"
done
version=$(sed -n 's/^#define HK_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$src/include/heapkit.h" | paste -sd.)
readelf -d "$libdir/libhkalloc.so.0" | grep -q 'SONAME.*\[libhkalloc.so.0\]' || fail "libhkalloc soname"
readelf -d "$libdir/libheapkit.so.0" | grep -q 'SONAME.*\[libheapkit.so.0\]' || fail "libheapkit soname"

# pkg-config: the README's example, extracted as printed, built as the README says.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion heapkit)" = "$version" ] || fail "pkg-config version is not $version"
awk '/^## Using an instance from C/{on=1} on && /^```c$/{c=1; next} c && /^```$/{exit} c' "$src/README.md" \
	> "$work/app.c"
[ -s "$work/app.c" ] || fail "no C example in README.md"
# The build line printed under the example, run as printed (in $work, where app.c is), and ./app with no
# LD_LIBRARY_PATH.
line=$(awk '/^## Using an instance from C/{on=1} on && /^cc app\.c /{print; exit}' "$src/README.md")
[ -n "$line" ] || fail "no 'cc app.c' line in README.md"
(cd "$work" && PATH="$(dirname "${CC:-cc}"):$PATH" sh -c "$line") || fail "README build line fails: $line"
(cd "$work" && env -u LD_LIBRARY_PATH ./app) || fail "README example does not run"
cat > "$work/ver.c" <<'C'
#include <heapkit.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	printf("%s\n", hk_version());
	return strcmp(hk_version(), "@V@") != 0;
}
C
sed -i "s/@V@/$version/" "$work/ver.c"
# shellcheck disable=SC2046
"${CC:-cc}" -o "$work/ver-static" "$work/ver.c" -I"$prefix/include" "$libdir/libhkalloc.a" -lpthread -ldl &&
	"$work/ver-static" >/dev/null || fail "static link with libhkalloc.a"

# CMake: the package, its version check, the three targets.
mkdir -p "$work/cm"
cat > "$work/cm/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(heapkit 0.2 REQUIRED)
add_executable(app-shared ../app.c)
target_link_libraries(app-shared PRIVATE heapkit::hkalloc)
add_executable(app-static ../app.c)
target_link_libraries(app-static PRIVATE heapkit::hkalloc-static)
add_executable(ver-free ../ver.c)
target_link_libraries(ver-free PRIVATE heapkit::freestanding)
message(STATUS "heapkit ${heapkit_VERSION} drop-ins in ${heapkit_LIBRARY_DIR}")
C
cmake -S "$work/cm" -B "$work/cm/b" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cm.log" 2>&1 ||
	{ cat "$work/cm.log"; fail "find_package(heapkit 0.2)"; }
cmake --build "$work/cm/b" >"$work/cmb.log" 2>&1 || { cat "$work/cmb.log"; fail "CMake consumer build"; }
"$work/cm/b/app-shared" && "$work/cm/b/app-static" && "$work/cm/b/ver-free" >/dev/null ||
	fail "CMake consumers do not run"
sed -i 's/find_package(heapkit 0.2 REQUIRED)/find_package(heapkit 0.3 REQUIRED)/' "$work/cm/CMakeLists.txt"
if cmake -S "$work/cm" -B "$work/cm/b3" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
	fail "find_package(heapkit 0.3) accepted version $version"
fi

# The installed tools: their version, and hkbench finding the installed drop-in.
"$prefix/bin/hkbench" --version | grep -q "heapkit $version$" || fail "installed hkbench --version"
"$prefix/bin/hkstress" --version | grep -q "heapkit $version$" || fail "installed hkstress --version"
if [ -e /usr/lib/x86_64-linux-gnu/libc.so.6 ]; then
	"$prefix/bin/hkbench" run glibc-simple --tiny --allocs heapkit --no-header | grep -q ',heapkit,.*,ok,' ||
		fail "installed hkbench does not preload the installed drop-in"
fi
echo "install: OK (heapkit $version: pkg-config, CMake package, README example, tools)"
