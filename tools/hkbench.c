// SPDX-License-Identifier: MIT
/*
 * hkbench: one binary that runs any of heapkit's benchmark workloads with
 * any parameters against any allocator.
 *
 *   hkbench list
 *   hkbench run WORKLOAD [key=value ...] [--allocs NAME] [--threads N,M] [--reps N]
 *                        [--format csv|json|table]
 *   hkbench test [WORKLOAD|all] [--allocs NAME,...] [--expect-fail]
 *   hkbench sweep ...     (see hkbench_sweep.c)
 *   hkbench compare ...   (see hkcompare.c)
 *
 * Allocators: system, a heapkit backend (an instance over an mmap'd region
 * of --heap-mb MiB), or a malloc library through LD_PRELOAD (mimalloc,
 * jemalloc, tcmalloc, heapkit): run re-executes itself with LD_PRELOAD set.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "host.h"
#include "opts.h"

/* --- list ------------------------------------------------------------------------ */

static const char *ptype_name(enum hkb_ptype t)
{
	return t == HKB_SIZE ? "size" : t == HKB_MILLIS ? "seconds" : "int";
}

int hkbench_cmd_list(int argc, char **argv)
{
	const struct hk_opt opts[] = { HK_OPT_LAST };
	const struct hk_cmd cmd = { .name = "hkbench list", .synopsis = "",
				    .about = "  the workloads with their parameters, and the allocators\n", .opts = opts };
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	printf("workloads:\n");
	for (size_t i = 0; i < hkb_workload_count(); i++) {
		const struct hkb_workload *w = hkb_workload_at(i);
		printf("  %-18s %s  [%s%s]\n", w->name, w->summary, w->unit,
		       w->lower_is_better ? ", lower is better" : "");
		for (unsigned k = 0; k < w->nparams; k++) {
			const struct hkb_param *p = &w->params[k];
			if (p->type == HKB_MILLIS)
				printf("      %-12s %-7s default %.3f  range %.3f..%.3f  %s\n", p->name,
				       ptype_name(p->type), p->def / 1e3, p->min / 1e3, p->max / 1e3, p->help);
			else
				printf("      %-12s %-7s default %lld  range %lld..%lld  %s\n", p->name,
				       ptype_name(p->type), p->def, p->min, p->max, p->help);
		}
	}
	printf("allocators:\n");
	const char *names[64];
	size_t n = hkbench_alloc_names(names, 64);
	for (size_t i = 0; i < n; i++) {
		struct hkbench_choice c;
		if (!hkbench_choose(names[i], &c))
			continue;
		const char *kind = c.kind == HKBENCH_SYSTEM ? "the C library's malloc"
				 : c.kind == HKBENCH_PRELOAD ? "LD_PRELOAD"
							     : "heapkit backend (instance)";
		printf("  %-15s %-28s %s", names[i], kind, c.kind == HKBENCH_PRELOAD ? c.lib : "");
		if (!c.available)
			printf("  (unavailable: %s)", c.why);
		if (c.kind == HKBENCH_BACKEND && !(c.backend->caps & HK_CAP_FREE))
			printf("(cannot free: workloads that need free are skipped)");
		else if (c.kind == HKBENCH_BACKEND && c.backend->summary)
			printf("%s", c.backend->summary);
		printf("\n");
	}
	printf("  %-15s %s\n", "broken", "test double: corrupts live blocks (proves the checks fail)");
	return 0;
}

/* --- run ----------------------------------------------------------------------------- */

/* After bad input: what is valid. */
static void list_workloads(void)
{
	fprintf(stderr, "  workloads:");
	for (size_t i = 0; i < hkb_workload_count(); i++)
		fprintf(stderr, " %s", hkb_workload_at(i)->name);
	fputc('\n', stderr);
}

static void list_params(const struct hkb_workload *w)
{
	fprintf(stderr, "  %s takes:", w->name);
	for (unsigned i = 0; i < w->nparams; i++) {
		const struct hkb_param *p = &w->params[i];
		if (p->type == HKB_TRACE)
			fprintf(stderr, " %s=FILE", p->name);
		else
			fprintf(stderr, " %s=%lld..%lld%s", p->name, p->min, p->max, p->type == HKB_MILLIS ? "ms" : "");
	}
	fputc('\n', stderr);
}

/* Why this allocator cannot run this workload at n threads, or NULL. */
static const char *skip_reason(const struct hkb_run *r, const struct hkb_alloc *a)
{
	if ((r->w->needs & HKB_NEEDS_FREE) && !(a->caps & HKB_CAN_FREE))
		return "the allocator cannot free";
	if (hkb_run_nthreads(r) > 1 && !(a->caps & HKB_THREAD_SAFE))
		return "the allocator is not thread-safe";
	for (unsigned i = 0; i < r->w->nparams; i++)
		if (r->w->params[i].type == HKB_TRACE && r->p[i] < 0)
			return "no trace given (trace=FILE)";
	return NULL;
}

/* Re-execute with LD_PRELOAD=lib and --allocs system; returns only on failure. */
static int run_preloaded(const struct hkbench_choice *c, int argc, char **argv)
{
	if (!c->available) {
		fprintf(stderr, "hkbench: %s unavailable: %s (%s)\n", c->name, c->why, c->lib);
		return HKBENCH_UNAVAILABLE;
	}
	char **nargv = calloc((size_t)argc + 1, sizeof *nargv);
	for (int i = 0; i < argc; i++) {
		nargv[i] = argv[i];
		if (i > 0 && (!strcmp(argv[i - 1], "--allocs") || !strcmp(argv[i - 1], "--alloc")))
			nargv[i] = "system";
		if (!strncmp(argv[i], "--allocs=", 9) || !strncmp(argv[i], "--alloc=", 8))
			nargv[i] = "--allocs=system";
	}
	setenv("LD_PRELOAD", c->lib, 1);
	setenv("HKBENCH_PRELOADED", c->name, 1);
	setenv("HKBENCH_PRELOAD_LIB", c->lib, 1);
	execv("/proc/self/exe", nargv);
	perror("hkbench: exec");
	return 2;
}

/* How run prints its rows. */
enum out_format { OUT_CSV, OUT_JSON, OUT_TABLE };

static void print_row(enum out_format f, const struct hkb_result *row)
{
	char buf[1024];
	switch (f) {
	case OUT_CSV:
		hkb_result_csv(row, buf, sizeof buf);
		fputs(buf, stdout);
		break;
	case OUT_JSON:
		hkb_result_json(row, buf, sizeof buf);
		printf("%s\n", buf);
		break;
	case OUT_TABLE: {
		char fig[48] = "-", sec[24] = "-", cpu[24] = "-", rss[24] = "-";
		if (hkb_present(row->throughput))
			snprintf(fig, sizeof fig, "%.4g %s", row->throughput, row->unit);
		if (hkb_present(row->seconds))
			snprintf(sec, sizeof sec, "%.4g", row->seconds);
		if (hkb_present(row->cpu_seconds))
			snprintf(cpu, sizeof cpu, "%.3f", row->cpu_seconds);
		if (row->peak_rss_kb >= 0)
			snprintf(rss, sizeof rss, "%.1f", row->peak_rss_kb / 1024.0);
		printf("%-18s %-12s %3u %3d %10s %9s %22s %9s  %-7s %s\n", row->bench, row->alloc, row->threads,
		       row->rep, sec, cpu, fig, rss, row->status, row->params);
		break;
	}
	}
}

static void print_header(enum out_format f)
{
	if (f == OUT_CSV)
		printf("%s\n", HKB_RESULT_CSV_HEADER);
	else if (f == OUT_TABLE)
		printf("%-18s %-12s %3s %3s %10s %9s %22s %9s  %-7s %s\n", "benchmark", "allocator", "thr", "rep",
		       "seconds", "cpu s", "figure", "RSS MiB", "status", "params");
}

/* Child mode (sweep, compare): print a "started" row before each run, so a
 * crash or hang is still attributed to its configuration. */
static bool progress_rows;

/* Run one (workload, allocator, params) reps times; rows to stdout. */
static int run_reps(struct hkb_run *proto, struct hkb_alloc *a, int reps, enum out_format fmt)
{
	char params[256];
	hkb_run_params_str(proto, params, sizeof params);
	for (int rep = 0; rep < reps; rep++) {
		struct hkb_run r = *proto;
		struct hkb_result row;
		hkb_result_init(&row);
		snprintf(row.bench, sizeof row.bench, "%s", r.w->name);
		snprintf(row.alloc, sizeof row.alloc, "%s", a->name);
		snprintf(row.params, sizeof row.params, "%s", params);
		snprintf(row.unit, sizeof row.unit, "%s", r.w->unit);
		row.threads = hkb_run_nthreads(&r);
		row.rep = rep;
		row.lower_better = r.w->lower_is_better;
		const char *skip = skip_reason(&r, a);
		if (skip) {
			fprintf(stderr, "hkbench: skip %s on %s: %s\n", r.w->name, a->name, skip);
			snprintf(row.status, sizeof row.status, "skip");
			print_row(fmt, &row);
			return 0;
		}
		if (progress_rows) {
			snprintf(row.status, sizeof row.status, "started");
			print_row(OUT_CSV, &row);
			fflush(stdout);
		}
		double cpu0 = hkbench_cpu_seconds();
		int rc = hkb_run_exec(&r);
		row.cpu_seconds = hkbench_cpu_seconds() - cpu0;
		row.seconds = r.seconds;
		row.throughput = r.throughput;
		row.peak_rss_kb = hkbench_peak_rss_kb();
		row.held_kb = r.held_kb;
		row.live_kb = r.live_kb;
		snprintf(row.status, sizeof row.status, "%s", rc ? "FAIL" : "ok");
		print_row(fmt, &row);
		fflush(stdout);
		if (rc) {
			fprintf(stderr, "hkbench: %s on %s FAILED: %s (block %p, detail %llu)\n", r.w->name,
				a->name, r.fail_what, r.fail_addr, (unsigned long long)r.fail_detail);
			return 1;
		}
	}
	return 0;
}

int hkbench_cmd_run(int argc, char **argv)
{
	const char *alloc_name = "system", *threads_list = NULL, *format = "csv";
	int reps = 1, timeout = 0;
	bool header = true, tiny = false;
	unsigned long long heap_mb = hkbench_opts.heap_mb;
	char *pos[66];
	int npos = 0;
	const struct hk_opt opts[] = {
		HK_OPT_ALIAS("--allocs", "--alloc", HK_OPT_STR, &alloc_name, "NAME",
			     "the allocator (default system; hkbench list shows them)"),
		HK_OPT("--threads", HK_OPT_STR, &threads_list, "N[,M...]", "thread counts, one run each"),
		HK_OPT("--reps", HK_OPT_INT, &reps, "N", "repetitions (default 1)"),
		HK_OPT("--tiny", HK_OPT_FLAG, &tiny, NULL, "the workload's smoke-run parameters"),
		HK_OPT("--format", HK_OPT_STR, &format, "csv|json|table", "how rows are printed (default csv)"),
		HK_OPT("--heap-mb", HK_OPT_ULL, &heap_mb, "N", "region size of a heapkit backend (default 512)"),
		HK_OPT("--heapkit-lib", HK_OPT_STR, &hkbench_opts.heapkit_lib, "PATH", "the drop-in to preload"),
		HK_OPT("--timeout", HK_OPT_INT, &timeout, "SECONDS", "end the run after this long"),
		HK_OPT("--no-header", HK_OPT_CLEAR, &header, NULL, "no CSV header / table heading"),
		HK_OPT("--progress-rows", HK_OPT_FLAG, &progress_rows, NULL, NULL),
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = {
		.name = "hkbench run",
		.synopsis = "WORKLOAD [key=value ...] [options]",
		.about = "  rows: " HKB_RESULT_CSV_HEADER "\n",
		.opts = opts,
		.pos = pos,
		.npos = &npos,
		.maxpos = 66,
	};
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	hkbench_opts.heap_mb = (size_t)heap_mb;
	enum out_format fmt = !strcmp(format, "csv") ? OUT_CSV : !strcmp(format, "json") ? OUT_JSON
			    : !strcmp(format, "table")                   ? OUT_TABLE
									 : (enum out_format)-1;
	if ((int)fmt < 0)
		return hk_opt_error(&cmd, "--format %s: want csv, json or table%s", format, "");
	if (!npos) {
		hk_cmd_usage(&cmd, stderr);
		list_workloads();
		return 2;
	}
	const struct hkb_workload *w = hkb_workload_find(pos[0]);
	if (!w) {
		fprintf(stderr, "hkbench run: unknown workload '%s'\n", pos[0]);
		list_workloads();
		return 2;
	}
	for (int i = 1; i < npos; i++)
		if (!strchr(pos[i], '=')) {
			fprintf(stderr, "hkbench run: '%s' is not key=value\n", pos[i]);
			list_params(w);
			return 2;
		}
	if (strchr(alloc_name, ','))
		return hk_opt_error(&cmd, "run takes one allocator, not '%s'; hkbench sweep takes several%s",
				    alloc_name, "");
	struct hkbench_choice c;
	if (!hkbench_choose(alloc_name, &c))
		return 2;
	if (c.kind == HKBENCH_PRELOAD)
		return run_preloaded(&c, argc, argv);
	const char *label = hkbench_preload_label();
	if (label && hkbench_preload_verify(getenv("HKBENCH_PRELOAD_LIB"))) {
		fprintf(stderr, "hkbench: LD_PRELOAD of %s did not take effect: malloc is not from %s\n",
			label, getenv("HKBENCH_PRELOAD_LIB"));
		return 2;
	}
	if (timeout > 0)
		alarm((unsigned)timeout);
	struct hkb_alloc a;
	if (hkbench_open(&c, &a))
		return 2;
	struct hkb_run proto;
	hkb_run_init(&proto, w, &a, &hkbench_env);
	const char *err;
	if (tiny && hkb_run_set_list(&proto, w->tiny, &err)) {
		fprintf(stderr, "hkbench: %s: bad tiny parameters: %s\n", w->name, err);
		return 2;
	}
	for (int i = 1; i < npos; i++) {
		if (hkb_run_set_list(&proto, pos[i], &err)) {
			fprintf(stderr, "hkbench: %s: '%s': %s\n", w->name, pos[i], err);
			list_params(w);
			return 2;
		}
	}
	if (header)
		print_header(fmt);
	char tl[256];
	snprintf(tl, sizeof tl, "%s", threads_list ? threads_list : "");
	char *tv[32];
	int nt = threads_list ? hkbench_split(tl, tv, 32) : 0;
	int tidx = hkb_param_index(w, "threads");
	rc = 0;
	for (int t = 0; t < (nt ? nt : 1) && !rc; t++) {
		struct hkb_run r = proto;
		if (nt) {
			if (tidx < 0 && atoi(tv[t]) != 1) {
				fprintf(stderr, "hkbench: %s has no threads parameter; skipping threads=%s\n",
					w->name, tv[t]);
				continue;
			}
			if (tidx >= 0 && atoll(tv[t]) < w->params[tidx].min) {
				fprintf(stderr, "hkbench: %s needs at least %lld threads; skipping threads=%s\n",
					w->name, w->params[tidx].min, tv[t]);
				continue;
			}
			if (tidx >= 0 && hkb_run_set(&r, "threads", tv[t], &err)) {
				fprintf(stderr, "hkbench: threads=%s: %s\n", tv[t], err);
				rc = 2;
				break;
			}
		}
		rc = run_reps(&r, &a, reps, fmt);
	}
	hkbench_close(&a);
	return rc;
}

/* --- test: every workload, tiny, on every allocator that fits ------------------------------ */

#define TEST_SKIPPED 3

/* Whether name is one of the comma-separated names in list. */
static bool name_in_list(const char *name, const char *list)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

/* One tiny run in this process; the exit status: 0 as expected, 1 not, 3 skipped. */
static int test_one(const struct hkb_workload *w, const char *alloc, bool expect_fail)
{
	struct hkbench_choice c;
	struct hkb_alloc a;
	if (!hkbench_choose(alloc, &c) || hkbench_open(&c, &a))
		return 1;
	struct hkb_run r;
	const char *err;
	hkb_run_init(&r, w, &a, &hkbench_env);
	if (hkb_run_set_list(&r, w->tiny, &err)) {
		fprintf(stderr, "%s: bad tiny parameters: %s\n", w->name, err);
		return 1;
	}
	if (skip_reason(&r, &a)) {
		printf("skip  %-18s %-8s %s\n", w->name, alloc, skip_reason(&r, &a));
		return TEST_SKIPPED;
	}
	int rc = hkb_run_exec(&r);
	if (expect_fail) {
		printf("%s  %-18s %-8s %s\n", rc ? "ok  " : "MISS", w->name, alloc,
		       rc ? r.fail_what : "corruption went unnoticed");
	} else {
		printf("%s  %-18s %-8s %.3f s  %.4g %s\n", rc ? "FAIL" : "ok  ", w->name, alloc, r.seconds,
		       r.throughput, w->unit);
		if (rc)
			printf("      %s (block %p, detail %llu)\n", r.fail_what, r.fail_addr,
			       (unsigned long long)r.fail_detail);
	}
	fflush(stdout);
	hkbench_close(&a);
	return expect_fail ? !rc : rc != 0;
}

int hkbench_cmd_test(int argc, char **argv)
{
	const char *which = "all", *alloc_list = NULL;
	bool expect_fail = false;
	unsigned long long heap_mb = hkbench_opts.heap_mb;
	char *pos[1];
	int npos = 0;
	const struct hk_opt opts[] = {
		HK_OPT_ALIAS("--allocs", "--alloc", HK_OPT_STR, &alloc_list, "NAME,...",
			     "allocators (default system and every backend that can free)"),
		HK_OPT("--heap-mb", HK_OPT_ULL, &heap_mb, "N", "region size of a heapkit backend (default 512)"),
		HK_OPT("--expect-fail", HK_OPT_FLAG, &expect_fail, NULL, "every run must be caught failing"),
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = {
		.name = "hkbench test",
		.synopsis = "[all|WORKLOAD,...] [options]",
		.about = "  every workload, tiny, on each allocator, each run in its own process\n",
		.opts = opts,
		.pos = pos,
		.npos = &npos,
		.maxpos = 1,
	};
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (npos)
		which = pos[0];
	hkbench_opts.heap_mb = (size_t)heap_mb;
	const char *names[64];
	size_t nnames = 0;
	char listbuf[512];
	if (alloc_list) {
		snprintf(listbuf, sizeof listbuf, "%s", alloc_list);
		nnames = (size_t)hkbench_split(listbuf, (char **)names, 64);
	} else {
		/* system and every backend that can free, by their listed names. */
		const char *all[64];
		size_t nall = hkbench_alloc_names(all, 64);
		for (size_t i = 0; i < nall; i++) {
			struct hkbench_choice c;
			if (hkbench_choose(all[i], &c) && (c.kind == HKBENCH_SYSTEM ||
			    (c.kind == HKBENCH_BACKEND && (c.backend->caps & HK_CAP_FREE))))
				names[nnames++] = all[i];
		}
	}
	int bad = 0, runs = 0;
	for (size_t wi = 0; wi < hkb_workload_count(); wi++) {
		const struct hkb_workload *w = hkb_workload_at(wi);
		if (strcmp(which, "all") && !name_in_list(w->name, which))
			continue;
		for (size_t k = 0; k < nnames; k++) {
			/* Each run in its own process: a crash is one bad run, not the end. */
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				alarm(30);   /* a hang is a failure with a name, not a stuck suite */
				_exit(test_one(w, names[k], expect_fail));
			}
			int st = 0;
			if (pid < 0 || waitpid(pid, &st, 0) < 0) {
				perror("hkbench test: fork");
				return 2;
			}
			if (WIFSIGNALED(st)) {
				printf("%s  %-18s %-8s killed by signal %d\n", expect_fail ? "ok  " : "FAIL", w->name,
				       names[k], WTERMSIG(st));
				runs++;
				bad += !expect_fail;
			} else if (WEXITSTATUS(st) != TEST_SKIPPED) {
				runs++;
				bad += WEXITSTATUS(st) != 0;
			}
		}
	}
	if (!runs) {
		fprintf(stderr, "hkbench test: nothing ran for '%s'\n", which);
		return 1;
	}
	printf("%d runs, %d bad\n", runs, bad);
	return bad ? 1 : 0;
}

/* --- main ------------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} commands[] = {
	{ "list", hkbench_cmd_list, "the workloads, their parameters and the allocators" },
	{ "run", hkbench_cmd_run, "one workload on one allocator: rows as CSV, JSON or a table" },
	{ "test", hkbench_cmd_test, "every workload, tiny, with its content checks" },
	{ "sweep", hkbench_cmd_sweep, "workloads x parameters x allocators x threads, repeated" },
	{ "compare", hkbench_cmd_compare, "the drop-in comparison: a fixed set over LD_PRELOAD" },
	{ "trace-info", hkbench_trace_info, "what a recorded trace holds" },
};
#define NR_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: hkbench COMMAND [options]   (hkbench COMMAND --help)\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "  %-12s %s\n  %-12s %s\n", "--help", "this text", "--version", "heapkit's version");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hkbench heapkit %s\n", hk_version());
		return 0;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc, argv);
	const char *near = NULL;
	int best = 3;
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		int d = hk_opt_distance(argv[1], commands[i].name);
		if (d < best)
			best = d, near = commands[i].name;
	}
	if (near)
		fprintf(stderr, "hkbench: unknown command '%s'; did you mean '%s'?\n", argv[1], near);
	else
		fprintf(stderr, "hkbench: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
