// SPDX-License-Identifier: MIT
/*
 * hkbench compare: the drop-in comparison. A mixed set of workloads runs
 * against malloc libraries loaded with LD_PRELOAD (the heapkit drop-in,
 * mimalloc, jemalloc, tcmalloc) and glibc, each run in its own child,
 * interleaved (A B C A B C ...). Prints, per workload, each allocator's
 * time ratio to the baseline (mimalloc), the geometric mean, and peak RSS.
 *
 * The time of a run is the time per unit of work: 1 / throughput. For a
 * fixed amount of work that is the elapsed time; for larson, which runs
 * for a fixed time, it is the time per operation.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hkbench.h"

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
	{ "migrate", "mstress", "threads=2 iterations=250000",
	  "blocks migrate between threads" },
};
#define NR_CASES (sizeof cases / sizeof cases[0])

#define MAX_ALLOCS 8
#define MAX_REPS 15

/* Results for one (case, allocator). */
struct cell {
	double thr[MAX_REPS];    /* throughput per rep */
	double sec[MAX_REPS];
	long peak_kb[MAX_REPS];
	int n;
	bool failed;
	bool skipped;
};


static void usage_compare(void)
{
	fprintf(stderr,
		"usage: hkbench compare [--allocs heapkit,mimalloc,jemalloc,tcmalloc,system]\n"
		"                       [--baseline mimalloc] [--reps N] [--tiny] [--only LABEL,...]\n"
		"                       [--csv FILE] [--json FILE] [--heapkit-lib PATH] [--timeout S]\n");
}

static long median_long(const long *v, int n)
{
	double d[MAX_REPS];
	for (int i = 0; i < n; i++)
		d[i] = (double)v[i];
	return (long)hkbench_median(d, n);
}

int hkbench_cmd_compare(int argc, char **argv)
{
	char alloc_buf[256] = "heapkit,mimalloc,jemalloc,tcmalloc,system";
	const char *baseline = "mimalloc", *csv_path = NULL, *json_path = NULL;
	char only_buf[256] = "";
	int reps = 3;
	double timeout = 120;
	bool tiny = false;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--allocs") && i + 1 < argc)
			snprintf(alloc_buf, sizeof alloc_buf, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--baseline") && i + 1 < argc)
			baseline = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			snprintf(only_buf, sizeof only_buf, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csv_path = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json_path = argv[++i];
		else if (!strcmp(argv[i], "--heapkit-lib") && i + 1 < argc)
			hkbench_opts.heapkit_lib = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atof(argv[++i]);
		else if (!strcmp(argv[i], "--tiny"))
			tiny = true;
		else {
			usage_compare();
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "hkbench compare: --reps must be 1..%d\n", MAX_REPS);
		return 2;
	}
	/* Allocators: keep those available, say why the others are left out. */
	char *req[MAX_ALLOCS];
	int nreq = hkbench_split(alloc_buf, req, MAX_ALLOCS);
	char *allocs[MAX_ALLOCS];
	int nalloc = 0;
	for (int i = 0; i < nreq; i++) {
		struct hkbench_choice c;
		if (!hkbench_choose(req[i], &c))
			return 2;
		if (!c.available) {
			printf("# %s left out: %s (%s)\n", req[i], c.why, c.lib);
			continue;
		}
		allocs[nalloc++] = req[i];
	}
	int base = -1;
	for (int i = 0; i < nalloc; i++)
		if (!strcmp(allocs[i], baseline))
			base = i;
	if (!nalloc) {
		fprintf(stderr, "hkbench compare: no allocator available\n");
		return 2;
	}
	if (base < 0) {
		printf("# baseline %s unavailable; ratios are to %s\n", baseline, allocs[0]);
		base = 0;
	}
	bool use[NR_CASES];
	for (size_t k = 0; k < NR_CASES; k++)
		use[k] = !only_buf[0] || strstr(only_buf, cases[k].label);
	FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
	if (csv_path && !csv) {
		perror(csv_path);
		return 2;
	}
	if (csv)
		fprintf(csv, "case,%s\n", HKBENCH_CSV_HEADER);

	static struct cell cells[NR_CASES][MAX_ALLOCS];
	memset(cells, 0, sizeof cells);
	char timeout_s[32];
	snprintf(timeout_s, sizeof timeout_s, "%.0f", timeout);
	/* Interleaved: every repetition visits every case and allocator in turn. */
	for (int rep = 0; rep < reps; rep++) {
		for (size_t k = 0; k < NR_CASES; k++) {
			if (!use[k])
				continue;
			for (int ai = 0; ai < nalloc; ai++) {
				struct cell *cl = &cells[k][ai];
				if (cl->failed || cl->skipped)
					continue;
				char pbuf[256];
				snprintf(pbuf, sizeof pbuf, "%s", cases[k].params);
				char *args[48];
				int na = 0;
				args[na++] = (char *)cases[k].workload;
				if (tiny) {
					args[na++] = "--tiny";
				} else {
					for (char *t = strtok(pbuf, " "); t && na < 30; t = strtok(NULL, " "))
						args[na++] = t;
				}
				args[na++] = "--alloc";
				args[na++] = allocs[ai];
				args[na++] = "--no-header";
				args[na++] = "--timeout";
				args[na++] = timeout_s;
				if (hkbench_opts.heapkit_lib) {
					args[na++] = "--heapkit-lib";
					args[na++] = (char *)hkbench_opts.heapkit_lib;
				}
				args[na] = NULL;
				struct hkbench_row rows[2];
				int nrows;
				long peak;
				int rc = hkbench_child(args, rows, 2, &nrows, &peak, timeout + 5);
				if (rc || nrows != 1 || strcmp(rows[0].status, "ok")) {
					if (nrows == 1 && !strcmp(rows[0].status, "skip")) {
						cl->skipped = true;
						continue;
					}
					fprintf(stderr, "hkbench compare: %s on %s failed (exit %d)\n", cases[k].label,
						allocs[ai], rc);
					cl->failed = true;
					continue;
				}
				rows[0].peak_rss_kb = peak;
				snprintf(rows[0].alloc, sizeof rows[0].alloc, "%s", allocs[ai]);
				rows[0].rep = rep;
				cl->thr[cl->n] = rows[0].throughput;
				cl->sec[cl->n] = rows[0].seconds;
				cl->peak_kb[cl->n] = peak;
				cl->n++;
				if (csv) {
					fprintf(csv, "%s,", cases[k].label);
					hkbench_row_print(csv, &rows[0]);
				}
			}
		}
		fprintf(stderr, "hkbench compare: repetition %d/%d done\n", rep + 1, reps);
	}
	if (csv)
		fclose(csv);

	/* Ratios: time per unit of work relative to the baseline. */
	static double ratio[NR_CASES][MAX_ALLOCS];
	for (size_t k = 0; k < NR_CASES; k++) {
		struct cell *b = &cells[k][base];
		double bt = b->n ? hkbench_median(b->thr, b->n) : 0;
		for (int ai = 0; ai < nalloc; ai++) {
			struct cell *cl = &cells[k][ai];
			double t = cl->n ? hkbench_median(cl->thr, cl->n) : 0;
			ratio[k][ai] = (bt > 0 && t > 0) ? bt / t : NAN;
		}
	}
	printf("\nTime ratio to %s (median of %d interleaved runs; lower is better; "
	       "1.00 = as fast as %s)\n\n", allocs[base], reps, allocs[base]);
	printf("%-14s", "workload");
	for (int ai = 0; ai < nalloc; ai++)
		printf(" %10s", allocs[ai]);
	printf("   %s\n", "median time (s) / figure of the baseline");
	for (size_t k = 0; k < NR_CASES; k++) {
		if (!use[k])
			continue;
		printf("%-14s", cases[k].label);
		for (int ai = 0; ai < nalloc; ai++) {
			if (cells[k][ai].failed)
				printf(" %10s", "FAIL");
			else if (cells[k][ai].skipped || isnan(ratio[k][ai]))
				printf(" %10s", "-");
			else
				printf(" %10.2f", ratio[k][ai]);
		}
		struct cell *b = &cells[k][base];
		if (b->n)
			printf("   %.3f s, %.3g %s", hkbench_median(b->sec, b->n), hkbench_median(b->thr, b->n),
			       hkb_workload_find(cases[k].workload)->unit);
		printf("\n");
	}
	printf("%-14s", "geomean");
	double gm[MAX_ALLOCS];
	for (int ai = 0; ai < nalloc; ai++) {
		double s = 0;
		int n = 0;
		for (size_t k = 0; k < NR_CASES; k++)
			if (use[k] && !isnan(ratio[k][ai])) {
				s += log(ratio[k][ai]);
				n++;
			}
		gm[ai] = n ? exp(s / n) : NAN;
		printf(" %10.2f", gm[ai]);
	}
	printf("\n\nPeak RSS (MiB, median over runs; whole child process)\n\n%-14s", "workload");
	for (int ai = 0; ai < nalloc; ai++)
		printf(" %10s", allocs[ai]);
	printf("\n");
	for (size_t k = 0; k < NR_CASES; k++) {
		if (!use[k])
			continue;
		printf("%-14s", cases[k].label);
		for (int ai = 0; ai < nalloc; ai++) {
			struct cell *cl = &cells[k][ai];
			if (cl->n)
				printf(" %10.1f", median_long(cl->peak_kb, cl->n) / 1024.0);
			else
				printf(" %10s", cl->failed ? "FAIL" : "-");
		}
		printf("\n");
	}
	int failures = 0;
	for (size_t k = 0; k < NR_CASES; k++)
		for (int ai = 0; ai < nalloc; ai++)
			failures += cells[k][ai].failed;

	if (json_path) {
		FILE *j = fopen(json_path, "w");
		if (!j) {
			perror(json_path);
			return 2;
		}
		fprintf(j, "{\n  \"baseline\": \"%s\",\n  \"reps\": %d,\n  \"allocators\": [", allocs[base], reps);
		for (int ai = 0; ai < nalloc; ai++)
			fprintf(j, "%s\"%s\"", ai ? ", " : "", allocs[ai]);
		fprintf(j, "],\n  \"geomean\": {");
		for (int ai = 0; ai < nalloc; ai++)
			fprintf(j, "%s\"%s\": %s%.4f%s", ai ? ", " : "", allocs[ai], isnan(gm[ai]) ? "\"" : "",
				isnan(gm[ai]) ? 0.0 : gm[ai], isnan(gm[ai]) ? "\"" : "");
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
				if (cl->n)
					fprintf(j, ", \"median_seconds\": %.6f, \"median_throughput\": %.6g, "
						   "\"ratio\": %.4f, \"peak_rss_kb\": %ld, \"runs\": %d",
						hkbench_median(cl->sec, cl->n), hkbench_median(cl->thr, cl->n),
						isnan(ratio[k][ai]) ? 0.0 : ratio[k][ai], median_long(cl->peak_kb, cl->n),
						cl->n);
				fprintf(j, "}");
			}
			fprintf(j, "}}");
		}
		fprintf(j, "\n  ]\n}\n");
		fclose(j);
	}
	if (failures)
		printf("\n%d workload/allocator combinations FAILED (see messages above)\n", failures);
	return failures ? 1 : 0;
}
