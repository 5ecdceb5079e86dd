// SPDX-License-Identifier: MIT
/*
 * Checks a trace of trace_target (see there): thread count, objects,
 * cross-thread frees, and that truncated or corrupt copies are refused.
 *   trace_check TRACE          the parent's trace
 *   trace_check --child TRACE  a forked child's: 100 malloc/free pairs
 */
#include <heapkit/trace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void *std_alloc(void *ctx, size_t n) { return malloc(n); }
static void std_free(void *ctx, void *p) { free(p); }
static const struct hk_trace_mem mem = { std_alloc, std_free, NULL };

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *d = malloc(*len);
	if (fread(d, 1, *len, f) != *len)
		exit(2);
	fclose(f);
	return d;
}

static int check_child(const char *path)
{
	size_t len;
	uint8_t *d = slurp(path, &len);
	struct hk_trace t;
	const char *err = NULL;
	CHECKF(hk_trace_load(d, len, &mem, &t, &err) == 0, "load: %s", err);
	CHECKF(t.nr_threads == 1 && t.nr_objects >= 100 && t.nr_untracked_frees == 0,
	       "child: %u threads, %u objects, %llu untracked frees", t.nr_threads, t.nr_objects,
	       (unsigned long long)t.nr_untracked_frees);
	printf("trace: child %u objects\n", t.nr_objects);
	hk_trace_release(&t, &mem);
	free(d);
	return check_summary("trace-child");
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--child"))
		return check_child(argv[2]);
	size_t len;
	uint8_t *d = slurp(argv[1], &len);
	struct hk_trace t;
	const char *err = NULL;
	CHECKF(hk_trace_load(d, len, &mem, &t, &err) == 0, "load: %s", err);
	/* 4 workers; the main thread allocates too (the leak, the pthread structures). */
	CHECKF(t.nr_threads >= 5, "threads %u", t.nr_threads);
	/* Each worker: OBJS blocks + OBJS/4 extra from realloc's first malloc. */
	uint64_t worker_objs = 0, cross = 0, frees = 0, reallocs = 0, aligned = 0;
	for (uint32_t i = 0; i < t.nr_threads; i++)
		for (uint32_t j = 0; j < t.threads[i].nr_events; j++) {
			const struct hk_trace_event *e = &t.threads[i].events[j];
			if (e->old_id != UINT32_MAX) {
				frees++;
				cross += t.object_thread[e->old_id] != i;
			}
			reallocs += e->op == HK_TRACE_REALLOC;
			aligned += e->op == HK_TRACE_MEMALIGN && e->align == 64;
			if (e->id != UINT32_MAX && e->size >= 16 && e->size <= 5000)
				worker_objs++;
		}
	CHECKF(reallocs >= 4 * 500, "reallocs %llu", (unsigned long long)reallocs);
	CHECKF(aligned >= 4 * 500, "memalign(64) %llu", (unsigned long long)aligned);
	CHECKF(cross >= 4 * 1000, "cross-thread frees %llu", (unsigned long long)cross);
	CHECKF(worker_objs >= 4 * 2000, "objects %llu", (unsigned long long)worker_objs);
	uint64_t main_mallocs = 0;
	for (uint32_t i = 0; i < t.nr_threads; i++)
		for (uint32_t j = 0; j < t.threads[i].nr_events; j++)
			main_mallocs += t.threads[i].events[j].op == HK_TRACE_MALLOC && t.threads[i].events[j].size == 32;
	CHECKF(main_mallocs >= 10, "the blocks left unfreed at exit: %llu", (unsigned long long)main_mallocs);
	CHECKF(t.nr_untracked_frees == 0, "untracked frees %llu", (unsigned long long)t.nr_untracked_frees);
	printf("trace: %u threads, %llu events, %u objects, %llu frees (%llu cross-thread)\n", t.nr_threads,
	       (unsigned long long)t.nr_events, t.nr_objects, (unsigned long long)frees, (unsigned long long)cross);
	hk_trace_release(&t, &mem);

	/* Truncated copies are refused with a message, never read. */
	for (size_t cut = 1; cut < len; cut += len / 7 + 1) {
		int rc = hk_trace_load(d, len - cut, &mem, &t, &err);
		CHECKF(rc == -1 && strstr(err, "trunc"), "cut %zu bytes: rc %d (%s)", cut, rc, rc ? err : "");
	}
	/* A flipped byte in a payload is caught by the checksum. */
	d[len - 3] ^= 0x40;
	int rc = hk_trace_load(d, len, &mem, &t, &err);
	CHECKF(rc == -1 && strstr(err, "corrupt"), "flipped byte: rc %d", rc);
	d[len - 3] ^= 0x40;
	memcpy(d, "NOTATRAC", 8);
	CHECK(hk_trace_load(d, len, &mem, &t, &err) == -1 && strstr(err, "not a heapkit trace"));
	free(d);
	return check_summary("trace");
}
