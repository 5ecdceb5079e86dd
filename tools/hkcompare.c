// SPDX-License-Identifier: MIT
/*
 * hkbench compare: the drop-in comparison, a fixed plan for the planner
 * (plan.h) plus a summary. A mixed set of workloads runs against malloc
 * libraries loaded with LD_PRELOAD (the heapkit drop-in, mimalloc, jemalloc,
 * tcmalloc) and glibc, each run in its own child, interleaved. Prints, per
 * workload, each allocator's time ratio to the baseline (mimalloc) with its
 * min-max, the geometric mean, and peak RSS.
 *
 * The time of a run is the time per unit of work: 1 / throughput. For a
 * fixed amount of work that is the elapsed time; for larson, which runs
 * for a fixed time, it is the time per operation.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "plan.h"

/* --- The mixed set ------------------------------------------------------------ */

struct cmp_case {
	const char *label;       /* column in the table */
	const char *workload;
	const char *params;      /* key=value, space separated */
	const char *what;        /* one line */
};

static const struct cmp_case cases[] = {
	{ "churn-1t", "glibc-thread", "threads=1 iterations=1500000 wset=256 max=512",
	  "small-object churn on one thread" },
	{ "prod-cons", "xmalloc", "threads=2 objects=300000 max=512",
	  "producer/consumer: every free is a cross-thread free" },
	{ "larson", "larson", "threads=2 seconds=0.4 min=8 max=1000 slots=1000 rounds=10000",
	  "larson-style server: blocks outlive their thread" },
	{ "many-sizes", "phong", "threads=1 iterations=300000 max=16384",
	  "many sizes, favouring small, interval frees and reallocs" },
	{ "realloc-grow", "malloc-large", "iterations=120 grow=75 min=64k max=16m live=8",
	  "large blocks and realloc growth" },
	{ "migrate", "mstress", "threads=2 scale=50 rounds=25",
	  "blocks migrate between threads" },
};
#define NR_CASES (sizeof cases / sizeof cases[0])

#define MAX_REPS 31

/* Results for one (case, allocator). */
struct cell {
	double thr[MAX_REPS];    /* throughput per rep */
	double sec[MAX_REPS];
	double peak_kb[MAX_REPS];
	int n;
	bool failed, skipped;
};

static struct cell cells[NR_CASES][HKB_PLAN_ALLOCS];
static size_t plan_case[NR_CASES];   /* plan configuration -> case */

static void collect(void *ctx, size_t config, int alloc, const struct hkb_result *row)
{
	struct cell *cl = &cells[plan_case[config]][alloc];
	if (!strcmp(row->status, "skip")) {
		cl->skipped = true;
	} else if (strcmp(row->status, "ok") || !(row->throughput > 0)) {
		cl->failed = true;
	} else if (cl->n < MAX_REPS) {
		cl->thr[cl->n] = row->throughput;
		cl->sec[cl->n] = row->seconds;
		cl->peak_kb[cl->n] = (double)row->peak_rss_kb;
		cl->n++;
	}
}

static struct hkb_stats stats(const double *v, int n)
{
	double tmp[MAX_REPS];
	struct hkb_stats s;
	memcpy(tmp, v, (size_t)n * sizeof *v);
	hkb_stats_of(tmp, n, &s);
	return s;
}

/* Time per unit of work relative to the baseline's median: each rep's ratio. */
static struct hkb_stats ratio_stats(const struct cell *cl, const struct cell *b)
{
	double r[MAX_REPS];
	struct hkb_stats bs = stats(b->thr, b->n), s;
	for (int i = 0; i < cl->n; i++)
		r[i] = bs.median / cl->thr[i];
	hkb_stats_of(r, b->n ? cl->n : 0, &s);
	/* The ratio of medians, so 1.00 is exactly the baseline's own. */
	if (cl->n && b->n)
		s.median = bs.median / stats(cl->thr, cl->n).median;
	return s;
}

int hkbench_cmd_compare(int argc, char **argv)
{
	const char *alloc_list = "heapkit,mimalloc,jemalloc,tcmalloc,system", *baseline = "mimalloc";
	const char *csv_path = NULL, *json_path = NULL, *only = NULL;
	int reps = 3;
	double timeout = 120;
	bool tiny = false;
	const struct hk_opt opts[] = {
		HK_OPT_ALIAS("--allocs", "--alloc", HK_OPT_STR, &alloc_list, "NAME,...",
			     "allocators (default heapkit,mimalloc,jemalloc,tcmalloc,system)"),
		HK_OPT("--baseline", HK_OPT_STR, &baseline, "NAME", "ratios are to it (default mimalloc)"),
		HK_OPT("--reps", HK_OPT_INT, &reps, "N", "interleaved repetitions (default 3, at most 31)"),
		HK_OPT("--tiny", HK_OPT_FLAG, &tiny, NULL, "each workload's smoke-run parameters"),
		HK_OPT("--only", HK_OPT_STR, &only, "LABEL,...", "only these workloads"),
		HK_OPT("--csv", HK_OPT_STR, &csv_path, "FILE", "rows as CSV (a case column first)"),
		HK_OPT("--json", HK_OPT_STR, &json_path, "FILE", "rows, context and the summary as JSON"),
		HK_OPT("--heapkit-lib", HK_OPT_STR, &hkbench_opts.heapkit_lib, "PATH", "the drop-in to preload"),
		HK_OPT("--timeout", HK_OPT_DOUBLE, &timeout, "S", "seconds a run may take (default 120)"),
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = { .name = "hkbench compare", .synopsis = "[options]", .opts = opts };
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (reps < 1 || reps > MAX_REPS) {
		char given[16];
		snprintf(given, sizeof given, "%d", reps);
		return hk_opt_error(&cmd, "--reps %s: must be 1..31%s", given, "");
	}
	struct hkb_plan plan;
	hkb_plan_init(&plan, cmd.name, reps, timeout);
	plan.csv_label = true;
	plan.on_row = collect;
	if ((rc = hkb_plan_allocs(&plan, alloc_list)))
		return rc;
	int nalloc = plan.nallocs, base = -1;
	for (int i = 0; i < nalloc; i++)
		if (!strcmp(plan.allocs[i], baseline))
			base = i;
	if (base < 0) {
		printf("# baseline %s unavailable; ratios are to %s\n", baseline, plan.allocs[0]);
		base = 0;
	}
	bool use[NR_CASES];
	memset(cells, 0, sizeof cells);
	for (size_t k = 0; k < NR_CASES; k++) {
		char only_buf[256], *names[NR_CASES + 8];
		use[k] = !only;
		if (only) {
			snprintf(only_buf, sizeof only_buf, "%s", only);
			int n = hkbench_split(only_buf, names, (int)NR_CASES + 8);
			for (int i = 0; i < n; i++)
				use[k] |= !strcmp(names[i], cases[k].label);
		}
		if (!use[k])
			continue;
		plan_case[plan.nconfigs] = k;
		if (hkb_plan_add(&plan, cases[k].label, hkb_workload_find(cases[k].workload),
				 tiny ? "--tiny" : cases[k].params))
			return 2;
	}
	if (!plan.nconfigs)
		return hk_opt_error(&cmd, "--only %s names no workload%s", only, "");
	if ((rc = hkb_plan_open(&plan, csv_path, json_path)))
		return rc;
	int failures = hkb_plan_run(&plan);
	const char *const *allocs = plan.allocs;

	/* Ratios: time per unit of work relative to the baseline. */
	static struct hkb_stats ratio[NR_CASES][HKB_PLAN_ALLOCS];
	for (size_t k = 0; k < NR_CASES; k++)
		for (int ai = 0; ai < nalloc; ai++)
			ratio[k][ai] = ratio_stats(&cells[k][ai], &cells[k][base]);
	printf("\nTime ratio to %s (median of %d interleaved runs [min-max]; lower is better; "
	       "1.00 = as fast as %s)\n\n", allocs[base], reps, allocs[base]);
	printf("%-14s", "workload");
	for (int ai = 0; ai < nalloc; ai++)
		printf(" %16s", allocs[ai]);
	printf("   %s\n", "median time (s) / figure of the baseline");
	for (size_t k = 0; k < NR_CASES; k++) {
		if (!use[k])
			continue;
		printf("%-14s", cases[k].label);
		for (int ai = 0; ai < nalloc; ai++) {
			const struct hkb_stats *r = &ratio[k][ai];
			char cell[48];
			if (cells[k][ai].failed)
				snprintf(cell, sizeof cell, "FAIL");
			else if (cells[k][ai].skipped || !hkb_present(r->median))
				snprintf(cell, sizeof cell, "-");
			else
				snprintf(cell, sizeof cell, "%.2f [%.2f-%.2f]", r->median, r->min, r->max);
			printf(" %16s", cell);
		}
		struct cell *b = &cells[k][base];
		if (b->n)
			printf("   %.3f s, %.3g %s", stats(b->sec, b->n).median, stats(b->thr, b->n).median,
			       hkb_workload_find(cases[k].workload)->unit);
		printf("\n");
	}
	printf("%-14s", "geomean");
	double gm[HKB_PLAN_ALLOCS];
	for (int ai = 0; ai < nalloc; ai++) {
		double s = 0;
		int n = 0;
		for (size_t k = 0; k < NR_CASES; k++)
			if (use[k] && hkb_present(ratio[k][ai].median)) {
				s += log(ratio[k][ai].median);
				n++;
			}
		gm[ai] = n ? exp(s / n) : NAN;
		printf(" %16.2f", gm[ai]);
	}
	printf("\n\nPeak RSS (MiB, median over runs; whole child process)\n\n%-14s", "workload");
	for (int ai = 0; ai < nalloc; ai++)
		printf(" %16s", allocs[ai]);
	printf("\n");
	for (size_t k = 0; k < NR_CASES; k++) {
		if (!use[k])
			continue;
		printf("%-14s", cases[k].label);
		for (int ai = 0; ai < nalloc; ai++) {
			struct cell *cl = &cells[k][ai];
			if (cl->n)
				printf(" %16.1f", stats(cl->peak_kb, cl->n).median / 1024.0);
			else
				printf(" %16s", cl->failed ? "FAIL" : "-");
		}
		printf("\n");
	}
	if (plan.json) {
		/* The summary, after the rows: ratios with their spread, null when missing. */
		FILE *j = plan.json;
		char buf[512];
		fprintf(j, ",\n  \"baseline\": \"%s\",\n  \"allocators\": [", allocs[base]);
		for (int ai = 0; ai < nalloc; ai++)
			fprintf(j, "%s\"%s\"", ai ? ", " : "", allocs[ai]);
		fprintf(j, "],\n  \"geomean\": {");
		for (int ai = 0; ai < nalloc; ai++) {
			fprintf(j, "%s\"%s\": ", ai ? ", " : "", allocs[ai]);
			if (isnan(gm[ai]))
				fprintf(j, "null");
			else
				fprintf(j, "%.4f", gm[ai]);
		}
		fprintf(j, "},\n  \"cases\": [\n");
		bool first = true;
		for (size_t k = 0; k < NR_CASES; k++) {
			if (!use[k])
				continue;
			fprintf(j, "%s    {\"label\": \"%s\", \"workload\": \"%s\", \"params\": \"%s\", "
				   "\"what\": \"%s\", \"unit\": \"%s\", \"results\": {",
				first ? "" : ",\n", cases[k].label, cases[k].workload, tiny ? "tiny" : cases[k].params,
				cases[k].what, hkb_workload_find(cases[k].workload)->unit);
			first = false;
			for (int ai = 0; ai < nalloc; ai++) {
				struct cell *cl = &cells[k][ai];
				fprintf(j, "%s\"%s\": {\"status\": \"%s\"", ai ? ", " : "", allocs[ai],
					cl->failed ? "FAIL" : cl->skipped ? "skip" : cl->n ? "ok" : "none");
				if (cl->n) {
					struct hkb_stats st = stats(cl->sec, cl->n);
					hkb_stats_json(&st, buf, sizeof buf);
					fprintf(j, ", \"seconds\": %s", buf);
					st = stats(cl->thr, cl->n);
					hkb_stats_json(&st, buf, sizeof buf);
					fprintf(j, ", \"throughput\": %s", buf);
					hkb_stats_json(&ratio[k][ai], buf, sizeof buf);
					fprintf(j, ", \"ratio\": %s", buf);
					st = stats(cl->peak_kb, cl->n);
					hkb_stats_json(&st, buf, sizeof buf);
					fprintf(j, ", \"peak_rss_kb\": %s", buf);
				}
				fprintf(j, "}");
			}
			fprintf(j, "}}");
		}
		fprintf(j, "\n  ]");
	}
	hkb_plan_finish(&plan);
	if (failures)
		printf("\n%d workload/allocator combinations FAILED (see messages above)\n", failures);
	return failures ? 1 : 0;
}
