#!/bin/sh
# SPDX-License-Identifier: MIT
# The allocators, built -ffreestanding, may need nothing from outside but
# memcpy, memset and memmove.
set -eu
lib=$1
undefined=$(nm -u "$lib" | awk '$1 == "U" { print $2 }' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -v -x -E 'memcpy|memset|memmove|' || true)
# Symbols a member defines are not outside needs.
defined=$(nm --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)
outside=$(printf '%s\n' "$bad" | grep -v -x -F "$defined" || true)
if [ -n "$outside" ]; then
	echo "freestanding build needs symbols from outside:" >&2
	printf '  %s\n' $outside >&2
	exit 1
fi
echo "freestanding-symbols: only $(printf '%s ' $(printf '%s\n' "$undefined" | grep -x -E 'memcpy|memset|memmove' || true))from outside: PASS"
