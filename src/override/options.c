// SPDX-License-Identifier: MIT
/*
 * The drop-in's runtime options: one table, read from the environment once
 * at load time (the drop-in's constructor, or its first use), without
 * allocating. A HEAPKIT_* variable that names no option (and none of the
 * other heapkit libraries' own: HEAPKIT_TRACE*, HEAPKIT_BACKTRACE) is
 * reported once on stderr with the nearest name; a bad value is reported
 * with what was expected and the default stays.
 */
#define _GNU_SOURCE
#include "override/options.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum opt_kind { OPT_BOOL, OPT_MS, OPT_COUNT, OPT_BYTES };

struct opt {
	const char *name;       /* after "HEAPKIT_" */
	enum opt_kind kind;
	long long def, min, max;
	const char *help;
};

static const struct opt table[HK_OPT_COUNT] = {
	[HK_OPT_SHOW_STATS] = { "SHOW_STATS", OPT_BOOL, 0, 0, 1, "statistics on stderr at exit" },
	[HK_OPT_VERBOSE] = { "VERBOSE", OPT_BOOL, 0, 0, 1, "what was loaded, its version, the options in force" },
	[HK_OPT_SHOW_ERRORS] = { "SHOW_ERRORS", OPT_BOOL, 0, 0, 1, "a line on stderr for each request that fails" },
	[HK_OPT_PURGE_DELAY] = { "PURGE_DELAY", OPT_MS, 25, -1, 60000,
				 "ms an empty page keeps its memory before it is purged (-1: never)" },
	[HK_OPT_PURGE_THREAD] = { "PURGE_THREAD", OPT_BOOL, 1, 0, 1, "purge from a thread while the program idles" },
	[HK_OPT_SEGMENT_CACHE] = { "SEGMENT_CACHE", OPT_COUNT, 8, 0, 1024, "empty 4 MiB segments kept for reuse" },
	[HK_OPT_CACHE_DELAY] = { "CACHE_DELAY", OPT_MS, 100, 0, 600000,
				 "ms an empty segment or freed huge block is kept before it is unmapped" },
	[HK_OPT_HUGE_CACHE] = { "HUGE_CACHE", OPT_BYTES, 128ll << 20, 0, 1ll << 40,
				"bytes of freed huge blocks (> 1 MiB) kept for reuse" },
	[HK_OPT_RESERVE] = { "RESERVE", OPT_BYTES, 0, 0, 1ll << 40,
			     "bytes of segments mapped at start and never returned" },
#if defined(HK_HARDEN) && HK_HARDEN == 0
	/* (the trap addresses need the judge on free, which this level leaves out: shard.h) */
	[HK_OPT_ZERO_TRAP] = { "ZERO_TRAP", OPT_BOOL, 0, 0, 0,
			       "malloc(0) returns a 1-byte block (an -DHK_HARDEN=0 build has no trap addresses)" },
#else
	[HK_OPT_ZERO_TRAP] = { "ZERO_TRAP", OPT_BOOL, 1, 0, 1,
			       "malloc(0) returns an address where any read or write faults (0: a 1-byte block)" },
#endif
	[HK_OPT_FAULT_REPORT] = { "FAULT_REPORT", OPT_BOOL, 1, 0, 1,
				  "a fault at a heapkit address (malloc(0), overflow, NX heap) named on stderr" },
};

/* Names other heapkit libraries read: not ours to judge. */
static const char *const foreign[] = { "TRACE", "TRACE_CHILDREN", "BACKTRACE", "LIB" };

static long long value[HK_OPT_COUNT];
static unsigned char from_env[HK_OPT_COUNT];
static int inited;
/*
 * Where reports go: stderr, or with HEAPKIT_SHOW_STATS / SHOW_ERRORS /
 * VERBOSE a private copy of it made at load, so the statistics at exit
 * still reach the terminal when the program closed its stderr first (as
 * coreutils' programs do in their atexit handler).
 */
static int report_fd = 2;

/* --- The line writer ------------------------------------------------------------------ */

void _hk_line_str(struct hk_line *l, const char *s)
{
	while (*s && l->n < sizeof l->buf - 1)
		l->buf[l->n++] = *s++;
}

void _hk_line_u64(struct hk_line *l, uint64_t v)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i && l->n < sizeof l->buf - 1)
		l->buf[l->n++] = tmp[--i];
}

void _hk_line_i64(struct hk_line *l, long long v)
{
	if (v < 0) {
		_hk_line_str(l, "-");
		_hk_line_u64(l, (uint64_t)0 - (uint64_t)v);
	} else {
		_hk_line_u64(l, (uint64_t)v);
	}
}

void _hk_line_hex(struct hk_line *l, uintptr_t v)
{
	char tmp[20];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	_hk_line_str(l, "0x");
	while (i && l->n < sizeof l->buf - 1)
		l->buf[l->n++] = tmp[--i];
}

void _hk_line_bytes(struct hk_line *l, uint64_t v)
{
	static const char *const unit[] = { " B", " KiB", " MiB", " GiB", " TiB" };
	unsigned u = 0;
	uint64_t whole = v, tenth = 0;
	while (whole >= 1024 && u < 4) {
		tenth = (whole % 1024) * 10 / 1024;
		whole /= 1024;
		u++;
	}
	_hk_line_u64(l, whole);
	if (u) {
		_hk_line_str(l, ".");
		_hk_line_u64(l, tenth);
	}
	_hk_line_str(l, unit[u]);
}

void _hk_line_pad(struct hk_line *l, size_t col)
{
	while (l->n < col && l->n < sizeof l->buf - 1)
		l->buf[l->n++] = ' ';
}

void _hk_line_flush(struct hk_line *l)
{
	l->buf[l->n++] = '\n';
	size_t off = 0;
	while (off < l->n) {
		ssize_t w = write(report_fd, l->buf + off, l->n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	l->n = 0;
}

/* --- Parsing ---------------------------------------------------------------------------- */

/* "1", "0", "yes", "no", "on", "off", "true", "false" (any case). */
static int parse_bool(const char *s, long long *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true" }, *const no[] = { "0", "no", "off", "false" };
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 1;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 1;
	}
	return 0;
}

/* A decimal integer, optionally negative; bytes take a k/m/g suffix (KiB, MiB, GiB; "kb", "mib" too). */
static int parse_num(const char *s, enum opt_kind kind, long long *out)
{
	int neg = 0;
	long long v = 0;
	if (*s == '-')
		neg = 1, s++;
	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (1ll << 50))
			return 0;
		v = v * 10 + (*s - '0');
	}
	if (kind == OPT_BYTES && *s) {
		int shift = 0;
		switch (*s | 0x20) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		default: return 0;
		}
		s++;
		/* "k", "kb", "kib" (any case) */
		if (*s && strcasecmp(s, "b") && strcasecmp(s, "ib"))
			return 0;
		v <<= shift;
	} else if (kind == OPT_MS && *s && strcasecmp(s, "ms")) {
		return 0;
	} else if (kind != OPT_BYTES && kind != OPT_MS && *s) {
		return 0;
	}
	*out = neg ? -v : v;
	return 1;
}

/* Edit distance of two short names (for "did you mean"). */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[40], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);
	if (la >= 39 || lb >= 39)
		return 99;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *kind_words(enum opt_kind k)
{
	switch (k) {
	case OPT_BOOL: return "0 or 1";
	case OPT_MS: return "milliseconds";
	case OPT_COUNT: return "a count";
	default: return "bytes (k, m, g suffixes)";
	}
}

static void report_unknown(const char *name, size_t len)
{
	struct hk_line l = { .n = 0 };
	char nm[40];
	size_t n = len < sizeof nm - 1 ? len : sizeof nm - 1;
	memcpy(nm, name, n);
	nm[n] = 0;
	unsigned best = 99;
	const char *near = NULL;
	for (unsigned i = 0; i < HK_OPT_COUNT; i++) {
		unsigned d = distance(nm, table[i].name);
		if (d < best)
			best = d, near = table[i].name;
	}
	_hk_line_str(&l, "heapkit: unknown option HEAPKIT_");
	_hk_line_str(&l, nm);
	if (near && best <= 3) {
		_hk_line_str(&l, " (did you mean HEAPKIT_");
		_hk_line_str(&l, near);
		_hk_line_str(&l, "?)");
	}
	_hk_line_str(&l, ", ignored; HEAPKIT_VERBOSE=1 lists the options");
	_hk_line_flush(&l);
}

static void report_bad(const struct opt *o, const char *val)
{
	struct hk_line l = { .n = 0 };
	_hk_line_str(&l, "heapkit: bad value '");
	_hk_line_str(&l, val);
	_hk_line_str(&l, "' for HEAPKIT_");
	_hk_line_str(&l, o->name);
	_hk_line_str(&l, " (expected ");
	_hk_line_str(&l, kind_words(o->kind));
	_hk_line_str(&l, " from ");
	_hk_line_i64(&l, o->min);
	_hk_line_str(&l, " to ");
	_hk_line_i64(&l, o->max);
	_hk_line_str(&l, "), default ");
	_hk_line_i64(&l, o->def);
	_hk_line_str(&l, " kept");
	_hk_line_flush(&l);
}

static void parse_one(const char *name, size_t len, const char *val)
{
	for (unsigned i = 0; i < HK_OPT_COUNT; i++) {
		const struct opt *o = &table[i];
		if (strlen(o->name) != len || strncmp(o->name, name, len) != 0)
			continue;
		long long v;
		int ok = o->kind == OPT_BOOL ? parse_bool(val, &v) : parse_num(val, o->kind, &v);
		if (!ok || v < o->min || v > o->max) {
			report_bad(o, val);
			return;
		}
		value[i] = v;
		from_env[i] = 1;
		return;
	}
	for (unsigned i = 0; i < sizeof foreign / sizeof *foreign; i++)
		if (strlen(foreign[i]) == len && strncmp(foreign[i], name, len) == 0)
			return;
	report_unknown(name, len);
}

void _hk_options_init(void)
{
	if (__atomic_exchange_n(&inited, 1, __ATOMIC_ACQ_REL))
		return;
	for (unsigned i = 0; i < HK_OPT_COUNT; i++)
		value[i] = table[i].def;
	for (char **e = environ; e && *e; e++) {
		const char *s = *e;
		if (strncmp(s, "HEAPKIT_", 8) != 0)
			continue;
		const char *name = s + 8, *eq = strchr(name, '=');
		if (!eq)
			continue;
		parse_one(name, (size_t)(eq - name), eq + 1);
	}
	if (value[HK_OPT_SHOW_STATS] || value[HK_OPT_SHOW_ERRORS] || value[HK_OPT_VERBOSE]) {
		int fd = fcntl(2, F_DUPFD_CLOEXEC, 10);
		if (fd >= 0)
			report_fd = fd;
	}
}

void _hk_options_report_failure(size_t size, int err)
{
	if (!value[HK_OPT_SHOW_ERRORS])
		return;
	int saved = errno;
	struct hk_line l = { .n = 0 };
	if (size == HK_FAILED_SIZE_UNKNOWN) {
		_hk_line_str(&l, "heapkit: a malloc");
	} else if (size == SIZE_MAX) {
		_hk_line_str(&l, "heapkit: a request for an overflowing n * size");
	} else {
		_hk_line_str(&l, "heapkit: a request for ");
		_hk_line_u64(&l, size);
		_hk_line_str(&l, " bytes");
	}
	_hk_line_str(&l, err == EINVAL ? " failed: invalid argument (EINVAL)" : " failed: out of memory (ENOMEM)");
	_hk_line_flush(&l);
	errno = saved;
}

long long _hk_option(enum hk_opt_id id) { return value[id]; }
int _hk_option_set(enum hk_opt_id id) { return from_env[id]; }

void _hk_options_print(void)
{
	for (unsigned i = 0; i < HK_OPT_COUNT; i++) {
		struct hk_line l = { .n = 0 };
		_hk_line_str(&l, "heapkit:   HEAPKIT_");
		_hk_line_str(&l, table[i].name);
		_hk_line_str(&l, "=");
		_hk_line_i64(&l, value[i]);
		_hk_line_pad(&l, 48);
		_hk_line_str(&l, from_env[i] ? "(environment) " : "(default)     ");
		_hk_line_str(&l, table[i].help);
		_hk_line_flush(&l);
	}
}
