// SPDX-License-Identifier: MIT
/*
 * phong: random sizes that favour small blocks, random runs of blocks freed
 * together, and some blocks grown or shrunk by realloc. Each thread walks
 * its own array of slots, filling them; now and then it frees a random
 * interval of slots, and now and then it reallocates a live block and checks
 * its contents survived.
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_SLOTS, P_MAX, P_INTERVAL, P_REALLOC, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 1, 1, 256, "threads, each with its own slots" },
	[P_ITER] = { "iterations", HKB_INT, 400000, 1, 1000000000, "allocations per thread" },
	[P_SLOTS] = { "slots", HKB_INT, 8192, 16, 1 << 24, "blocks a thread may hold" },
	[P_MAX] = { "max", HKB_SIZE, 8192, 16, 1 << 24, "largest block (log-uniform from 8: small ones favoured)" },
	[P_INTERVAL] = { "interval", HKB_INT, 256, 1, 1 << 20, "longest run of slots freed at once" },
	[P_REALLOC] = { "realloc", HKB_INT, 10, 0, 100, "percent of allocations followed by a realloc" },
	[P_SEED] = { "seed", HKB_INT, 7, 0, 1ll << 40, "random seed" },
};

struct worker {
	struct hkb_run *r;
	unsigned id;
	long long ops;
};

/* Grow or shrink s to size; the bytes both sizes cover must survive. */
static void slot_resize(struct hkb_run *r, struct hkb_slot *s, size_t size)
{
	if (hkb_verify(r, s->p, s->size, s->tag, "block changed while live"))
		return;
	void *q = hkb_realloc(r, s->p, size);
	if (!q)
		return;
	if (size >= s->size)
		hkb_verify(r, q, s->size, s->tag, "realloc lost the contents");
	else if (size >= 8 && s->size >= 16 && memcmp(q, &s->tag, 8))
		hkb_fail(r, "realloc lost the contents", q, 0);
	s->p = q;
	s->size = size;
	s->tag = hkb_tag(s->tag, size);
	hkb_stamp(q, size, s->tag);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct hkb_run *r = w->r;
	size_t nslots = (size_t)r->p[P_SLOTS], max = (size_t)r->p[P_MAX];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], w->id);
	uint64_t interval = (uint64_t)r->p[P_INTERVAL];
	uint64_t realloc_pct = (uint64_t)r->p[P_REALLOC];
	struct hkb_slot *s = hkb_slots_new(r, nslots);
	if (!s)
		return;
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		struct hkb_slot *v = &s[(size_t)i % nslots];
		hkb_slot_release(r, v);
		if (hkb_slot_fill(r, v, hkb_rand_logsize(&rng, 8, max), hkb_tag(w->id, (uint64_t)i)))
			break;
		w->ops++;
		uint64_t dice = hkb_rand(&rng);
		if (dice % 100 < realloc_pct) {
			struct hkb_slot *x = &s[(dice >> 8) % nslots];
			if (x->p) {
				slot_resize(r, x, hkb_rand_logsize(&rng, 8, max));
				w->ops++;
			}
		}
		if ((dice >> 24) % (interval * 2) == 0) {
			size_t start = (size_t)((dice >> 40) % nslots);
			size_t len = 1 + (size_t)(hkb_rand(&rng) % interval);
			for (size_t k = 0; k < len && start + k < nslots; k++)
				hkb_slot_release(r, &s[start + k]);
		}
	}
	hkb_slots_free(r, s, nslots);
}

static int phong_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	struct worker w[256];
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct worker){ r, i, 0 };
	double t0 = hkb_now(r);
	hkb_run_threads(r, n, worker_main, w, sizeof w[0]);
	r->seconds = hkb_now(r) - t0;
	long long ops = 0;
	for (unsigned i = 0; i < n; i++)
		ops += w[i].ops;
	r->throughput = (double)ops * 2 / r->seconds / 1e6;
	return 0;
}

const struct hkb_workload hkb_wl_phong = {
	.name = "phong",
	.summary = "random sizes favouring small ones, random intervals freed, some blocks reallocated",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "iterations=5000 slots=256",
	.run = phong_run,
};
