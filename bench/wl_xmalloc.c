// SPDX-License-Identifier: MIT
/*
 * xmalloc: producers and consumers, after Lever and Boreham's xmalloc-test as
 * the standard driver runs it ("xmalloc-test -w P -t 5 -s 64"). Half the
 * threads produce: each allocates a batch (the batch record itself, then
 * `batch` blocks of `size` bytes, writing up to 128 bytes of each) and pushes
 * it on one shared stack of at most `queue` batches. The other half consume:
 * each pops the newest batch, checks and frees its blocks and the batch. So
 * every block is freed by another thread, and up to queue x batch blocks are
 * in flight. The original runs for a time (`seconds`); with objects > 0 each
 * producer instead makes objects/batch batches (rounded up) and the run ends
 * when all are consumed. The figure counts a malloc and a free per block.
 * The shared stack is guarded by a spin lock (the original: a mutex and two
 * condition variables); a thread that waits yields.
 */
#include "harness.h"

enum { P_THREADS, P_SECONDS, P_OBJECTS, P_SIZE, P_MAX, P_BATCH, P_QUEUE, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 4, 2, 256, "threads: half produce, half consume (the original's -w is half)" },
	[P_SECONDS] = { "seconds", HKB_MILLIS, 1000, 1, 3600 * 1000, "how long producers produce (objects=0)" },
	[P_OBJECTS] = { "objects", HKB_INT, 0, 0, 1000000000, "blocks each producer makes; 0: run for `seconds`" },
	[P_SIZE] = { "size", HKB_SIZE, 64, 0, 1 << 20, "bytes per block; 0: random from the original's 17 sizes up to max" },
	[P_MAX] = { "max", HKB_SIZE, 2048, 8, 1 << 20, "largest random size (size=0)" },
	[P_BATCH] = { "batch", HKB_INT, 4096, 1, 1 << 20, "blocks per batch" },
	[P_QUEUE] = { "queue", HKB_INT, 100, 1, 1 << 20, "batches waiting at most" },
	[P_SEED] = { "seed", HKB_INT, 1, 0, 1ll << 40, "random seed" },
};

/* The original's size list for -s -1. */
static const unsigned sizes[] = { 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048 };

/* A batch: a header, then `batch` block pointers and their sizes. */
struct batch {
	struct batch *next;
	uint64_t id;                /* producer << 40 | sequence: the blocks' tags derive from it */
	void **blk;
	uint32_t *size;
};

struct shared {
	struct hkb_run *r;
	int lock;                   /* spin lock over top and count */
	struct batch *top;
	long long count;
	char pad0[64];
	int stop;                   /* producers stop (time up or all made) */
	int producers_left;         /* producers still running */
	long long made;             /* batches pushed, all producers */
	long long freed;            /* blocks freed, all consumers */
	char pad1[64];
};

struct role {
	struct shared *sh;
	unsigned id;
	bool producer;
};

static void lock(struct shared *sh)
{
	while (__atomic_exchange_n(&sh->lock, 1, __ATOMIC_ACQUIRE))
		sh->r->env->yield();
}

static void unlock(struct shared *sh) { __atomic_store_n(&sh->lock, 0, __ATOMIC_RELEASE); }

static size_t block_size(struct hkb_run *r, uint64_t *rng)
{
	if (r->p[P_SIZE] > 0)
		return (size_t)r->p[P_SIZE];
	size_t n = 0;
	while (n < sizeof sizes / sizeof sizes[0] && sizes[n] <= (size_t)r->p[P_MAX])
		n++;
	return sizes[hkb_rand(rng) % (n ? n : 1)];
}

static void producer_main(struct shared *sh, unsigned id)
{
	struct hkb_run *r = sh->r;
	size_t nb = (size_t)r->p[P_BATCH];
	long long limit = r->p[P_OBJECTS] > 0 ? (r->p[P_OBJECTS] + (long long)nb - 1) / (long long)nb : -1;
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], id);
	for (long long seq = 0; limit < 0 || seq < limit; seq++) {
		if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE) || hkb_failed(r))
			break;
		struct batch *b = hkb_malloc(r, sizeof *b + nb * (sizeof(void *) + sizeof(uint32_t)));
		if (!b)
			break;
		b->id = (uint64_t)id << 40 | (uint64_t)seq;
		b->blk = (void **)(b + 1);
		b->size = (uint32_t *)(b->blk + nb);
		for (size_t i = 0; i < nb; i++) {
			size_t size = block_size(r, &rng);
			b->size[i] = (uint32_t)size;
			if (!(b->blk[i] = hkb_malloc(r, size)))
				return;
			memset(b->blk[i], (int)(i & 0xff), size > 128 ? 128 : size);
			hkb_stamp(b->blk[i], size, hkb_tag(b->id, i));
		}
		for (;;) {
			lock(sh);
			if (sh->count < r->p[P_QUEUE] || __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
				break;
			unlock(sh);
			if (hkb_failed(r))
				return;
			r->env->yield();
		}
		b->next = sh->top;
		sh->top = b;
		sh->count++;
		sh->made++;
		unlock(sh);
	}
	__atomic_fetch_sub(&sh->producers_left, 1, __ATOMIC_ACQ_REL);
}

static void consumer_main(struct shared *sh)
{
	struct hkb_run *r = sh->r;
	for (;;) {
		lock(sh);
		struct batch *b = sh->top;
		if (b) {
			sh->top = b->next;
			sh->count--;
		}
		unlock(sh);
		if (!b) {
			/* Done when no producer runs and nothing waits. */
			if (__atomic_load_n(&sh->producers_left, __ATOMIC_ACQUIRE) == 0 || hkb_failed(r)) {
				lock(sh);
				bool empty = sh->top == NULL;
				unlock(sh);
				if (empty)
					return;
			}
			r->env->yield();
			continue;
		}
		size_t nb = (size_t)r->p[P_BATCH];
		for (size_t i = 0; i < nb; i++) {
			hkb_verify(r, b->blk[i], b->size[i], hkb_tag(b->id, i), "block changed in transit");
			hkb_free(r, b->blk[i]);
		}
		hkb_free(r, b);
		__atomic_fetch_add(&sh->freed, (long long)nb, __ATOMIC_RELAXED);
	}
}

static void role_main(void *arg)
{
	struct role *ro = arg;
	if (ro->producer)
		producer_main(ro->sh, ro->id);
	else
		consumer_main(ro->sh);
}

static int xmalloc_run(struct hkb_run *r)
{
	unsigned half = (unsigned)(r->p[P_THREADS] / 2);
	struct shared *sh = hkb_malloc(r, sizeof *sh);
	struct role *roles = hkb_malloc(r, 2 * half * sizeof *roles);
	if (!sh || !roles)
		return -1;
	memset(sh, 0, sizeof *sh);
	sh->r = r;
	sh->producers_left = (int)half;
	for (unsigned i = 0; i < half; i++) {
		roles[2 * i] = (struct role){ sh, i, true };
		roles[2 * i + 1] = (struct role){ sh, i, false };
	}
	double t0 = hkb_now(r);
	if (r->p[P_OBJECTS] == 0) {
		/* Time-based: the threads run while this one sleeps. */
		hkb_thread_t t[256];
		unsigned started = 0;
		for (; started < 2 * half; started++)
			if (r->env->spawn(&t[started], role_main, &roles[started])) {
				hkb_fail(r, "could not start a thread", NULL, started);
				__atomic_store_n(&sh->producers_left, 0, __ATOMIC_RELEASE);
				break;
			}
		r->env->sleep_ms((unsigned)r->p[P_SECONDS]);
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < started; i++)
			r->env->join(t[i]);
	} else {
		hkb_run_threads(r, 2 * half, role_main, roles, sizeof roles[0]);
	}
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)sh->freed * 2 / r->seconds / 1e6;
	hkb_free(r, roles);
	hkb_free(r, sh);
	return 0;
}

const struct hkb_workload hkb_wl_xmalloc = {
	.name = "xmalloc",
	.summary = "producers push batches of blocks on a shared stack, consumers free them: every free is remote",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE | HKB_NEEDS_THREADS,
	.unit = "Mops/s",
	.tiny = "objects=2048 batch=256 queue=4",
	.run = xmalloc_run,
};
