// SPDX-License-Identifier: MIT
/*
 * One benchmark result: the row every front end prints and reads back
 * (hkbench run/sweep/compare on Linux, the Unikraft bench image), the
 * statistics over repetitions, and the context of a run (machine, build,
 * libraries). Portable: it formats into caller buffers with snprintf and
 * parses with strtod/strtol, and calls nothing from the operating system.
 *
 * CSV: HKB_RESULT_CSV_HEADER; columns are only ever appended, so a reader
 * of an older file (13 columns) still parses, the new columns missing.
 * Missing values: -1 for the KiB counts in CSV (as always), an empty field
 * for a missing time, and null in JSON.
 */
#ifndef HK_BENCH_RESULT_H
#define HK_BENCH_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#define HKB_RESULT_CSV_HEADER                                                                \
	"benchmark,allocator,threads,params,rep,seconds,throughput,unit,peak_rss_kb,held_kb," \
	"live_kb,better,status,cpu_seconds"
/* The columns every reader can rely on (the first 13, from heapkit 0.1). */
#define HKB_RESULT_BASE_COLUMNS 13

struct hkb_result {
	char bench[48], alloc[64], params[256], unit[24], status[16];
	unsigned threads;
	int rep;
	double seconds;        /* timed section; missing: NaN */
	double throughput;     /* in unit; missing: NaN */
	long peak_rss_kb;      /* whole process; missing: -1 */
	long held_kb, live_kb; /* at the end of the run; missing: -1 */
	bool lower_better;     /* the figure is a cost (memory), not a rate */
	double cpu_seconds;    /* user + system time of the run; missing: NaN */
};

/* Every value missing, status "none". */
void hkb_result_init(struct hkb_result *r);
/* Whether x is a present value (not NaN). */
static inline bool hkb_present(double x) { return x == x; }
/*
 * Parse one CSV line (13 or more columns; a trailing newline is allowed).
 * 0, or -1 when it is not a row (a header, a comment, too few columns).
 */
int hkb_result_parse(const char *line, struct hkb_result *r);
/* One CSV line with its newline into buf; the length snprintf would write. */
size_t hkb_result_csv(const struct hkb_result *r, char *buf, size_t len);
/* One JSON object, no newline; missing values are null. */
size_t hkb_result_json(const struct hkb_result *r, char *buf, size_t len);

/* --- Statistics over repetitions ------------------------------------------ */

struct hkb_stats {
	int n;                 /* values used */
	double median, min, max, mean, stddev;   /* NaN when n == 0; stddev 0 when n == 1 */
};
/* Statistics of v[0..n) (sorts v in place). */
void hkb_stats_of(double *v, int n, struct hkb_stats *out);
/* The JSON object {"n":..,"median":..,"min":..,"max":..,"stddev":..}. */
size_t hkb_stats_json(const struct hkb_stats *s, char *buf, size_t len);

/* --- The context of a run ---------------------------------------------------- */

#define HKB_CONTEXT_LIBS 8

/* Filled by the host; an empty string or NaN/-1 is a missing value. */
struct hkb_context {
	char tool_version[16];   /* heapkit's version */
	char commit[48];         /* git describe of the source tree, "+dirty" when modified */
	char build_type[24];
	char date[32];           /* UTC, ISO 8601 */
	char host[64];
	char kernel[128];
	char cpu_model[96];
	int cpus;                /* online; -1 missing */
	double loadavg1;         /* at start; NaN missing */
	struct {
		char name[24], version[64];
	} libs[HKB_CONTEXT_LIBS];
	int nlibs;
};
void hkb_context_init(struct hkb_context *c);
/* Add a library and its version (ignored past HKB_CONTEXT_LIBS). */
void hkb_context_lib(struct hkb_context *c, const char *name, const char *version);
/* The JSON object for c (multi-line, indented by indent spaces). */
size_t hkb_context_json(const struct hkb_context *c, int indent, char *buf, size_t len);

/* A JSON string literal for s (quotes and escapes) into buf. */
size_t hkb_json_str(const char *s, char *buf, size_t len);

#endif /* HK_BENCH_RESULT_H */
