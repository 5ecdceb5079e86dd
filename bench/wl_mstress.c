// SPDX-License-Identifier: MIT
/*
 * mstress: after mimalloc's stress test (mstress.c) as the standard driver
 * runs it ("mstress P 50 25"). `rounds` times, a fresh set of `threads`
 * threads starts; each makes 100 x scale x (id % 8 + 1) allocations of
 * 1..16 words (half of them into a retained set of 1..64 words kept to the
 * thread's end), now and then a large (x100), huge (x1000) or giant (x10000)
 * one; frees a random block of its own two times in three and swaps one
 * with a shared transfer array one time in four, so blocks migrate between
 * threads and outlive the thread that made them. The array of its blocks
 * grows by realloc. Between rounds about half the transfer slots are freed
 * (all after the last round). Blocks are filled word by word with a pattern
 * that describes the block (as the original), checked before every free and
 * when a block arrives from the transfer array.
 */
#include "harness.h"

enum { P_THREADS, P_SCALE, P_ROUNDS, P_TRANSFER, P_LARGE, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads started each round" },
	[P_SCALE] = { "scale", HKB_INT, 50, 1, 1000000, "load per thread (the original's SCALE, percent)" },
	[P_ROUNDS] = { "rounds", HKB_INT, 25, 1, 1000000, "rounds, each with fresh threads (the original's ITER)" },
	[P_TRANSFER] = { "transfer", HKB_INT, 1000, 1, 1 << 20, "slots of the shared transfer array" },
	[P_LARGE] = { "large", HKB_INT, 1, 0, 1, "allow the rare large, huge and giant blocks" },
	[P_SEED] = { "seed", HKB_INT, 43, 0, 1ll << 40, "random seed" },
};

#define COOKIE 0xbf58476d1ce4e5b9ull

struct worker {
	struct hkb_run *r;
	unsigned id;
	void **transfer;          /* shared: swapped atomically */
	long long allocs;         /* blocks this thread made */
};

static bool chance(uint64_t *rng, unsigned percent) { return hkb_rand(rng) % 100 <= percent; }

/* A block of `items` words (maybe scaled up), word i = (items - i) ^ cookie ^ mix. */
static void *block_new(struct hkb_run *r, uint64_t *rng, size_t items)
{
	if (chance(rng, 1)) {
		if (chance(rng, 1) && r->p[P_LARGE])
			items *= 10000;
		else if (chance(rng, 10) && r->p[P_LARGE])
			items *= 1000;
		else
			items *= 100;
	}
	if (items == 40)
		items++;  /* as the original: pthreads uses that size */
	uint64_t *p = hkb_malloc(r, items * sizeof(uint64_t));
	if (p)
		for (size_t i = 0; i < items; i++)
			p[i] = (items - i) ^ COOKIE;
	return p;
}

/* Check a self-describing block (from any thread); 0 if intact. */
static int block_check(struct hkb_run *r, const void *p, const char *what)
{
	const uint64_t *q = p;
	uint64_t items = q[0] ^ COOKIE;
	if (items == 0 || items > 160u * 10000u)
		return hkb_fail(r, what, p, items);
	for (uint64_t i = 0; i < items; i++)
		if ((q[i] ^ COOKIE) != items - i)
			return hkb_fail(r, what, p, i);
	return 0;
}

static void block_free(struct hkb_run *r, void *p, const char *what)
{
	if (p && !block_check(r, p, what))
		hkb_free(r, p);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct hkb_run *r = w->r;
	size_t ntransfer = (size_t)r->p[P_TRANSFER];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], w->id);
	size_t allocs = 100 * (size_t)r->p[P_SCALE] * (w->id % 8 + 1);
	size_t retain = allocs / 2;
	void **data = NULL, **retained = hkb_malloc(r, (retain + 1) * sizeof *retained);
	size_t data_size = 0, data_top = 0, retain_top = 0;
	if (!retained)
		return;
	while ((allocs > 0 || retain > 0) && !hkb_failed(r)) {
		if (retain == 0 || (chance(&rng, 50) && allocs > 0)) {
			allocs--;
			if (data_top >= data_size) {
				data_size += 100000;
				data = data ? hkb_realloc(r, data, data_size * sizeof *data)
					    : hkb_malloc(r, data_size * sizeof *data);
				if (!data)
					return;
			}
			data[data_top++] = block_new(r, &rng, (size_t)1 << (hkb_rand(&rng) % 5));
		} else {
			retained[retain_top++] = block_new(r, &rng, (size_t)1 << (hkb_rand(&rng) % 7));
			retain--;
		}
		w->allocs++;
		if (chance(&rng, 66) && data_top > 0) {
			size_t i = hkb_rand(&rng) % data_top;
			block_free(r, data[i], "block changed while live");
			data[i] = NULL;
		}
		if (chance(&rng, 25) && data_top > 0) {
			size_t i = hkb_rand(&rng) % data_top;
			void **t = &w->transfer[hkb_rand(&rng) % ntransfer];
			void *got = __atomic_exchange_n(t, data[i], __ATOMIC_ACQ_REL);
			if (got && block_check(r, got, "block changed while migrating"))
				return;
			data[i] = got;
		}
	}
	for (size_t i = 0; i < retain_top; i++)
		block_free(r, retained[i], "block changed while live");
	for (size_t i = 0; i < data_top; i++)
		block_free(r, data[i], "block changed while live");
	hkb_free(r, retained);
	if (data)
		hkb_free(r, data);
}

static int mstress_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	size_t ntransfer = (size_t)r->p[P_TRANSFER];
	void **transfer = hkb_malloc(r, ntransfer * sizeof *transfer);
	if (!transfer)
		return -1;
	memset(transfer, 0, ntransfer * sizeof *transfer);
	struct worker w[256];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], 0x5eed);
	long long allocs = 0;
	double t0 = hkb_now(r);
	for (long long round = 0, rounds = r->p[P_ROUNDS]; round < rounds && !hkb_failed(r); round++) {
		for (unsigned i = 0; i < n; i++)
			w[i] = (struct worker){ r, i, transfer, 0 };
		hkb_run_threads(r, n, worker_main, w, sizeof w[0]);
		for (unsigned i = 0; i < n; i++)
			allocs += w[i].allocs;
		for (size_t k = 0; k < ntransfer; k++) {
			if (chance(&rng, 50) || round + 1 == rounds) {
				void *p = transfer[k];
				transfer[k] = NULL;
				block_free(r, p, "block changed while migrating");
			}
		}
	}
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)allocs / r->seconds / 1e6;
	for (size_t k = 0; k < ntransfer; k++)
		block_free(r, transfer[k], "block changed while migrating");
	hkb_free(r, transfer);
	return 0;
}

const struct hkb_workload hkb_wl_mstress = {
	.name = "mstress",
	.summary = "rounds of fresh threads; blocks migrate between threads and outlive them, checked on arrival",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "scale=2 rounds=3 transfer=100",
	.run = mstress_run,
};
