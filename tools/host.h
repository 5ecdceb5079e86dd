// SPDX-License-Identifier: MIT
/*
 * hkbench on a Linux host (hkbench_host.c): the host environment, the
 * allocators a run can use, the run's context and child runs. The bottom
 * layer of hkbench: it includes only the bench library.
 */
#ifndef HK_TOOLS_HOST_H
#define HK_TOOLS_HOST_H

#include <stdbool.h>
#include <stdio.h>

#include "harness.h"
#include "result.h"

/* --- Host ------------------------------------------------------------------ */

extern const struct hkb_env hkbench_env;
/* Traces: the memory callbacks hkbench gives the reader, and reading a file whole. */
extern const struct hk_trace_mem hkbench_trace_mem;
uint8_t *hkbench_slurp(const char *path, size_t *len, const char **err);
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

/* --- Context and child runs ---------------------------------------------------------- */

/* The machine, build and libraries this process runs with. */
void hkbench_context(struct hkb_context *c);

/* CPU seconds (user + system) this process has used so far. */
double hkbench_cpu_seconds(void);

/*
 * Run `hkbench run` in a child with argv tail args (NULL-terminated) and
 * collect the rows it prints. Returns the child's exit status (0 ok), or -1
 * if it could not run; *peak_kb and *cpu_s get the child's peak RSS and CPU
 * time (from wait4).
 */
int hkbench_child(char *const args[], struct hkb_result *rows, int max_rows, int *nrows,
		  long *peak_kb, double *cpu_s, double timeout_s);

/* tools/report.py: installed beside hkbench, else in the source tree. */
const char *hkbench_report_py(void);

/* Split "a,b,c" into at most max pieces (in place); the count. */
int hkbench_split(char *s, char **out, int max);

#endif /* HK_TOOLS_HOST_H */
