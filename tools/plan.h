// SPDX-License-Identifier: MIT
/*
 * The run planner behind hkbench sweep and compare: a plan is a list of
 * configurations (a workload with its arguments) times a list of allocators
 * times repetitions. Runs are interleaved - each repetition visits every
 * configuration and, within it, every allocator in turn (A B C A B C) - and
 * each is a child process (fresh heap, its own peak RSS and CPU time). A
 * configuration that failed or was skipped is not run again. Rows go to a
 * CSV file, a JSON file and a callback.
 */
#ifndef HK_TOOLS_PLAN_H
#define HK_TOOLS_PLAN_H

#include <stdio.h>

#include "host.h"

#define HKB_PLAN_ALLOCS 16

struct hkb_plan_config {
	const char *label;             /* a name for the configuration (compare's case), or NULL */
	const struct hkb_workload *w;
	char args[512];                /* `hkbench run` arguments after the workload, space separated */
};

struct hkb_plan {
	const char *name;              /* "hkbench sweep": prefixes messages */
	struct hkb_plan_config *configs;
	size_t nconfigs, cap;
	const char *allocs[HKB_PLAN_ALLOCS];
	int nallocs;
	int reps;
	double timeout;                /* seconds per run */
	const char *heap_mb;           /* --heap-mb for the children, or NULL */
	FILE *csv, *json;              /* where rows go; either may be NULL */
	bool csv_label;                /* CSV rows start with the configuration's label column */
	/* Called for every row, after it is written. */
	void (*on_row)(void *ctx, size_t config, int alloc, const struct hkb_result *row);
	void *ctx;
	int runs, failures, rows;      /* after hkb_plan_run: runs made, failed, rows written */
};

/* An empty plan: reps repetitions, timeout seconds per run. */
void hkb_plan_init(struct hkb_plan *p, const char *name, int reps, double timeout);
/* Add a configuration; 0, or -1 when out of memory. */
int hkb_plan_add(struct hkb_plan *p, const char *label, const struct hkb_workload *w, const char *args);
/*
 * The allocators from "default" or a comma list: those not available here
 * are left out with a message. 0, or 2 after a message (an unknown name,
 * none left).
 */
int hkb_plan_allocs(struct hkb_plan *p, const char *list);
/*
 * Open out_csv/out_json (either may be NULL), write their headers and the
 * run's context. 0, or 2 after a message.
 */
int hkb_plan_open(struct hkb_plan *p, const char *out_csv, const char *out_json);
/* Run the plan; the number of failed runs. */
int hkb_plan_run(struct hkb_plan *p);
/*
 * Close the files. A caller may first add JSON members after the rows:
 * fprintf(p->json, ",\n  \"summary\": ...").
 */
void hkb_plan_finish(struct hkb_plan *p);

#endif /* HK_TOOLS_PLAN_H */
