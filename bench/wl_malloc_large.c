// SPDX-License-Identifier: MIT
/*
 * malloc-large: large blocks (64 KiB .. 32 MiB by default) replaced at
 * random, every page of each written, and some blocks grown by realloc.
 * Stresses the path where an allocator maps, unmaps or splits big spans.
 */
#include "harness.h"

enum { P_ITER, P_MIN, P_MAX, P_LIVE, P_GROW, P_SEED };

static const struct hkb_param params[] = {
	[P_ITER] = { "iterations", HKB_INT, 150, 1, 100000000, "blocks replaced" },
	[P_MIN] = { "min", HKB_SIZE, 64 << 10, 16, 1ll << 32, "smallest block" },
	[P_MAX] = { "max", HKB_SIZE, 32 << 20, 16, 1ll << 32, "largest block (log-uniform in min..max)" },
	[P_LIVE] = { "live", HKB_INT, 8, 1, 4096, "blocks held at once" },
	[P_GROW] = { "grow", HKB_INT, 25, 0, 100, "percent of steps that grow a block by realloc" },
	[P_SEED] = { "seed", HKB_INT, 3, 0, 1ll << 40, "random seed" },
};

static int large_run(struct hkb_run *r)
{
	size_t nlive = (size_t)r->p[P_LIVE];
	size_t lo = (size_t)r->p[P_MIN], hi = (size_t)r->p[P_MAX];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], 0);
	if (lo > hi)
		return hkb_fail(r, "min is above max", NULL, lo);
	struct hkb_slot *s = hkb_slots_new(r, nlive);
	if (!s)
		return -1;
	long long ops = 0;
	double t0 = hkb_now(r);
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		struct hkb_slot *v = &s[hkb_rand(&rng) % nlive];
		if (v->p && (long long)(hkb_rand(&rng) % 100) < r->p[P_GROW]) {
			/* Grow by half to double, capped at max. */
			size_t grown = v->size + v->size / 2 + hkb_rand(&rng) % (v->size / 2 + 1);
			if (grown > hi)
				grown = hi;
			if (hkb_verify(r, v->p, v->size, v->tag, "block changed while live"))
				break;
			void *q = hkb_realloc(r, v->p, grown);
			if (!q)
				break;
			hkb_verify(r, q, v->size, v->tag, "realloc lost the contents");
			v->p = q;
			v->size = grown;
		} else {
			hkb_slot_release(r, v);
			v->size = hkb_rand_logsize(&rng, lo, hi);
			if (!(v->p = hkb_malloc(r, v->size)))
				break;
		}
		v->tag = hkb_tag((uint64_t)i, v->size);
		hkb_stamp(v->p, v->size, v->tag);
		ops++;
	}
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)ops / r->seconds / 1e3;
	hkb_slots_free(r, s, nlive);
	return 0;
}

const struct hkb_workload hkb_wl_malloc_large = {
	.name = "malloc-large",
	.summary = "large blocks (64 KiB .. 32 MiB), every page written, some grown by realloc",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Kops/s",
	.tiny = "iterations=20 max=1m live=4",
	.run = large_run,
};
