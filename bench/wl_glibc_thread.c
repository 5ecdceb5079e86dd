// SPDX-License-Identifier: MIT
/*
 * glibc-thread: after glibc's bench-malloc-thread. Each thread keeps a
 * working set of blocks and, as fast as it can, frees a random one and puts
 * a new block of a random small size in its place.
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_WSET, P_MAX, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads, each with its own working set" },
	[P_ITER] = { "iterations", HKB_INT, 1000000, 1, 1000000000, "replacements per thread" },
	[P_WSET] = { "wset", HKB_INT, 256, 1, 1 << 20, "blocks each thread keeps live" },
	[P_MAX] = { "max", HKB_SIZE, 2048, 8, 1 << 20, "largest block (sizes log-uniform from 8)" },
	[P_SEED] = { "seed", HKB_INT, 1, 0, 1ll << 40, "random seed" },
};

static void worker_main(void *arg)
{
	struct hkb_worker *w = arg;
	struct hkb_run *r = w->r;
	size_t ws = (size_t)r->p[P_WSET], max = (size_t)r->p[P_MAX];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], w->id);
	struct hkb_slot *s = hkb_slots_new(r, ws);
	if (!s)
		return;
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		struct hkb_slot *v = &s[hkb_rand(&rng) % ws];
		hkb_slot_release(r, v);
		if (hkb_slot_fill(r, v, hkb_rand_logsize(&rng, 8, max), hkb_tag(w->id, (uint64_t)i)))
			break;
	}
	hkb_slots_free(r, s, ws);
}

static int thread_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	hkb_run_workers(r, n, worker_main);
	r->throughput = (double)r->p[P_ITER] * n * 2 / r->seconds / 1e6;
	return 0;
}

const struct hkb_workload hkb_wl_glibc_thread = {
	.name = "glibc-thread",
	.summary = "each thread replaces random blocks of a working set with random small sizes",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "iterations=5000 wset=64",
	.run = thread_run,
};
