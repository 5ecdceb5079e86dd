// SPDX-License-Identifier: MIT
/*
 * hkbench's own pieces (Linux host): the allocators a run can use, the host
 * environment, child runs, and the subcommands split across files.
 */
#ifndef HK_TOOLS_HKBENCH_H
#define HK_TOOLS_HKBENCH_H

#include <stdbool.h>
#include <stdio.h>

#include "harness.h"

/* --- Host ------------------------------------------------------------------ */

extern const struct hkb_env hkbench_env;
/* Traces: the memory callbacks hkbench gives the reader, and reading a file whole. */
extern const struct hk_trace_mem hkbench_trace_mem;
uint8_t *hkbench_slurp(const char *path, size_t *len, const char **err);
/* hkbench trace-info FILE [--json OUT]: what a trace holds. */
int hkbench_trace_info(int argc, char **argv);
/* Peak resident set of this process so far, KiB. */
long hkbench_peak_rss_kb(void);

/* --- Allocators -------------------------------------------------------------- */

enum hkbench_kind {
	HKBENCH_SYSTEM,     /* libc's malloc (or whatever is preloaded) */
	HKBENCH_PRELOAD,    /* a malloc library through LD_PRELOAD in a child */
	HKBENCH_BACKEND,    /* a heapkit backend as an instance over a region */
	HKBENCH_BROKEN,     /* test double: corrupts live blocks */
};

/* An allocator name resolved: what it is and where it comes from. */
struct hkbench_choice {
	char name[64];
	enum hkbench_kind kind;
	char lib[512];                     /* PRELOAD: the library */
	const struct hk_backend *backend;  /* BACKEND */
	bool available;
	bool in_default;                   /* among a sweep's default allocators */
	const char *why;                   /* when not available */
};

/* Exit status of run when the allocator asked for is not available here. */
#define HKBENCH_UNAVAILABLE 77

/* Options every subcommand shares. */
struct hkbench_opts {
	size_t heap_mb;                    /* region size for backends */
	const char *heapkit_lib;           /* the drop-in, or NULL for the default */
};
extern struct hkbench_opts hkbench_opts;

/* Resolve name; false (with a message on stderr) if it is unknown. */
bool hkbench_choose(const char *name, struct hkbench_choice *out);
/* Names of every allocator hkbench knows, available or not. */
size_t hkbench_alloc_names(const char **names, size_t max);
/*
 * Make the allocator for an in-process run (SYSTEM, BACKEND, BROKEN).
 * 0, or -1 with a message. hkbench_close releases what open made.
 */
int hkbench_open(const struct hkbench_choice *c, struct hkb_alloc *out);
void hkbench_close(struct hkb_alloc *a);
/* In a preloaded child: the label set by the parent, or NULL. */
const char *hkbench_preload_label(void);
/* The shared object that defines the function at f, or "?". */
const char *hkbench_defining_object(void *f);
/* In a preloaded child: 0 if malloc really comes from the library. */
int hkbench_preload_verify(const char *lib);

/* --- Results ------------------------------------------------------------------ */

#define HKBENCH_CSV_HEADER \
	"benchmark,allocator,threads,params,rep,seconds,throughput,unit,peak_rss_kb,held_kb,live_kb,better,status"

/* One row as parsed back from a child. */
struct hkbench_row {
	char bench[48], alloc[64], params[256], unit[24], status[16];
	unsigned threads;
	int rep;
	double seconds, throughput;
	long peak_rss_kb, held_kb, live_kb;
	bool lower_better;
};
int hkbench_row_parse(const char *line, struct hkbench_row *row);
void hkbench_row_print(FILE *f, const struct hkbench_row *row);

/*
 * Run `hkbench run` in a child with argv tail args (NULL-terminated) and
 * collect the rows it prints. Returns the child's exit status (0 ok), or -1
 * if it could not run; *peak_kb gets the child's peak RSS (from wait4).
 */
int hkbench_child(char *const args[], struct hkbench_row *rows, int max_rows, int *nrows,
		  long *peak_kb, double timeout_s);

/* --- Subcommands ----------------------------------------------------------------- */

int hkbench_cmd_run(int argc, char **argv);
int hkbench_cmd_list(int argc, char **argv);
int hkbench_cmd_test(int argc, char **argv);
int hkbench_cmd_sweep(int argc, char **argv);
int hkbench_cmd_compare(int argc, char **argv);

/* Median of v[0..n) (sorts v). */
double hkbench_median(double *v, int n);

/* Split "a,b,c" into at most max pieces (in place); the count. */
int hkbench_split(char *s, char **out, int max);

#endif /* HK_TOOLS_HKBENCH_H */
