// SPDX-License-Identifier: MIT
/* The run planner behind hkbench sweep and compare (plan.h). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

void hkb_plan_init(struct hkb_plan *p, const char *name, int reps, double timeout)
{
	memset(p, 0, sizeof *p);
	p->name = name;
	p->reps = reps;
	p->timeout = timeout;
}

int hkb_plan_add(struct hkb_plan *p, const char *label, const struct hkb_workload *w, const char *args)
{
	if (p->nconfigs == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct hkb_plan_config *c = realloc(p->configs, cap * sizeof *c);
		if (!c)
			return -1;
		p->configs = c;
		p->cap = cap;
	}
	struct hkb_plan_config *c = &p->configs[p->nconfigs++];
	c->label = label;
	c->w = w;
	snprintf(c->args, sizeof c->args, "%s", args ? args : "");
	return 0;
}

int hkb_plan_allocs(struct hkb_plan *p, const char *list)
{
	const char *names[64];
	size_t n = 0;
	bool dflt = !strcmp(list, "default");
	static char buf[1024];
	char *req[64];
	if (dflt) {
		n = hkbench_alloc_names(names, 64);
	} else {
		snprintf(buf, sizeof buf, "%s", list);
		n = (size_t)hkbench_split(buf, req, 64);
		memcpy(names, req, n * sizeof *names);
	}
	p->nallocs = 0;
	for (size_t i = 0; i < n; i++) {
		struct hkbench_choice c;
		if (!hkbench_choose(names[i], &c))
			return 2;
		if (dflt && (!c.in_default || !c.available ||
			     (c.kind == HKBENCH_BACKEND && !(c.backend->caps & HK_CAP_FREE))))
			continue;
		if (!c.available) {
			fprintf(stderr, "%s: %s left out: %s (%s)\n", p->name, names[i], c.why, c.lib);
			continue;
		}
		if (p->nallocs == HKB_PLAN_ALLOCS) {
			fprintf(stderr, "%s: at most %d allocators\n", p->name, HKB_PLAN_ALLOCS);
			return 2;
		}
		p->allocs[p->nallocs++] = names[i];
	}
	if (!p->nallocs) {
		fprintf(stderr, "%s: no allocator available from '%s'\n", p->name, list);
		return 2;
	}
	return 0;
}

int hkb_plan_open(struct hkb_plan *p, const char *out_csv, const char *out_json)
{
	if (out_csv && !(p->csv = fopen(out_csv, "w"))) {
		perror(out_csv);
		return 2;
	}
	if (out_json && !(p->json = fopen(out_json, "w"))) {
		perror(out_json);
		return 2;
	}
	if (p->csv)
		fprintf(p->csv, "%s%s\n", p->csv_label ? "case," : "", HKB_RESULT_CSV_HEADER);
	if (p->json) {
		struct hkb_context ctx;
		char buf[4096];
		hkbench_context(&ctx);
		hkb_context_json(&ctx, 2, buf, sizeof buf);
		fprintf(p->json, "{\n  \"context\": %s,\n  \"reps\": %d,\n  \"rows\": [\n", buf, p->reps);
	}
	return 0;
}

/* A progress bar on a terminal: runs done of about total. */
static void progress(int done, int total, const char *what, const char *alloc)
{
	if (!isatty(2))
		return;
	char bar[31];
	int fill = total > 0 ? done * 30 / total : 0;
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = 0;
	fprintf(stderr, "\r[%s] %d/%d %-18.18s %-12.12s", bar, done, total, what, alloc);
	fflush(stderr);
}

/* One run of configuration c on allocator a; the row, or status "FAIL" without one. */
static int run_one(struct hkb_plan *p, const struct hkb_plan_config *c, const char *alloc, int rep,
		   struct hkb_result *row)
{
	char args_buf[sizeof c->args], timeout_s[32];
	char *args[96];
	int na = 0;
	snprintf(args_buf, sizeof args_buf, "%s", c->args);
	snprintf(timeout_s, sizeof timeout_s, "%.0f", p->timeout);
	args[na++] = (char *)c->w->name;
	char *save = NULL;
	for (char *t = strtok_r(args_buf, " ", &save); t && na < 80; t = strtok_r(NULL, " ", &save))
		args[na++] = t;
	args[na++] = "--allocs";
	args[na++] = (char *)alloc;
	args[na++] = "--no-header";
	args[na++] = "--timeout";
	args[na++] = timeout_s;
	if (p->heap_mb) {
		args[na++] = "--heap-mb";
		args[na++] = (char *)p->heap_mb;
	}
	if (hkbench_opts.heapkit_lib) {
		args[na++] = "--heapkit-lib";
		args[na++] = (char *)hkbench_opts.heapkit_lib;
	}
	args[na] = NULL;
	struct hkb_result rows[4];
	int nrows;
	long peak;
	double cpu;
	int rc = hkbench_child(args, rows, 4, &nrows, &peak, &cpu, p->timeout + 5);
	if (nrows < 1) {
		fprintf(stderr, "%s: %s on %s: no result (exit %d)\n", p->name, c->w->name, alloc, rc);
		return -1;
	}
	*row = rows[0];
	snprintf(row->alloc, sizeof row->alloc, "%s", alloc);
	row->rep = rep;
	row->peak_rss_kb = peak;
	row->cpu_seconds = cpu;
	if (rc && !strcmp(row->status, "ok"))
		snprintf(row->status, sizeof row->status, "FAIL");
	if (strcmp(row->status, "ok") && strcmp(row->status, "skip"))
		fprintf(stderr, "%s: %s on %s: %s (exit %d)\n", p->name, c->w->name, alloc, row->status, rc);
	return 0;
}

static void emit(struct hkb_plan *p, const struct hkb_plan_config *c, const struct hkb_result *row)
{
	char buf[1024];
	if (p->csv) {
		hkb_result_csv(row, buf, sizeof buf);
		fprintf(p->csv, "%s%s%s", p->csv_label ? c->label : "", p->csv_label ? "," : "", buf);
		fflush(p->csv);
	}
	bool first = p->rows++ == 0;
	if (p->json) {
		hkb_result_json(row, buf, sizeof buf);
		fprintf(p->json, "%s    %s", first ? "" : ",\n", buf);
		fflush(p->json);
	}
}

int hkb_plan_run(struct hkb_plan *p)
{
	size_t total = p->nconfigs * (size_t)p->nallocs;
	bool *dead = calloc(total ? total : 1, sizeof *dead);
	if (!dead) {
		fprintf(stderr, "%s: out of memory\n", p->name);
		return ++p->failures;
	}
	size_t live = total;
	for (int rep = 0; rep < p->reps; rep++) {
		for (size_t k = 0; k < p->nconfigs; k++) {
			const struct hkb_plan_config *c = &p->configs[k];
			for (int ai = 0; ai < p->nallocs; ai++) {
				if (dead[k * (size_t)p->nallocs + (size_t)ai])
					continue;
				progress(p->runs, (int)(p->runs + live * (size_t)(p->reps - rep)), c->w->name,
					 p->allocs[ai]);
				struct hkb_result row;
				int rc = run_one(p, c, p->allocs[ai], rep, &row);
				p->runs++;
				live--;
				if (rc) {
					p->failures++;
					dead[k * (size_t)p->nallocs + (size_t)ai] = true;
					continue;
				}
				if (strcmp(row.status, "ok")) {
					p->failures += strcmp(row.status, "skip") != 0;
					dead[k * (size_t)p->nallocs + (size_t)ai] = true;
				}
				emit(p, c, &row);
				if (p->on_row)
					p->on_row(p->ctx, k, ai, &row);
			}
		}
		/* Runs left in the next repetitions: the configurations not dead. */
		live = 0;
		for (size_t i = 0; i < total; i++)
			live += !dead[i];
		if (isatty(2))
			fputc('\n', stderr);
		fprintf(stderr, "%s: repetition %d/%d done (%d runs)\n", p->name, rep + 1, p->reps, p->runs);
	}
	free(dead);
	if (p->json)
		fprintf(p->json, "\n  ],\n  \"failures\": %d", p->failures);
	if (p->failures)
		fprintf(stderr, "%s: %d runs FAILED\n", p->name, p->failures);
	return p->failures;
}

void hkb_plan_finish(struct hkb_plan *p)
{
	if (p->csv)
		fclose(p->csv);
	if (p->json) {
		fprintf(p->json, "\n}\n");
		fclose(p->json);
	}
	p->csv = p->json = NULL;
	free(p->configs);
	p->configs = NULL;
	p->nconfigs = p->cap = 0;
}
