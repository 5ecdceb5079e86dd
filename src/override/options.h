// SPDX-License-Identifier: MIT
/*
 * The drop-in's runtime options (HEAPKIT_* environment variables), one table
 * in options.c, read once at load time without allocating; and the small
 * line writer the drop-in reports with (statistics, verbose, errors), which
 * formats into a stack buffer and writes it with one write(2).
 */
#ifndef HK_OVERRIDE_OPTIONS_H
#define HK_OVERRIDE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum hk_opt_id {
	HK_OPT_SHOW_STATS,      /* statistics on stderr at exit */
	HK_OPT_VERBOSE,         /* what was loaded, version, options in force */
	HK_OPT_SHOW_ERRORS,     /* a line for each failed request (ENOMEM) */
	HK_OPT_PURGE_DELAY,     /* ms a free page slot keeps its memory; -1: never purge */
	HK_OPT_PURGE_THREAD,    /* a thread that purges while the program idles */
	HK_OPT_SEGMENT_CACHE,   /* empty segments kept */
	HK_OPT_CACHE_DELAY,     /* ms an empty segment or huge mapping is kept */
	HK_OPT_HUGE_CACHE,      /* bytes of freed huge mappings kept */
	HK_OPT_RESERVE,         /* bytes of segments mapped at start and kept */
	HK_OPT_ZERO_TRAP,       /* malloc(0): an address nothing may touch */
	HK_OPT_FAULT_REPORT,    /* a SIGSEGV at a heapkit address named on stderr */
	HK_OPT_COUNT
};

/* Read the environment (once; later calls do nothing). Reports misspelt names and bad values on stderr. */
void _hk_options_init(void);
/* An option's value (after init: the environment's or the default). */
long long _hk_option(enum hk_opt_id id);
/* Whether the environment set it. */
int _hk_option_set(enum hk_opt_id id);
/*
 * HEAPKIT_SHOW_ERRORS: a line for a request of size bytes that failed with
 * errno err (SIZE_MAX: n * size overflowed; HK_FAILED_SIZE_UNKNOWN: a malloc of a
 * size not kept).
 */
#define HK_FAILED_SIZE_UNKNOWN (SIZE_MAX - 1)
void _hk_options_report_failure(size_t size, int err);
/* HEAPKIT_VERBOSE: the table, one line per option, with value and origin. */
void _hk_options_print(void);

/* A line built in place and written with one write(2) to stderr. */
struct hk_line {
	char buf[480];
	size_t n;
};
void _hk_line_str(struct hk_line *l, const char *s);
void _hk_line_u64(struct hk_line *l, uint64_t v);
void _hk_line_i64(struct hk_line *l, long long v);
void _hk_line_hex(struct hk_line *l, uintptr_t v);
/* bytes in B, KiB, MiB or GiB with one decimal */
void _hk_line_bytes(struct hk_line *l, uint64_t v);
/* Pads with spaces to column col. */
void _hk_line_pad(struct hk_line *l, size_t col);
/* Writes the line (a newline added) to stderr and empties it. */
void _hk_line_flush(struct hk_line *l);

#endif /* HK_OVERRIDE_OPTIONS_H */
