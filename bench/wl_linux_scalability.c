// SPDX-License-Identifier: MIT
/*
 * linux-scalability: after Lever and Boreham's benchmark (2000). Each
 * thread does malloc/free pairs of one size as fast as it can; the figure
 * shows how the allocator's cost grows with threads.
 */
#include "harness.h"

enum { P_SIZE, P_ITER, P_THREADS };

static const struct hkb_param params[] = {
	[P_SIZE] = { "size", HKB_SIZE, 128, 1, 1 << 24, "bytes per block" },
	[P_ITER] = { "iterations", HKB_INT, 2000000, 1, 1ll << 40, "malloc/free pairs per thread" },
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads" },
};

static void worker_main(void *arg)
{
	struct hkb_worker *w = arg;
	struct hkb_run *r = w->r;
	size_t size = (size_t)r->p[P_SIZE];
	for (long long i = 0, n = r->p[P_ITER]; i < n; i++) {
		void *p = hkb_malloc(r, size);
		if (!p)
			return;
		uint64_t tag = hkb_tag(w->id, (uint64_t)i);
		hkb_stamp(p, size, tag);
		if (hkb_verify(r, p, size, tag, "block changed while live"))
			return;
		hkb_free(r, p);
	}
}

static int scalability_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	hkb_run_workers(r, n, worker_main);
	r->throughput = (double)r->p[P_ITER] * n / r->seconds / 1e6;
	return 0;
}

const struct hkb_workload hkb_wl_linux_scalability = {
	.name = "linux-scalability",
	.summary = "each thread does malloc/free pairs of one size as fast as it can",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mpairs/s",
	.tiny = "iterations=20000",
	.run = scalability_run,
};
