// SPDX-License-Identifier: MIT
/*
 * hkbench trace-info FILE [--json OUT]: what a recorded trace holds — its
 * threads and calls, the size and lifetime histograms, live bytes over time
 * and the share of cross-thread frees. The JSON feeds the report's charts.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "host.h"
#include "opts.h"

#define NO_ID UINT32_MAX
#define SIZE_BUCKETS 22    /* <=16 B, <=32 B, ... <=16 MiB, larger */
#define LIFE_BUCKETS 9     /* <1 us, <10 us, ... <10 s, >=10 s, never freed */
#define TIME_POINTS 60     /* samples of live bytes over the run */

struct delta {
	uint64_t t;
	int64_t bytes;
};

static int delta_cmp(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;
	return (x->t > y->t) - (x->t < y->t);
}

static int size_bucket(uint64_t n)
{
	int b = 0;
	for (uint64_t lim = 16; n > lim && b < SIZE_BUCKETS - 1; lim <<= 1)
		b++;
	return b;
}

static const char *const life_names[LIFE_BUCKETS + 1] = { "<1us",  "<10us", "<100us", "<1ms", "<10ms",
							  "<100ms", "<1s",   "<10s",   ">=10s", "never" };

static int life_bucket(uint64_t ns)
{
	int b = 0;
	for (uint64_t lim = 1000; ns >= lim && b < LIFE_BUCKETS - 1; lim *= 10)
		b++;
	return b;
}

struct info {
	uint64_t ops[6];                   /* by enum hk_trace_op */
	uint64_t sizes[SIZE_BUCKETS];
	uint64_t lives[LIFE_BUCKETS + 1];
	uint64_t frees, cross_frees;
	uint64_t live_at[TIME_POINTS];     /* most live bytes within each slice of the run */
};

static void analyse(const struct hk_trace *t, struct info *in)
{
	uint64_t *born = calloc(t->nr_objects + 1, sizeof *born);
	uint8_t *freed = calloc(t->nr_objects + 1, 1);
	struct delta *d = malloc((t->nr_events * 2 + 1) * sizeof *d);
	size_t nd = 0;
	if (!born || !freed || !d) {
		fprintf(stderr, "hkbench: out of memory\n");
		exit(2);
	}
	/* Births first: a free may be on another thread than its allocation. */
	for (uint32_t i = 0; i < t->nr_threads; i++)
		for (uint32_t j = 0; j < t->threads[i].nr_events; j++) {
			const struct hk_trace_event *e = &t->threads[i].events[j];
			in->ops[e->op < 6 ? e->op : 0]++;
			if (e->id != NO_ID) {
				born[e->id] = e->time_ns;
				in->sizes[size_bucket(e->size)]++;
				d[nd++] = (struct delta){ e->time_ns, (int64_t)e->size };
			}
		}
	for (uint32_t i = 0; i < t->nr_threads; i++)
		for (uint32_t j = 0; j < t->threads[i].nr_events; j++) {
			const struct hk_trace_event *e = &t->threads[i].events[j];
			if (e->old_id == NO_ID)
				continue;
			in->frees++;
			in->cross_frees += t->object_thread[e->old_id] != i;
			freed[e->old_id] = 1;
			uint64_t b = born[e->old_id];
			in->lives[life_bucket(e->time_ns > b ? e->time_ns - b : 0)]++;
			d[nd++] = (struct delta){ e->time_ns, -(int64_t)t->object_size[e->old_id] };
		}
	for (uint32_t id = 0; id < t->nr_objects; id++)
		in->lives[LIFE_BUCKETS] += !freed[id];
	qsort(d, nd, sizeof *d, delta_cmp);
	int64_t live = 0;
	uint64_t span = t->duration_ns + 1;
	for (size_t k = 0; k < nd; k++) {
		live += d[k].bytes;
		size_t slot = (size_t)((double)d[k].t / (double)span * TIME_POINTS);
		if (slot >= TIME_POINTS)
			slot = TIME_POINTS - 1;
		if (live > 0 && (uint64_t)live > in->live_at[slot])
			in->live_at[slot] = (uint64_t)live;
	}
	free(born);
	free(freed);
	free(d);
}

static void print_text(const char *path, const struct hk_trace *t, const struct info *in)
{
	printf("trace %s (pid %u)\n", path, t->pid);
	printf("  threads %u, calls %llu over %.3f s, blocks %u, peak live %.1f KiB\n", t->nr_threads,
	       (unsigned long long)t->nr_events, (double)t->duration_ns * 1e-9, t->nr_objects,
	       (double)t->peak_live_bytes / 1024);
	printf("  malloc %llu, calloc %llu, realloc %llu, memalign %llu, free %llu\n",
	       (unsigned long long)in->ops[HK_TRACE_MALLOC], (unsigned long long)in->ops[HK_TRACE_CALLOC],
	       (unsigned long long)in->ops[HK_TRACE_REALLOC], (unsigned long long)in->ops[HK_TRACE_MEMALIGN],
	       (unsigned long long)in->ops[HK_TRACE_FREE]);
	printf("  cross-thread frees %llu of %llu (%.1f%%); frees of blocks made before recording %llu\n",
	       (unsigned long long)in->cross_frees, (unsigned long long)in->frees,
	       in->frees ? 100.0 * (double)in->cross_frees / (double)in->frees : 0.0,
	       (unsigned long long)t->nr_untracked_frees);
	printf("  sizes:");
	for (int b = 0; b < SIZE_BUCKETS; b++)
		if (in->sizes[b])
			printf(" %s%llu:%llu", b == SIZE_BUCKETS - 1 ? ">" : "<=",
			       (unsigned long long)(16ull << (b == SIZE_BUCKETS - 1 ? b - 1 : b)),
			       (unsigned long long)in->sizes[b]);
	printf("\n  lifetimes:");
	for (int b = 0; b <= LIFE_BUCKETS; b++)
		if (in->lives[b])
			printf(" %s:%llu", life_names[b], (unsigned long long)in->lives[b]);
	printf("\n");
}

static void print_json(FILE *f, const char *path, const struct hk_trace *t, const struct info *in)
{
	fprintf(f, "{\"trace\": \"%s\", \"threads\": %u, \"calls\": %llu, \"blocks\": %u, \"duration_ns\": %llu,\n",
		path, t->nr_threads, (unsigned long long)t->nr_events, t->nr_objects,
		(unsigned long long)t->duration_ns);
	fprintf(f, " \"peak_live_bytes\": %llu, \"frees\": %llu, \"cross_thread_frees\": %llu,"
		   " \"untracked_frees\": %llu,\n",
		(unsigned long long)t->peak_live_bytes, (unsigned long long)in->frees,
		(unsigned long long)in->cross_frees, (unsigned long long)t->nr_untracked_frees);
	fprintf(f, " \"sizes\": [");
	for (int b = 0; b < SIZE_BUCKETS; b++)
		fprintf(f, "%s[\"%s%llu\", %llu]", b ? ", " : "", b == SIZE_BUCKETS - 1 ? ">" : "<=",
			(unsigned long long)(16ull << (b == SIZE_BUCKETS - 1 ? b - 1 : b)),
			(unsigned long long)in->sizes[b]);
	fprintf(f, "],\n \"lifetimes\": [");
	for (int b = 0; b <= LIFE_BUCKETS; b++)
		fprintf(f, "%s[\"%s\", %llu]", b ? ", " : "", life_names[b], (unsigned long long)in->lives[b]);
	fprintf(f, "],\n \"live_bytes\": [");
	for (int k = 0; k < TIME_POINTS; k++)
		fprintf(f, "%s[%.6f, %llu]", k ? ", " : "", (double)t->duration_ns * 1e-9 * (k + 1) / TIME_POINTS,
			(unsigned long long)in->live_at[k]);
	fprintf(f, "]}\n");
}

int hkbench_trace_info(int argc, char **argv)
{
	const char *path = NULL, *json = NULL;
	char *pos[1];
	int npos = 0;
	const struct hk_opt opts[] = {
		HK_OPT("--json", HK_OPT_STR, &json, "OUT", "also write the figures as JSON (the report reads it)"),
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = { .name = "hkbench trace-info", .synopsis = "FILE [options]", .opts = opts,
				    .pos = pos, .npos = &npos, .maxpos = 1 };
	int rc = hk_cmd_parse(&cmd, argc, argv, 2);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!npos) {
		hk_cmd_usage(&cmd, stderr);
		return 2;
	}
	path = pos[0];
	size_t len;
	const char *err = NULL;
	uint8_t *data = hkbench_slurp(path, &len, &err);
	struct hk_trace t;
	if (!data || hk_trace_load(data, len, &hkbench_trace_mem, &t, &err)) {
		fprintf(stderr, "hkbench: %s: %s\n", path, err);
		free(data);
		return 1;
	}
	free(data);
	struct info in;
	memset(&in, 0, sizeof in);
	analyse(&t, &in);
	print_text(path, &t, &in);
	if (json) {
		FILE *f = fopen(json, "w");
		if (!f) {
			perror(json);
			return 1;
		}
		print_json(f, path, &t, &in);
		fclose(f);
	}
	hk_trace_release(&t, &hkbench_trace_mem);
	return 0;
}
