// SPDX-License-Identifier: MIT
/*
 * hkbench sweep: benchmarks x parameter values x allocators x threads x
 * repetitions. Every run is a child process (fresh heap, its own peak RSS);
 * runs are interleaved: each repetition visits every configuration and,
 * within it, every allocator in turn (A B C A B C ...). Rows go to a CSV
 * file and a JSON file; tools/report.py turns the CSV into the report.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hkbench.h"

#define MAX_BENCH 32
#define MAX_ALLOCS 16
#define MAX_THREADS 16
#define MAX_VARY 4
#define MAX_VALUES 8
#define MAX_SET 32

/* A parameter varied over a list of values: "[bench.]key=v1,v2". */
struct vary {
	char scope[48];          /* bench name, or "" for every bench that has key */
	char key[48];
	char *values[MAX_VALUES];
	int n;
	char buf[256];
};

/* Split "[bench.]key" into scope and key. */
static void scoped_key(const char *in, size_t klen, char *scope, char *key)
{
	char tmp[48];
	snprintf(tmp, sizeof tmp, "%.*s", (int)(klen < 47 ? klen : 47), in);
	char *dot = strchr(tmp, '.');
	if (dot) {
		*dot = 0;
		memcpy(scope, tmp, sizeof tmp);
		memcpy(key, dot + 1, strlen(dot + 1) + 1);
	} else {
		scope[0] = 0;
		memcpy(key, tmp, sizeof tmp);
	}
}

static bool applies(const char *scope, const char *key, const struct hkb_workload *w)
{
	return (!scope[0] || !strcmp(scope, w->name)) && hkb_param_index(w, key) >= 0;
}

static void usage_sweep(void)
{
	fprintf(stderr,
		"usage: hkbench sweep [--bench all|NAME,...] [--allocs default|NAME,...] [--threads 1,2]\n"
		"                     [--reps N] [--set [bench.]key=value]... [--vary [bench.]key=v1,v2]...\n"
		"                     [--tiny|--quick] [--csv FILE] [--json FILE] [--out DIR] [--heap-mb N]\n"
		"                     [--timeout S] [--heapkit-lib PATH]\n"
		"  --out DIR writes DIR/sweep.csv, DIR/sweep.json, DIR/summary.csv and DIR/report.html;\n"
		"  --quick (= --tiny) is the preset small enough for the test suite;\n"
		"  heapkit-dropin is another name for heapkit (the drop-in, preloaded).\n"
		"  default allocators: system, mimalloc, jemalloc, tcmalloc, heapkit (those present)\n"
		"  and every heapkit backend that can free.\n");
}

/* Default allocators: every one available that can free. */
static int default_allocs(char **out, int max)
{
	const char *names[64];
	size_t n = hkbench_alloc_names(names, 64);
	int k = 0;
	for (size_t i = 0; i < n && k < max; i++) {
		struct hkbench_choice c;
		if (!hkbench_choose(names[i], &c) || !c.available || !c.in_default)
			continue;
		if (c.kind == HKBENCH_BACKEND && !(c.backend->caps & HK_CAP_FREE))
			continue;
		out[k++] = (char *)names[i];
	}
	return k;
}

static void json_str(FILE *j, const char *s)
{
	fputc('"', j);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', j);
		fputc(*s, j);
	}
	fputc('"', j);
}

/* A progress bar on a terminal: runs done of total (total 0: not known yet). */
static void progress(int done, int total, const char *what, const char *alloc)
{
	if (!isatty(2))
		return;
	char bar[31] = "";
	if (total > 0) {
		int fill = done * 30 / total;
		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = 0;
		fprintf(stderr, "\r[%s] %d/%d %-18.18s %-12.12s", bar, done, total, what, alloc);
	} else {
		fprintf(stderr, "\r[%-30s] %d %-18.18s %-12.12s", "first repetition", done, what, alloc);
	}
	fflush(stderr);
}

int hkbench_cmd_sweep(int argc, char **argv)
{
	char bench_buf[512] = "all", alloc_buf[512] = "default", thr_buf[128] = "1,2";
	const char *csv_path = "bench-out/sweep.csv", *json_path = NULL;
	char *sets[MAX_SET];
	int nset = 0;
	struct vary vary[MAX_VARY];
	int nvary = 0, reps = 3;
	bool tiny = false;
	double timeout = 120;
	const char *out_dir = NULL;
	static char out_csv[4096], out_json[4096];
	char heap_s[32] = "";
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--bench") && v)
			snprintf(bench_buf, sizeof bench_buf, "%s", argv[++i]);
		else if (!strcmp(a, "--allocs") && v)
			snprintf(alloc_buf, sizeof alloc_buf, "%s", argv[++i]);
		else if (!strcmp(a, "--threads") && v)
			snprintf(thr_buf, sizeof thr_buf, "%s", argv[++i]);
		else if (!strcmp(a, "--reps") && v)
			reps = atoi(argv[++i]);
		else if (!strcmp(a, "--set") && v && nset < MAX_SET)
			sets[nset++] = argv[++i];
		else if (!strcmp(a, "--vary") && v && nvary < MAX_VARY) {
			struct vary *vy = &vary[nvary++];
			const char *eq = strchr(argv[++i], '=');
			if (!eq) {
				usage_sweep();
				return 2;
			}
			scoped_key(argv[i], (size_t)(eq - argv[i]), vy->scope, vy->key);
			snprintf(vy->buf, sizeof vy->buf, "%s", eq + 1);
			vy->n = hkbench_split(vy->buf, vy->values, MAX_VALUES);
		} else if (!strcmp(a, "--csv") && v)
			csv_path = argv[++i];
		else if (!strcmp(a, "--json") && v)
			json_path = argv[++i];
		else if (!strcmp(a, "--heap-mb") && v)
			snprintf(heap_s, sizeof heap_s, "%s", argv[++i]);
		else if (!strcmp(a, "--heapkit-lib") && v)
			hkbench_opts.heapkit_lib = argv[++i];
		else if (!strcmp(a, "--timeout") && v)
			timeout = atof(argv[++i]);
		else if (!strcmp(a, "--tiny") || !strcmp(a, "--quick"))
			tiny = true;
		else if (!strcmp(a, "--out") && v) {
			out_dir = argv[++i];
			snprintf(out_csv, sizeof out_csv, "%s/sweep.csv", out_dir);
			snprintf(out_json, sizeof out_json, "%s/sweep.json", out_dir);
			csv_path = out_csv;
			json_path = out_json;
			mkdir(out_dir, 0755);
		}
		else {
			usage_sweep();
			return 2;
		}
	}
	/* Benchmarks. */
	const struct hkb_workload *benches[MAX_BENCH];
	int nbench = 0;
	if (!strcmp(bench_buf, "all")) {
		for (size_t i = 0; i < hkb_workload_count() && nbench < MAX_BENCH; i++)
			benches[nbench++] = hkb_workload_at(i);
	} else {
		char *names[MAX_BENCH];
		int n = hkbench_split(bench_buf, names, MAX_BENCH);
		for (int i = 0; i < n; i++) {
			if (!(benches[nbench] = hkb_workload_find(names[i]))) {
				fprintf(stderr, "hkbench sweep: unknown workload '%s'\n", names[i]);
				return 2;
			}
			nbench++;
		}
	}
	/* Allocators. */
	char *allocs[MAX_ALLOCS];
	int nalloc = 0;
	if (!strcmp(alloc_buf, "default")) {
		nalloc = default_allocs(allocs, MAX_ALLOCS);
	} else {
		char *req[MAX_ALLOCS];
		int n = hkbench_split(alloc_buf, req, MAX_ALLOCS);
		for (int i = 0; i < n; i++) {
			struct hkbench_choice c;
			if (!hkbench_choose(req[i], &c))
				return 2;
			if (!c.available)
				fprintf(stderr, "hkbench sweep: %s left out: %s\n", req[i], c.why);
			else
				allocs[nalloc++] = req[i];
		}
	}
	char *threads[MAX_THREADS];
	int nthreads = hkbench_split(thr_buf, threads, MAX_THREADS);
	if (!nalloc || !nthreads || reps < 1) {
		usage_sweep();
		return 2;
	}
	FILE *csv = fopen(csv_path, "w");
	if (!csv) {
		perror(csv_path);
		return 2;
	}
	fprintf(csv, "%s\n", HKBENCH_CSV_HEADER);
	FILE *json = json_path ? fopen(json_path, "w") : NULL;
	if (json)
		fprintf(json, "{\n  \"rows\": [\n");
	bool json_first = true;

	char timeout_s[32];
	snprintf(timeout_s, sizeof timeout_s, "%.0f", timeout);
	int failures = 0, runs = 0, runs_per_rep = 0;
	/* Remember configurations that failed or were skipped, so reps do not retry them. */
	static char dead[4096][8];
	memset(dead, 0, sizeof dead);
	for (int rep = 0; rep < reps; rep++) {
		int cfg = 0;
		for (int b = 0; b < nbench; b++) {
			const struct hkb_workload *w = benches[b];
			/* Combinations of the varied values that apply to this bench. */
			int idx[MAX_VARY] = { 0 };
			for (;;) {
				for (int t = 0; t < nthreads; t++) {
					int tidx = hkb_param_index(w, "threads");
					bool has_threads = tidx >= 0;
					if (!has_threads && t > 0)
						continue;
					if (has_threads && atoll(threads[t]) < w->params[tidx].min)
						continue;
					for (int ai = 0; ai < nalloc; ai++, cfg++) {
						char *args[96];
						int na = 0;
						args[na++] = (char *)w->name;
						if (tiny)
							args[na++] = "--tiny";
						char scope[48], key[48];
						for (int s = 0; s < nset; s++) {
							const char *eq = strchr(sets[s], '=');
							if (!eq)
								continue;
							scoped_key(sets[s], (size_t)(eq - sets[s]), scope, key);
							if (!applies(scope, key, w))
								continue;
							static char kvbuf[MAX_SET][160];
							snprintf(kvbuf[s], sizeof kvbuf[s], "%s%s", key, eq);
							args[na++] = kvbuf[s];
						}
						static char vbuf[MAX_VARY][160];
						for (int v = 0; v < nvary; v++) {
							if (!applies(vary[v].scope, vary[v].key, w))
								continue;
							snprintf(vbuf[v], sizeof vbuf[v], "%s=%s", vary[v].key,
								 vary[v].values[idx[v]]);
							args[na++] = vbuf[v];
						}
						if (has_threads) {
							args[na++] = "--threads";
							args[na++] = threads[t];
						}
						args[na++] = "--alloc";
						args[na++] = allocs[ai];
						args[na++] = "--no-header";
						args[na++] = "--timeout";
						args[na++] = timeout_s;
						if (heap_s[0]) {
							args[na++] = "--heap-mb";
							args[na++] = heap_s;
						}
						if (hkbench_opts.heapkit_lib) {
							args[na++] = "--heapkit-lib";
							args[na++] = (char *)hkbench_opts.heapkit_lib;
						}
						args[na] = NULL;
						if (cfg < 4096 && dead[cfg][0])
							continue;
						struct hkbench_row rows[4];
						int nrows;
						long peak;
						progress(runs, rep ? runs_per_rep * reps : 0, w->name, allocs[ai]);
						int rc = hkbench_child(args, rows, 4, &nrows, &peak, timeout + 5);
						runs++;
						if (nrows < 1) {
							fprintf(stderr, "hkbench sweep: %s on %s: no result (exit %d)\n",
								w->name, allocs[ai], rc);
							failures++;
							if (cfg < 4096)
								dead[cfg][0] = 1;
							continue;
						}
						struct hkbench_row *row = &rows[0];
						snprintf(row->alloc, sizeof row->alloc, "%s", allocs[ai]);
						row->rep = rep;
						row->peak_rss_kb = peak;
						if (rc && !strcmp(row->status, "ok"))
							snprintf(row->status, sizeof row->status, "FAIL");
						if (rc || strcmp(row->status, "ok")) {
							if (strcmp(row->status, "skip")) {
								failures++;
								fprintf(stderr, "hkbench sweep: %s on %s: %s (exit %d)\n",
									w->name, allocs[ai], row->status, rc);
							}
							if (cfg < 4096)
								dead[cfg][0] = 1;
						}
						hkbench_row_print(csv, row);
						fflush(csv);
						if (json) {
							fprintf(json, "%s    {\"benchmark\": ", json_first ? "" : ",\n");
							json_first = false;
							json_str(json, row->bench);
							fprintf(json, ", \"allocator\": ");
							json_str(json, row->alloc);
							fprintf(json, ", \"threads\": %u, \"params\": ", row->threads);
							json_str(json, row->params);
							fprintf(json, ", \"rep\": %d, \"seconds\": %.6f, \"throughput\": %.6g, "
								      "\"unit\": ", row->rep, row->seconds, row->throughput);
							json_str(json, row->unit);
							fprintf(json, ", \"peak_rss_kb\": %ld, \"held_kb\": %ld, \"live_kb\": %ld, "
								      "\"better\": \"%s\", \"status\": ",
								row->peak_rss_kb, row->held_kb, row->live_kb,
								row->lower_better ? "lower" : "higher");
							json_str(json, row->status);
							fprintf(json, "}");
						}
					}
				}
				/* Next combination of varied values that apply. */
				int v = 0;
				for (; v < nvary; v++) {
					if (!applies(vary[v].scope, vary[v].key, w))
						continue;
					if (++idx[v] < vary[v].n)
						break;
					idx[v] = 0;
				}
				if (v == nvary)
					break;
			}
		}
		if (!rep)
			runs_per_rep = runs;
		if (isatty(2))
			fputc('\n', stderr);
		fprintf(stderr, "hkbench sweep: repetition %d/%d done (%d runs)\n", rep + 1, reps, runs);
	}
	fclose(csv);
	if (json) {
		fprintf(json, "\n  ],\n  \"failures\": %d\n}\n", failures);
		fclose(json);
	}
	if (failures)
		fprintf(stderr, "hkbench sweep: %d runs FAILED\n", failures);
	if (out_dir) {
		/* The report next to the data: python3 tools/report.py, as make bench runs it. */
		char cmd[8192];
		snprintf(cmd, sizeof cmd, "python3 '%s' --sweep '%s' --out '%s/report.html' --summary-csv '%s/summary.csv'",
			 HKB_REPORT_PY, out_csv, out_dir, out_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "hkbench sweep: the report could not be made (%s)\n", cmd);
	}
	return failures ? 1 : 0;
}
