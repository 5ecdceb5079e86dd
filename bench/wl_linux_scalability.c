// SPDX-License-Identifier: MIT
/*
 * linux-scalability: after Lever and Boreham's benchmark (2000), as Hoard's
 * copy runs it ("linux-scalability 8 10000000 P"). Each thread allocates
 * `iterations` blocks of one size into an array, then frees them all in the
 * same order; the figure shows how the allocator's cost grows with threads.
 * Defaults: the standard arguments with the count scaled to 2000000.
 */
#include "harness.h"

enum { P_SIZE, P_ITER, P_THREADS };

static const struct hkb_param params[] = {
	[P_SIZE] = { "size", HKB_SIZE, 8, 1, 1 << 24, "bytes per block" },
	[P_ITER] = { "iterations", HKB_INT, 2000000, 1, 1ll << 32, "blocks each thread allocates, then frees" },
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads" },
};

static void worker_main(void *arg)
{
	struct hkb_worker *w = arg;
	struct hkb_run *r = w->r;
	size_t size = (size_t)r->p[P_SIZE];
	size_t n = (size_t)r->p[P_ITER], made = 0;
	void **buf = hkb_malloc(r, n * sizeof *buf);
	if (!buf)
		return;
	for (; made < n; made++) {
		if (!(buf[made] = hkb_malloc(r, size)))
			break;
		hkb_stamp(buf[made], size, hkb_tag(w->id, (uint64_t)made));
	}
	for (size_t i = 0; i < made; i++) {
		if (hkb_verify(r, buf[i], size, hkb_tag(w->id, (uint64_t)i), "block changed while live"))
			break;
		hkb_free(r, buf[i]);
	}
	hkb_free(r, buf);
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
	.summary = "each thread allocates many blocks of one size, then frees them all",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mpairs/s",
	.tiny = "iterations=20000",
	.run = scalability_run,
};
