// SPDX-License-Identifier: MIT
/*
 * hkbench sweep: benchmarks x parameter values x threads, over allocators,
 * repeated - a plan for the planner (plan.h). Rows go to a CSV file and a
 * JSON file (with the run's context); tools/report.py turns them into the
 * report.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "opts.h"
#include "plan.h"

#define MAX_BENCH 32
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

/* Append " key=value" for every --set that applies to w. */
static void add_sets(char *args, size_t len, const char *const *sets, int nset, const struct hkb_workload *w)
{
	for (int s = 0; s < nset; s++) {
		const char *eq = strchr(sets[s], '=');
		char scope[48], key[48];
		if (!eq)
			continue;
		scoped_key(sets[s], (size_t)(eq - sets[s]), scope, key);
		if (applies(scope, key, w))
			snprintf(args + strlen(args), len - strlen(args), " %s%s", key, eq);
	}
}

/* The plan: each bench x combination of varied values x thread count. */
static int build_plan(struct hkb_plan *p, const struct hkb_workload *const *benches, int nbench,
		      const char *const *sets, int nset, struct vary *vary, int nvary, char **threads,
		      int nthreads, bool tiny)
{
	for (int b = 0; b < nbench; b++) {
		const struct hkb_workload *w = benches[b];
		int tidx = hkb_param_index(w, "threads");
		int idx[MAX_VARY] = { 0 };
		for (;;) {
			for (int t = 0; t < nthreads; t++) {
				if ((tidx < 0 && t > 0) || (tidx >= 0 && atoll(threads[t]) < w->params[tidx].min))
					continue;
				char args[512] = "";
				if (tiny)
					snprintf(args, sizeof args, "--tiny");
				add_sets(args, sizeof args, sets, nset, w);
				for (int v = 0; v < nvary; v++)
					if (applies(vary[v].scope, vary[v].key, w))
						snprintf(args + strlen(args), sizeof args - strlen(args), " %s=%s",
							 vary[v].key, vary[v].values[idx[v]]);
				if (tidx >= 0)
					snprintf(args + strlen(args), sizeof args - strlen(args), " --threads %s",
						 threads[t]);
				if (hkb_plan_add(p, NULL, w, args))
					return -1;
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
	return 0;
}

int hkbench_cmd_sweep(int argc, char **argv)
{
	const char *bench_list = "all", *alloc_list = "default", *thr_list = "1,2";
	const char *csv_path = "bench-out/sweep.csv", *json_path = NULL, *out_dir = NULL, *heap = NULL;
	const char *sets[MAX_SET], *varies[MAX_VARY];
	int nset = 0, nvary = 0, reps = 3;
	bool tiny = false;
	double timeout = 120;
	const struct hk_opt opts[] = {
		HK_OPT("--bench", HK_OPT_STR, &bench_list, "all|NAME,...", "workloads (default all)"),
		HK_OPT_ALIAS("--allocs", "--alloc", HK_OPT_STR, &alloc_list, "default|NAME,...",
			     "allocators (default: see below)"),
		HK_OPT("--threads", HK_OPT_STR, &thr_list, "N,M", "thread counts (default 1,2)"),
		HK_OPT("--reps", HK_OPT_INT, &reps, "N", "interleaved repetitions (default 3)"),
		HK_OPT_LIST("--set", sets, &nset, MAX_SET, "[bench.]key=value",
			    "a parameter for the benchmarks that have it"),
		HK_OPT_LIST("--vary", varies, &nvary, MAX_VARY, "[bench.]key=v1,v2", "a parameter over several values"),
		HK_OPT("--tiny", HK_OPT_FLAG, &tiny, NULL, "the preset small enough for the test suite"),
		HK_OPT("--quick", HK_OPT_FLAG, &tiny, NULL, NULL),
		HK_OPT("--csv", HK_OPT_STR, &csv_path, "FILE", "rows as CSV (default bench-out/sweep.csv)"),
		HK_OPT("--json", HK_OPT_STR, &json_path, "FILE", "rows and the run's context as JSON"),
		HK_OPT("--out", HK_OPT_STR, &out_dir, "DIR", "DIR/sweep.csv, sweep.json, summary.csv, report.html"),
		HK_OPT("--heap-mb", HK_OPT_STR, &heap, "N", "region size of the heapkit backends (default 512)"),
		HK_OPT("--timeout", HK_OPT_DOUBLE, &timeout, "S", "seconds a run may take (default 120)"),
		HK_OPT("--heapkit-lib", HK_OPT_STR, &hkbench_opts.heapkit_lib, "PATH", "the drop-in to preload"),
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = {
		.name = "hkbench sweep",
		.synopsis = "[options]",
		.about = "  --quick is --tiny; heapkit-dropin is another name for heapkit (the drop-in, preloaded).\n"
			 "  default allocators: system, mimalloc, jemalloc, tcmalloc, heapkit (those present)\n"
			 "  and every heapkit backend that can free.\n",
		.opts = opts,
	};
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	static char out_csv[4096], out_json[4096];
	if (out_dir) {
		snprintf(out_csv, sizeof out_csv, "%s/sweep.csv", out_dir);
		snprintf(out_json, sizeof out_json, "%s/sweep.json", out_dir);
		csv_path = out_csv;
		json_path = out_json;
		mkdir(out_dir, 0755);
	}
	struct vary vary[MAX_VARY];
	for (int i = 0; i < nvary; i++) {
		const char *eq = strchr(varies[i], '=');
		if (!eq)
			return hk_opt_error(&cmd, "--vary %s: want [bench.]key=v1,v2%s", varies[i], "");
		scoped_key(varies[i], (size_t)(eq - varies[i]), vary[i].scope, vary[i].key);
		snprintf(vary[i].buf, sizeof vary[i].buf, "%s", eq + 1);
		vary[i].n = hkbench_split(vary[i].buf, vary[i].values, MAX_VALUES);
	}
	/* Benchmarks. */
	const struct hkb_workload *benches[MAX_BENCH];
	int nbench = 0;
	if (!strcmp(bench_list, "all")) {
		for (size_t i = 0; i < hkb_workload_count() && nbench < MAX_BENCH; i++)
			benches[nbench++] = hkb_workload_at(i);
	} else {
		char buf[512], *names[MAX_BENCH];
		snprintf(buf, sizeof buf, "%s", bench_list);
		int n = hkbench_split(buf, names, MAX_BENCH);
		for (int i = 0; i < n; i++)
			if (!(benches[nbench++] = hkb_workload_find(names[i])))
				return hk_opt_error(&cmd, "unknown workload '%s'%s (hkbench list shows them)",
						    names[i], "");
	}
	char thr_buf[128], *threads[MAX_THREADS];
	snprintf(thr_buf, sizeof thr_buf, "%s", thr_list);
	int nthreads = hkbench_split(thr_buf, threads, MAX_THREADS);
	if (!nthreads || reps < 1)
		return hk_opt_error(&cmd, "--threads needs a count and --reps at least 1%s%s", "", "");
	struct hkb_plan plan;
	hkb_plan_init(&plan, cmd.name, reps, timeout);
	plan.heap_mb = heap;
	if ((rc = hkb_plan_allocs(&plan, alloc_list)))
		return rc;
	if (build_plan(&plan, benches, nbench, sets, nset, vary, nvary, threads, nthreads, tiny)) {
		fprintf(stderr, "%s: out of memory\n", cmd.name);
		return 2;
	}
	if ((rc = hkb_plan_open(&plan, csv_path, json_path)))
		return rc;
	int failures = hkb_plan_run(&plan);
	hkb_plan_finish(&plan);
	if (out_dir) {
		/* The report next to the data: python3 tools/report.py, as make bench runs it. */
		char cmdline[16384];
		snprintf(cmdline, sizeof cmdline,
			 "python3 '%s' --sweep '%s' --out '%s/report.html' --summary-csv '%s/summary.csv'",
			 hkbench_report_py(), out_csv, out_dir, out_dir);
		if (system(cmdline) != 0)
			fprintf(stderr, "%s: the report could not be made (%s)\n", cmd.name, cmdline);
	}
	return failures ? 1 : 0;
}
