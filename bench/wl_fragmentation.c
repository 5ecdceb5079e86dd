// SPDX-License-Identifier: MIT
/*
 * fragmentation: allocate a mix of small and medium blocks, free most of
 * them at random, then allocate somewhat larger blocks that the holes fit
 * badly. The figure is the memory the allocator still holds at the end
 * beyond what it held before (resident set, or an instance's managed minus
 * available bytes), next to the bytes actually live; lower is better.
 */
#include "harness.h"

enum { P_OBJECTS, P_MAX, P_KEEP, P_SEED };

static const struct hkb_param params[] = {
	[P_OBJECTS] = { "objects", HKB_INT, 50000, 16, 1 << 26, "blocks allocated in the first phase" },
	[P_MAX] = { "max", HKB_SIZE, 1024, 16, 1 << 20, "largest small block (log-uniform from 16)" },
	[P_KEEP] = { "keep", HKB_INT, 10, 0, 100, "percent of the first phase kept live" },
	[P_SEED] = { "seed", HKB_INT, 5, 0, 1ll << 40, "random seed" },
};

static int slot_fill(struct hkb_run *r, struct hkb_slot *s, uint64_t *rng, size_t lo, size_t hi, uint64_t id)
{
	/* One block in 32 is medium-sized: 4 KiB .. 32 KiB. */
	size_t size = (hkb_rand(rng) & 31) == 0 ? hkb_rand_logsize(rng, 4096, 32768)
						: hkb_rand_logsize(rng, lo, hi);
	return hkb_slot_fill(r, s, size, hkb_tag(id, size));
}

static int frag_run(struct hkb_run *r)
{
	size_t n = (size_t)r->p[P_OBJECTS], max = (size_t)r->p[P_MAX];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], 0);
	struct hkb_slot *s = hkb_slots_new(r, n);
	if (!s)
		return -1;
	long held0 = hkb_held_kb(r);
	double t0 = hkb_now(r);
	/* Phase 1: the mix. */
	for (size_t i = 0; i < n && !hkb_failed(r); i++)
		slot_fill(r, &s[i], &rng, 16, max, i);
	/* Phase 2: free all but keep% at random. */
	for (size_t i = 0; i < n && !hkb_failed(r); i++)
		if ((long long)(hkb_rand(&rng) % 100) >= r->p[P_KEEP])
			hkb_slot_release(r, &s[i]);
	/* Phase 3: a quarter as many blocks again, up to twice as large. */
	for (size_t i = 0, k = 0; i < n / 4 && k < 2 * n && !hkb_failed(r); k++) {
		struct hkb_slot *v = &s[k % n];
		if (v->p)
			continue;
		slot_fill(r, v, &rng, 32, 2 * max, n + i);
		i++;
	}
	r->seconds = hkb_now(r) - t0;
	long held1 = hkb_held_kb(r);
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		live += s[i].p ? s[i].size : 0;
	if (held0 >= 0 && held1 >= 0) {
		r->held_kb = held1 - held0;
		r->throughput = (double)r->held_kb;
	} else {
		r->throughput = (double)(live / 1024);
	}
	r->live_kb = (long)(live / 1024);
	hkb_slots_free(r, s, n);
	return 0;
}

const struct hkb_workload hkb_wl_fragmentation = {
	.name = "fragmentation",
	.summary = "allocate a mix, free most at random, refill larger: memory still held (KiB)",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "KiB held",
	.lower_is_better = true,
	.tiny = "objects=2000",
	.run = frag_run,
};
