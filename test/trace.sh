#!/bin/sh
# SPDX-License-Identifier: MIT
# Record trace_target under libheapkit-trace.so, then check the trace, and
# that a forked child writes its own whole trace when asked to.
set -eu
build=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
HEAPKIT_TRACE="$dir/t.trace" LD_PRELOAD="$build/libheapkit-trace.so" "$build/trace_target"
"$build/trace_check" "$dir/t.trace"
HEAPKIT_TRACE="$dir/c.trace" HEAPKIT_TRACE_CHILDREN=1 LD_PRELOAD="$build/libheapkit-trace.so" "$build/trace_target"
child=$(ls "$dir"/c.trace.* | head -n 1)
"$build/trace_check" "$dir/c.trace" >/dev/null
"$build/trace_check" --child "$child"
