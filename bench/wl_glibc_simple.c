// SPDX-License-Identifier: MIT
/*
 * glibc-simple: one thread, tight loops of small blocks of one size, after
 * glibc's bench-malloc-simple: allocate a batch, then free it, many times.
 */
#include "harness.h"

enum { P_ITER, P_BATCH, P_SIZE };

static const struct hkb_param params[] = {
	[P_ITER] = { "iterations", HKB_INT, 2000, 1, 100000000, "rounds of allocate-batch, free-batch" },
	[P_BATCH] = { "batch", HKB_INT, 500, 1, 1000000, "blocks allocated before they are freed" },
	[P_SIZE] = { "size", HKB_SIZE, 64, 1, 1 << 20, "bytes per block" },
};

static int simple_run(struct hkb_run *r)
{
	long long iters = r->p[P_ITER];
	size_t batch = (size_t)r->p[P_BATCH], size = (size_t)r->p[P_SIZE];
	void **blk = hkb_malloc(r, batch * sizeof *blk);
	if (!blk)
		return -1;
	double t0 = hkb_now(r);
	for (long long it = 0; it < iters && !hkb_failed(r); it++) {
		for (size_t i = 0; i < batch; i++) {
			blk[i] = hkb_malloc(r, size);
			if (!blk[i]) {
				batch = i;
				break;
			}
			hkb_stamp(blk[i], size, hkb_tag(it, i));
		}
		for (size_t i = 0; i < batch; i++) {
			hkb_verify(r, blk[i], size, hkb_tag(it, i), "block changed while live");
			hkb_free(r, blk[i]);
		}
	}
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)iters * (double)batch * 2 / r->seconds / 1e6;
	hkb_free(r, blk);
	return 0;
}

const struct hkb_workload hkb_wl_glibc_simple = {
	.name = "glibc-simple",
	.summary = "one thread: allocate a batch of same-size small blocks, free it; repeat",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "iterations=20 batch=100",
	.run = simple_run,
};
