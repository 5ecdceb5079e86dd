// SPDX-License-Identifier: MIT
/*
 * xmalloc: producer/consumer. Threads come in pairs; a producer allocates
 * blocks of random sizes and passes them through a ring to its consumer,
 * which checks and frees them, so every free is a cross-thread free.
 */
#include "harness.h"

enum { P_THREADS, P_OBJECTS, P_MAX, P_RING, P_SEED };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 2, 256, "threads: threads/2 producer/consumer pairs" },
	[P_OBJECTS] = { "objects", HKB_INT, 400000, 1, 1000000000, "blocks each producer hands over" },
	[P_MAX] = { "max", HKB_SIZE, 512, 16, 1 << 20, "largest block (sizes log-uniform from 16)" },
	[P_RING] = { "ring", HKB_INT, 8192, 2, 1 << 20, "blocks in flight per pair at most" },
	[P_SEED] = { "seed", HKB_INT, 1, 0, 1ll << 40, "random seed" },
};

/*
 * One single-producer single-consumer ring. Invariant: consumer's head <=
 * producer's tail <= head + cap; slots [head, tail) hold blocks in flight.
 * Producer and consumer draw the same random sizes in the same order, so a
 * block's size and tag need not travel with it.
 */
struct pair {
	struct hkb_run *r;
	unsigned id;
	void **slots;                          /* cap entries */
	size_t cap;
	char pad0[64];
	size_t tail;                           /* written by the producer only */
	char pad1[64];
	size_t head;                           /* written by the consumer only */
	char pad2[64];
};

struct role {
	struct pair *pair;
	bool producer;
};

static void producer_main(struct pair *q)
{
	struct hkb_run *r = q->r;
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], q->id);
	size_t max = (size_t)r->p[P_MAX];
	for (long long i = 0, n = r->p[P_OBJECTS]; i < n; i++) {
		size_t size = hkb_rand_logsize(&rng, 16, max);
		void *p = hkb_malloc(r, size);
		if (!p)
			return;
		hkb_stamp(p, size, hkb_tag(q->id, (uint64_t)i));
		size_t tail = q->tail;
		while (tail - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) >= q->cap) {
			if (hkb_failed(r))
				return;
			r->env->yield();
		}
		q->slots[tail % q->cap] = p;
		__atomic_store_n(&q->tail, tail + 1, __ATOMIC_RELEASE);
	}
}

static void consumer_main(struct pair *q)
{
	struct hkb_run *r = q->r;
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], q->id);
	size_t max = (size_t)r->p[P_MAX];
	for (long long i = 0, n = r->p[P_OBJECTS]; i < n; i++) {
		size_t size = hkb_rand_logsize(&rng, 16, max);
		size_t head = q->head;
		while (__atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == head) {
			if (hkb_failed(r))
				return;
			r->env->yield();
		}
		void *p = q->slots[head % q->cap];
		__atomic_store_n(&q->head, head + 1, __ATOMIC_RELEASE);
		hkb_verify(r, p, size, hkb_tag(q->id, (uint64_t)i), "block changed in transit");
		hkb_free(r, p);
	}
}

static void role_main(void *arg)
{
	struct role *ro = arg;
	if (ro->producer)
		producer_main(ro->pair);
	else
		consumer_main(ro->pair);
}

static int xmalloc_run(struct hkb_run *r)
{
	unsigned npairs = (unsigned)(r->p[P_THREADS] / 2);
	size_t cap = (size_t)r->p[P_RING];
	struct pair *pairs = hkb_malloc(r, npairs * sizeof *pairs);
	struct role *roles = hkb_malloc(r, 2 * npairs * sizeof *roles);
	void **slots = hkb_malloc(r, npairs * cap * sizeof *slots);
	if (!pairs || !roles || !slots)
		return -1;
	for (unsigned i = 0; i < npairs; i++) {
		memset(&pairs[i], 0, sizeof pairs[i]);
		pairs[i].r = r;
		pairs[i].id = i;
		pairs[i].slots = slots + i * cap;
		pairs[i].cap = cap;
		roles[2 * i] = (struct role){ &pairs[i], true };
		roles[2 * i + 1] = (struct role){ &pairs[i], false };
	}
	double t0 = hkb_now(r);
	hkb_run_threads(r, 2 * npairs, role_main, roles, sizeof roles[0]);
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)r->p[P_OBJECTS] * npairs * 2 / r->seconds / 1e6;
	hkb_free(r, slots);
	hkb_free(r, roles);
	hkb_free(r, pairs);
	return 0;
}

const struct hkb_workload hkb_wl_xmalloc = {
	.name = "xmalloc",
	.summary = "producer/consumer pairs: blocks allocated on one thread are freed on another",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE | HKB_NEEDS_THREADS,
	.unit = "Mops/s",
	.tiny = "objects=5000",
	.run = xmalloc_run,
};
