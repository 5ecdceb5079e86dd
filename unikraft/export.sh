#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Make heapkit's Unikraft library self-contained:
#
#   unikraft/export.sh DEST     a standalone copy of the library in DEST
#                               (Config.uk, Makefile.uk, glue, include,
#                               mimalloc and heapkit/: the allocator sources)
#   unikraft/export.sh          generate heapkit/ inside unikraft/ itself
#
# Makefile.uk compiles heapkit/src and heapkit/include when they are there,
# so DEST reaches nothing outside itself: give it to Unikraft's make as
# L=DEST, or name it as a local library in a Kraftfile
# (libraries: heapkit: source: DEST). Only the backends' sources are copied
# (src/{core,buddy,region,tlsf,shard,checked}, include/); the hosted
# platform, the drop-in and the tools stay behind. Re-run after changing
# heapkit's sources: the copy is not a link.
set -eu
lib=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$lib/.." && pwd)
dest=${1:-$lib}
for f in Config.uk Makefile.uk glue include mimalloc src; do
	case $f in
	src) [ -d "$root/src/core" ] || { echo "export.sh: no heapkit sources in $root/src" >&2; exit 1; } ;;
	*) [ -e "$lib/$f" ] || { echo "export.sh: $lib/$f is missing" >&2; exit 1; } ;;
	esac
done
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ "$dest" != "$lib" ]; then
	case $dest in "$lib"/*) echo "export.sh: DEST inside $lib: give no DEST to generate in place" >&2; exit 1 ;; esac
	rm -rf "$dest/glue" "$dest/include" "$dest/mimalloc"
	cp -R "$lib/Config.uk" "$lib/Makefile.uk" "$lib/glue" "$lib/include" "$lib/mimalloc" "$dest/"
fi
rm -rf "$dest/heapkit"
mkdir -p "$dest/heapkit/src"
for d in core buddy region tlsf shard checked; do
	cp -R "$root/src/$d" "$dest/heapkit/src/"
done
cp -R "$root/include" "$dest/heapkit/"
echo "export.sh: $dest is a self-contained heapkit library ($(find "$dest" -type f | wc -l) files)"
