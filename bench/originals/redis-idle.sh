#!/bin/sh
# bench/originals/redis-idle.sh [LIB...]: redis-server's memory after a burst, then idle (issue 12's
# burst-then-idle case). For each allocator (a library path for LD_PRELOAD, or "system" for redis-server
# as Debian links it: jemalloc), start redis-server on 127.0.0.1 only (no persistence), fill it with
# DEBUG POPULATE (default 1 000 000 keys), FLUSHALL, stay idle for IDLE seconds (default 5) and print
# the server's resident memory at the peak, after the flush and after the idle time. LOAD=benchmark fills
# it through redis-benchmark instead (KEYS SET requests of 64-byte values on random keys, 50 clients).
# Needs redis-server and redis-cli (Debian: redis-server, redis-tools); prints "skipped" without them.
set -u
KEYS=${KEYS:-1000000}
IDLE=${IDLE:-5}
PORT=${PORT:-6399}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "redis-idle: skipped (no redis-server)"; exit 0; }
[ $# -gt 0 ] || set -- system
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
printf '%-40s %10s %10s %10s %10s\n' allocator peak_KiB loaded_KiB flushed_KiB idle_KiB
for lib in "$@"; do
	dir=$(mktemp -d)
	if [ "$lib" = system ]; then pre=""; else pre="$lib"; fi
	LD_PRELOAD="$pre" redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$dir" \
		--enable-debug-command local --daemonize no --logfile "$dir/log" &
	pid=$!
	i=0
	until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
		sleep 0.1; i=$((i + 1))
		[ $i -lt 100 ] || { echo "redis-idle: $lib: server did not start" >&2; kill "$pid"; rm -rf "$dir"; continue 2; }
	done
	if [ "${LOAD:-populate}" = benchmark ]; then
		redis-benchmark -p "$PORT" -t set -n "$KEYS" -r "$KEYS" -d 64 -c 50 -q >/dev/null 2>&1
	else
		redis-cli -p "$PORT" debug populate "$KEYS" >/dev/null
	fi
	loaded=$(rss "$pid")
	redis-cli -p "$PORT" flushall >/dev/null
	flushed=$(rss "$pid")
	sleep "$IDLE"
	idle=$(rss "$pid")
	peak=$(hwm "$pid")
	redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1
	wait "$pid"
	rm -rf "$dir"
	printf '%-40s %10s %10s %10s %10s\n' "$(basename "$lib")" "$peak" "$loaded" "$flushed" "$idle"
done
