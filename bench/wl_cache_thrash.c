// SPDX-License-Identifier: MIT
/*
 * cache-thrash: active false sharing, after Hoard's benchmark of that name.
 * Each worker allocates its own small blocks and writes them byte by byte
 * many times. An allocator that puts different threads' blocks on one cache
 * line makes the writers fight over it. As Hoard's original, the passes are
 * split among the workers; defaults: the standard "cache-thrash P 1000 1
 * 2000000 P" with the passes scaled to 200000.
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_SIZE, P_REPS };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "workers" },
	[P_ITER] = { "iterations", HKB_INT, 1000, 1, 100000000, "blocks each worker allocates" },
	[P_SIZE] = { "size", HKB_SIZE, 1, 1, 1 << 20, "bytes per block" },
	[P_REPS] = { "repetitions", HKB_INT, 200000, 1, 1000000000, "passes writing each block, split among the workers" },
};

static void worker_main(void *arg)
{
	struct hkb_worker *w = arg;
	struct hkb_run *r = w->r;
	size_t size = (size_t)r->p[P_SIZE];
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		volatile unsigned char *b = hkb_malloc(r, size);
		if (!b || hkb_scratch(r, b, size, r->p[P_REPS] / r->p[P_THREADS], w->id))
			return;
		uint64_t tag = hkb_tag(w->id, (uint64_t)i);
		hkb_stamp((void *)b, size, tag);
		hkb_verify(r, (const void *)b, size, tag, "block changed while live");
		hkb_free(r, (void *)b);
	}
}

static int thrash_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	hkb_run_workers(r, n, worker_main);
	r->throughput = (double)r->p[P_ITER] * n / r->seconds / 1e3;
	return 0;
}

const struct hkb_workload hkb_wl_cache_thrash = {
	.name = "cache-thrash",
	.summary = "active false sharing: each worker allocates its own small blocks and writes them",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Kblocks/s",
	.tiny = "iterations=100 repetitions=20",
	.run = thrash_run,
};
