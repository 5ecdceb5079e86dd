// SPDX-License-Identifier: MIT
/*
 * mstress: objects migrate between threads. Each thread keeps some blocks
 * of its own and swaps blocks with a shared transfer array; a block that
 * arrives from another thread is checked on arrival and later freed by the
 * thread that received it. Blocks describe themselves (size and tag in a
 * header) so a receiver can check a block it did not allocate.
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_TRANSFER, P_LIVE, P_MAX, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads" },
	[P_ITER] = { "iterations", HKB_INT, 300000, 1, 1000000000, "steps per thread" },
	[P_TRANSFER] = { "transfer", HKB_INT, 256, 1, 1 << 20, "slots of the shared transfer array" },
	[P_LIVE] = { "live", HKB_INT, 512, 1, 1 << 20, "blocks a thread keeps" },
	[P_MAX] = { "max", HKB_SIZE, 1024, 32, 1 << 24, "largest block (log-uniform from 32)" },
	[P_SEED] = { "seed", HKB_INT, 11, 0, 1ll << 40, "random seed" },
};

#define HDR 16u               /* size word, then tag word */
#define MIX 0x6a09e667f3bcc909ull

struct worker {
	struct hkb_run *r;
	unsigned id;
	void **transfer;          /* shared: swapped atomically */
	long long ops;
};

static void *block_new(struct hkb_run *r, uint64_t *rng, uint64_t tag)
{
	size_t size = hkb_rand_logsize(rng, 32, (size_t)r->p[P_MAX]);
	char *p = hkb_malloc(r, size);
	if (!p)
		return NULL;
	uint64_t hdr[2] = { size, tag ^ (size * MIX) };
	memcpy(p, hdr, sizeof hdr);
	hkb_stamp(p + HDR, size - HDR, tag);
	return p;
}

/* Check a self-describing block (from any thread). */
static int block_check(struct hkb_run *r, const char *p, const char *what)
{
	uint64_t hdr[2];
	memcpy(hdr, p, sizeof hdr);
	size_t size = (size_t)hdr[0];
	if (size < 32 || size > (size_t)r->p[P_MAX])
		return hkb_fail(r, what, p, size);
	return hkb_verify(r, p + HDR, size - HDR, hdr[1] ^ (size * MIX), what);
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
	size_t nlive = (size_t)r->p[P_LIVE], ntransfer = (size_t)r->p[P_TRANSFER];
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], w->id);
	void **mine = hkb_malloc(r, nlive * sizeof *mine);
	if (!mine)
		return;
	memset(mine, 0, nlive * sizeof *mine);
	for (long long i = 0, n = r->p[P_ITER]; i < n && !hkb_failed(r); i++) {
		uint64_t dice = hkb_rand(&rng);
		void **v = &mine[(dice >> 8) % nlive];
		switch (dice % 4) {
		case 0:
		case 1:   /* replace one of ours */
			block_free(r, *v, "block changed while live");
			*v = block_new(r, &rng, hkb_tag(w->id, (uint64_t)i));
			break;
		case 2: { /* swap with the transfer array; check what arrives */
			if (!*v)
				*v = block_new(r, &rng, hkb_tag(w->id, (uint64_t)i));
			void **t = &w->transfer[(dice >> 32) % ntransfer];
			void *got = __atomic_exchange_n(t, *v, __ATOMIC_ACQ_REL);
			if (got)
				block_check(r, got, "block changed while migrating");
			*v = got;
			break;
		}
		default:  /* free one of ours (maybe one that came from elsewhere) */
			block_free(r, *v, "block changed while live");
			*v = NULL;
			break;
		}
		w->ops++;
	}
	for (size_t k = 0; k < nlive; k++)
		block_free(r, mine[k], "block changed while live");
	hkb_free(r, mine);
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
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct worker){ r, i, transfer, 0 };
	double t0 = hkb_now(r);
	hkb_run_threads(r, n, worker_main, w, sizeof w[0]);
	r->seconds = hkb_now(r) - t0;
	long long ops = 0;
	for (unsigned i = 0; i < n; i++)
		ops += w[i].ops;
	r->throughput = (double)ops / r->seconds / 1e6;
	for (size_t k = 0; k < ntransfer; k++)
		block_free(r, transfer[k], "block changed while migrating");
	hkb_free(r, transfer);
	return 0;
}

const struct hkb_workload hkb_wl_mstress = {
	.name = "mstress",
	.summary = "blocks migrate between threads through a shared array and are checked on arrival",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "iterations=5000 live=64 transfer=32",
	.run = mstress_run,
};
