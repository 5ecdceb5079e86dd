// SPDX-License-Identifier: MIT
/*
 * larson: a server simulation after Larson and Krishnan (1998), as the
 * standard larson.cpp runs it. The main thread first allocates every lane's
 * blocks (threads x slots, sizes uniform in min..max), shuffles them among
 * the lanes and replaces 4 x that many at random (the original's warm-up), so
 * the workers start by freeing blocks another thread allocated. Then each
 * lane's thread frees a random slot's block and puts a new one there,
 * `rounds` times (the original's num_rounds x chperthread: 100 x 5000), then
 * starts a new thread for the lane and exits: the new thread frees blocks its
 * predecessor allocated. This goes on until the time is up; the figure is
 * replacements (a free plus a malloc) per second. Defaults: the standard
 * driver's "larson 5 8 1000 5000 100 4141 P" with the time scaled to 1 s.
 */
#include "harness.h"

enum { P_SECONDS, P_MIN, P_MAX, P_SLOTS, P_ROUNDS, P_SEED, P_THREADS };

static const struct hkb_param params[] = {
	[P_SECONDS] = { "seconds", HKB_MILLIS, 1000, 1, 3600 * 1000, "how long the server runs" },
	[P_MIN] = { "min", HKB_SIZE, 8, 1, 1 << 20, "smallest block" },
	[P_MAX] = { "max", HKB_SIZE, 1000, 1, 1 << 24, "largest block (uniform in min..max)" },
	[P_SLOTS] = { "slots", HKB_INT, 5000, 1, 1 << 24, "blocks each lane keeps live" },
	[P_ROUNDS] = { "rounds", HKB_INT, 500000, 1, 1ll << 32, "replacements a thread makes before handing off" },
	[P_SEED] = { "seed", HKB_INT, 4141, 0, 1ll << 40, "random seed" },
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "lanes (threads running at once)" },
};

struct slot {
	void *p;
	size_t size;
	uint64_t tag;
};

/*
 * One lane: a chain of threads sharing the slots one after the other.
 * Generation g's handle is in handle[g & 1], written by generation g-1 (or
 * the main thread for g = 0) before it publishes g; generation g+1 joins
 * generation g, the main thread joins the last one after it sets done.
 */
struct lane {
	struct hkb_run *r;
	unsigned id;
	struct slot *slots;         /* owned by the running generation */
	uint64_t rng;               /* owned by the running generation */
	long long ops;              /* replacements so far */
	hkb_thread_t handle[2];     /* see above */
	long long starting;         /* generation of the thread being spawned */
	long long published;        /* highest generation whose handle is stored (atomic) */
	long long last;             /* the final generation, valid once done */
	int done;                   /* atomic: the final generation has finished */
	int *stop;                  /* atomic: the time is up */
	char pad[64];
};

static void lane_gen(void *arg);

/* Replace `rounds` random slots; the lane's state is ours alone. */
static void lane_replace(struct lane *l)
{
	struct hkb_run *r = l->r;
	size_t nslots = (size_t)r->p[P_SLOTS];
	size_t lo = (size_t)r->p[P_MIN], hi = (size_t)r->p[P_MAX];
	for (long long i = 0, n = r->p[P_ROUNDS]; i < n; i++) {
		struct slot *s = &l->slots[hkb_rand(&l->rng) % nslots];
		if (hkb_verify(r, s->p, s->size, s->tag, "block changed while live"))
			return;
		hkb_free(r, s->p);
		s->size = hkb_rand_range(&l->rng, lo, hi);
		s->tag = hkb_tag(l->id, (uint64_t)l->ops);
		s->p = hkb_malloc(r, s->size);
		if (!s->p)
			return;
		hkb_stamp(s->p, s->size, s->tag);
		l->ops++;
	}
}

/* Hand the lane to a new thread, or end it; gen is this thread's generation. */
static void lane_hand_off(struct lane *l, long long gen)
{
	if (!__atomic_load_n(l->stop, __ATOMIC_ACQUIRE) && !hkb_failed(l->r)) {
		hkb_thread_t t;
		l->starting = gen + 1;
		if (l->r->env->spawn(&t, lane_gen, l) == 0) {
			l->handle[(gen + 1) & 1] = t;
			__atomic_store_n(&l->published, gen + 1, __ATOMIC_RELEASE);
			return;
		}
		hkb_fail(l->r, "could not start a thread", NULL, (uint64_t)gen);
	}
	l->last = gen;
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
}

static void lane_gen(void *arg)
{
	struct lane *l = arg;
	long long gen = l->starting;
	/* Our own handle must be stored before we may start a successor. */
	while (__atomic_load_n(&l->published, __ATOMIC_ACQUIRE) < gen)
		l->r->env->yield();
	if (gen > 0)
		l->r->env->join(l->handle[(gen - 1) & 1]);
	lane_replace(l);
	lane_hand_off(l, gen);
}

static int larson_run(struct hkb_run *r)
{
	unsigned nlanes = (unsigned)r->p[P_THREADS];
	size_t nslots = (size_t)r->p[P_SLOTS];
	size_t lo = (size_t)r->p[P_MIN], hi = (size_t)r->p[P_MAX];
	if (lo > hi)
		return hkb_fail(r, "min is above max", NULL, lo);
	int stop = 0;
	struct lane *lanes = hkb_malloc(r, nlanes * sizeof *lanes);
	if (!lanes)
		return -1;
	memset(lanes, 0, nlanes * sizeof *lanes);
	/* The warm-up, on this thread: allocate all, shuffle, replace 4x. */
	size_t total = (size_t)nlanes * nslots;
	struct slot *all = hkb_malloc(r, total * sizeof *all);
	if (!all)
		return -1;
	memset(all, 0, total * sizeof *all);
	uint64_t rng = hkb_seed((uint64_t)r->p[P_SEED], 0xffff);
	for (size_t k = 0; k < total && !hkb_failed(r); k++) {
		struct slot *s = &all[k];
		s->size = hkb_rand_range(&rng, lo, hi);
		s->tag = hkb_tag(0x10000u, k);
		if (!(s->p = hkb_malloc(r, s->size)))
			break;
		hkb_stamp(s->p, s->size, s->tag);
	}
	for (size_t k = total; k > 1 && !hkb_failed(r); k--) {
		size_t j = hkb_rand(&rng) % k;
		struct slot t = all[j];
		all[j] = all[k - 1];
		all[k - 1] = t;
	}
	for (size_t k = 0; k < 4 * total && !hkb_failed(r); k++) {
		struct slot *s = &all[hkb_rand(&rng) % total];
		if (hkb_verify(r, s->p, s->size, s->tag, "block changed while live"))
			break;
		hkb_free(r, s->p);
		s->size = hkb_rand_range(&rng, lo, hi);
		s->tag = hkb_tag(0x20000u, k);
		if (!(s->p = hkb_malloc(r, s->size)))
			break;
		hkb_stamp(s->p, s->size, s->tag);
	}
	for (unsigned i = 0; i < nlanes; i++) {
		struct lane *l = &lanes[i];
		l->r = r;
		l->id = i;
		l->stop = &stop;
		l->rng = hkb_seed((uint64_t)r->p[P_SEED], i);
		l->published = -1;
		l->starting = 0;
		l->slots = all + (size_t)i * nslots;
	}
	if (hkb_failed(r))
		return -1;
	double t0 = hkb_now(r);
	unsigned started = 0;
	for (; started < nlanes; started++) {
		struct lane *l = &lanes[started];
		if (r->env->spawn(&l->handle[0], lane_gen, l)) {
			hkb_fail(r, "could not start a thread", NULL, started);
			break;
		}
		__atomic_store_n(&l->published, 0, __ATOMIC_RELEASE);
	}
	r->env->sleep_ms((unsigned)r->p[P_SECONDS]);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	long long ops = 0;
	for (unsigned i = 0; i < started; i++) {
		struct lane *l = &lanes[i];
		while (!__atomic_load_n(&l->done, __ATOMIC_ACQUIRE))
			r->env->sleep_ms(1);
		r->env->join(l->handle[l->last & 1]);
		ops += l->ops;
	}
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)ops * 2 / r->seconds / 1e6;
	for (size_t k = 0; k < total && !hkb_failed(r); k++) {
		hkb_verify(r, all[k].p, all[k].size, all[k].tag, "block changed while live");
		hkb_free(r, all[k].p);
	}
	hkb_free(r, all);
	hkb_free(r, lanes);
	return 0;
}

const struct hkb_workload hkb_wl_larson = {
	.name = "larson",
	.summary = "server simulation: threads replace random blocks, then hand them to a new thread",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "seconds=0.05 slots=100 rounds=500",
	.run = larson_run,
};
