// SPDX-License-Identifier: MIT
/*
 * hkbench: one binary that runs any of heapkit's benchmark workloads with
 * any parameters against any allocator.
 *
 *   hkbench list
 *   hkbench run WORKLOAD [key=value ...] [--alloc NAME] [--threads N,M] [--reps N]
 *   hkbench test [WORKLOAD|all] [--alloc NAME,...] [--expect-fail]
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

#include "hkbench.h"

/* --- Small helpers ----------------------------------------------------------- */

int hkbench_split(char *s, char **out, int max)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

void hkbench_row_print(FILE *f, const struct hkbench_row *r)
{
	fprintf(f, "%s,%s,%u,%s,%d,%.6f,%.6g,%s,%ld,%ld,%ld,%s,%s\n", r->bench, r->alloc, r->threads,
		r->params, r->rep, r->seconds, r->throughput, r->unit, r->peak_rss_kb, r->held_kb,
		r->live_kb, r->lower_better ? "lower" : "higher", r->status);
}

int hkbench_row_parse(const char *line, struct hkbench_row *r)
{
	char better[16];
	memset(r, 0, sizeof *r);
	int n = sscanf(line, "%47[^,],%63[^,],%u,%255[^,],%d,%lf,%lf,%23[^,],%ld,%ld,%ld,%15[^,],%15s",
		       r->bench, r->alloc, &r->threads, r->params, &r->rep, &r->seconds, &r->throughput,
		       r->unit, &r->peak_rss_kb, &r->held_kb, &r->live_kb, better, r->status);
	if (n != 13)
		return -1;
	r->lower_better = !strcmp(better, "lower");
	return 0;
}

double hkbench_median(double *v, int n)
{
	/* Insertion sort: n is a handful of repetitions. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? (n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* --- list ------------------------------------------------------------------------ */

static const char *ptype_name(enum hkb_ptype t)
{
	return t == HKB_SIZE ? "size" : t == HKB_MILLIS ? "seconds" : "int";
}

int hkbench_cmd_list(int argc, char **argv)
{
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

/* Re-execute with LD_PRELOAD=lib and --alloc system; returns only on failure. */
static int run_preloaded(const struct hkbench_choice *c, int argc, char **argv)
{
	if (!c->available) {
		fprintf(stderr, "hkbench: %s unavailable: %s (%s)\n", c->name, c->why, c->lib);
		return HKBENCH_UNAVAILABLE;
	}
	char **nargv = calloc((size_t)argc + 1, sizeof *nargv);
	for (int i = 0; i < argc; i++) {
		nargv[i] = argv[i];
		if (i > 0 && !strcmp(argv[i - 1], "--alloc"))
			nargv[i] = "system";
	}
	setenv("LD_PRELOAD", c->lib, 1);
	setenv("HKBENCH_PRELOADED", c->name, 1);
	setenv("HKBENCH_PRELOAD_LIB", c->lib, 1);
	execv("/proc/self/exe", nargv);
	perror("hkbench: exec");
	return 2;
}

/* Run one (workload, allocator, params) reps times; rows to stdout. */
/* Child mode (sweep, compare): print a "started" row before each run, so a
 * crash or hang is still attributed to its configuration. */
static bool progress_rows;

static int run_reps(struct hkb_run *proto, struct hkb_alloc *a, int reps, bool quiet)
{
	char params[256];
	hkb_run_params_str(proto, params, sizeof params);
	for (int rep = 0; rep < reps; rep++) {
		struct hkb_run r = *proto;
		struct hkbench_row row = { 0 };
		snprintf(row.bench, sizeof row.bench, "%s", r.w->name);
		snprintf(row.alloc, sizeof row.alloc, "%s", a->name);
		snprintf(row.params, sizeof row.params, "%s", params);
		snprintf(row.unit, sizeof row.unit, "%s", r.w->unit);
		row.threads = hkb_run_nthreads(&r);
		row.rep = rep;
		row.held_kb = row.live_kb = -1;
		row.lower_better = r.w->lower_is_better;
		const char *skip = skip_reason(&r, a);
		if (skip) {
			fprintf(stderr, "hkbench: skip %s on %s: %s\n", r.w->name, a->name, skip);
			snprintf(row.status, sizeof row.status, "skip");
			hkbench_row_print(stdout, &row);
			return 0;
		}
		if (progress_rows) {
			snprintf(row.status, sizeof row.status, "started");
			hkbench_row_print(stdout, &row);
			fflush(stdout);
		}
		int rc = hkb_run_exec(&r);
		row.seconds = r.seconds;
		row.throughput = r.throughput;
		row.peak_rss_kb = hkbench_peak_rss_kb();
		row.held_kb = r.held_kb;
		row.live_kb = r.live_kb;
		snprintf(row.status, sizeof row.status, "%s", rc ? "FAIL" : "ok");
		if (!quiet || rc)
			hkbench_row_print(stdout, &row);
		fflush(stdout);
		if (rc) {
			fprintf(stderr, "hkbench: %s on %s FAILED: %s (block %p, detail %llu)\n", r.w->name,
				a->name, r.fail_what, r.fail_addr, (unsigned long long)r.fail_detail);
			return 1;
		}
	}
	return 0;
}

static void usage_run(void)
{
	fprintf(stderr, "usage: hkbench run WORKLOAD [key=value ...] [--alloc NAME] [--threads N[,M...]]\n"
			"                    [--reps N] [--tiny] [--heap-mb N] [--heapkit-lib PATH]\n"
			"                    [--no-header] [--timeout SECONDS]\n");
}

int hkbench_cmd_run(int argc, char **argv)
{
	const char *alloc_name = "system", *threads_list = NULL;
	int reps = 1, timeout = 0;
	bool header = true, tiny = false;
	char *kv[64];
	int nkv = 0;
	if (argc < 3) {
		usage_run();
		return 2;
	}
	const struct hkb_workload *w = hkb_workload_find(argv[2]);
	if (!w) {
		fprintf(stderr, "hkbench: unknown workload '%s'\n", argv[2]);
		list_workloads();
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--alloc") && i + 1 < argc)
			alloc_name = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads_list = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--heap-mb") && i + 1 < argc)
			hkbench_opts.heap_mb = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--heapkit-lib") && i + 1 < argc)
			hkbench_opts.heapkit_lib = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-header"))
			header = false;
		else if (!strcmp(argv[i], "--progress-rows"))
			progress_rows = true;
		else if (!strcmp(argv[i], "--tiny"))
			tiny = true;
		else if (strchr(argv[i], '=') && nkv < 64)
			kv[nkv++] = argv[i];
		else {
			usage_run();
			return 2;
		}
	}
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
	for (int i = 0; i < nkv; i++) {
		if (hkb_run_set_list(&proto, kv[i], &err)) {
			fprintf(stderr, "hkbench: %s: '%s': %s\n", w->name, kv[i], err);
			list_params(w);
			return 2;
		}
	}
	if (header)
		printf("%s\n", HKBENCH_CSV_HEADER);
	char tl[256];
	snprintf(tl, sizeof tl, "%s", threads_list ? threads_list : "");
	char *tv[32];
	int nt = threads_list ? hkbench_split(tl, tv, 32) : 0;
	int tidx = hkb_param_index(w, "threads");
	int rc = 0;
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
		rc = run_reps(&r, &a, reps, false);
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
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--alloc") && i + 1 < argc)
			alloc_list = argv[++i];
		else if (!strcmp(argv[i], "--heap-mb") && i + 1 < argc)
			hkbench_opts.heap_mb = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--expect-fail"))
			expect_fail = true;
		else
			which = argv[i];
	}
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

static void usage(void)
{
	fprintf(stderr, "usage: hkbench list | run | test | sweep | compare | trace-info   (hkbench CMD --help)\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "list"))
		return hkbench_cmd_list(argc, argv);
	if (!strcmp(argv[1], "run"))
		return hkbench_cmd_run(argc, argv);
	if (!strcmp(argv[1], "test"))
		return hkbench_cmd_test(argc, argv);
	if (!strcmp(argv[1], "sweep"))
		return hkbench_cmd_sweep(argc, argv);
	if (!strcmp(argv[1], "trace-info"))
		return hkbench_trace_info(argc, argv);
	if (!strcmp(argv[1], "compare"))
		return hkbench_cmd_compare(argc, argv);
	usage();
	return 2;
}
