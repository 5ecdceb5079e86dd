// SPDX-License-Identifier: MIT
/*
 * cache-scratch: passive false sharing, after Hoard's benchmark of that
 * name. The main thread allocates one small block per worker and hands it
 * over; each worker frees it, then many times allocates a block of the same
 * size, writes and reads it byte by byte, and frees it. An allocator that
 * hands a worker memory on a cache line another worker writes makes the
 * lines bounce between cores. As Hoard's original, the passes are split
 * among the workers; defaults: the standard "cache-scratch P 1000 1 2000000
 * P" with the passes scaled to 200000.
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_SIZE, P_REPS };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "workers" },
	[P_ITER] = { "iterations", HKB_INT, 1000, 1, 100000000, "blocks each worker allocates" },
	[P_SIZE] = { "size", HKB_SIZE, 1, 1, 1 << 20, "bytes per block" },
	[P_REPS] = { "repetitions", HKB_INT, 200000, 1, 1000000000, "passes writing each block, split among the workers" },
};

struct worker {
	struct hkb_run *r;
	unsigned id;
	void *handed;            /* the block the main thread allocated for us */
};

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct hkb_run *r = w->r;
	size_t size = (size_t)r->p[P_SIZE];
	if (hkb_verify(r, w->handed, size, hkb_tag(w->id, 0), "handed-over block changed"))
		return;
	hkb_free(r, w->handed);
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		unsigned char *b = hkb_malloc(r, size);
		if (!b || hkb_scratch(r, b, size, r->p[P_REPS] / r->p[P_THREADS], 0))
			return;
		uint64_t tag = hkb_tag(w->id, (uint64_t)i + 1);
		hkb_stamp(b, size, tag);
		hkb_verify(r, b, size, tag, "block changed while live");
		hkb_free(r, b);
	}
}

static int scratch_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	size_t size = (size_t)r->p[P_SIZE];
	struct worker w[256];
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){ r, i, hkb_malloc(r, size) };
		if (!w[i].handed)
			return -1;
		hkb_stamp(w[i].handed, size, hkb_tag(i, 0));
	}
	double t0 = hkb_now(r);
	hkb_run_threads(r, n, worker_main, w, sizeof w[0]);
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)r->p[P_ITER] * n / r->seconds / 1e3;
	return 0;
}

const struct hkb_workload hkb_wl_cache_scratch = {
	.name = "cache-scratch",
	.summary = "passive false sharing: workers free a block handed over, then reuse that size",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Kblocks/s",
	.tiny = "iterations=100 repetitions=20",
	.run = scratch_run,
};
