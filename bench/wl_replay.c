// SPDX-License-Identifier: MIT
/*
 * replay: a recorded program's allocations (libheapkit-trace.so), replayed
 * against the allocator under test. Each recorded thread becomes a replay
 * thread that makes the same calls in the same order with the same sizes; a
 * block freed by another thread than the one that made it is freed by the
 * replay thread standing for that other thread, which waits for the
 * allocation when it gets there first. Every block is written once when it
 * is made, as a program would, and stamped; the stamp is checked before the
 * block is freed or reallocated, so every block must keep its contents.
 *
 * The figure is calls per second. Memory: the trace's peak of bytes live
 * (what the program asked for) and the allocator's peak footprint, sampled
 * while replaying where the allocator can say it (instances over a region);
 * for a preloaded library hkbench reports the process's peak RSS.
 */
#include "harness.h"

enum { P_TRACE, P_TOUCH, P_SEED };

static const struct hkb_param params[] = {
	[P_TRACE] = { "trace", HKB_TRACE, -1, -1, 1 << 20, "the trace to replay (a file written by libheapkit-trace.so)" },
	[P_TOUCH] = { "touch", HKB_INT, 1, 0, 1, "1: write every byte of each block once when it is made" },
	[P_SEED] = { "seed", HKB_INT, 7, 0, 1ll << 40, "seed of the stamps" },
};

#define NO_ID UINT32_MAX
#define SAMPLE_EVERY 1024   /* events between samples of the allocator's footprint */

/* A block of the replay: the object the trace calls id. */
struct obj {
	void *p;
	uint64_t size;
	uint64_t tag;
	int ready;              /* atomic: p is set (1), or the call failed (2) */
};

struct replay {
	struct hkb_run *r;
	const struct hk_trace *t;
	struct obj *objs;
	long peak_held_kb;      /* atomic max of the samples */
};

struct replay_thread {
	struct replay *rp;
	uint32_t thread;
	char pad[48];
};

static void sample_footprint(struct replay *rp)
{
	const struct hkb_alloc *al = rp->r->alloc;
	if (!al->held_kb)
		return;
	long kb = al->held_kb(al->ctx), seen = __atomic_load_n(&rp->peak_held_kb, __ATOMIC_RELAXED);
	while (kb > seen &&
	       !__atomic_compare_exchange_n(&rp->peak_held_kb, &seen, kb, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* The object id once its allocation has happened (on whatever thread); NULL if that call failed. */
static struct obj *await(struct replay *rp, uint32_t id)
{
	struct obj *o = &rp->objs[id];
	int st;
	while (!(st = __atomic_load_n(&o->ready, __ATOMIC_ACQUIRE))) {
		if (hkb_failed(rp->r))
			return NULL;
		rp->r->env->yield();
	}
	return st == 1 ? o : NULL;
}

/* Give object id its block: write it once (touch), stamp it, publish it. */
static void made(struct replay *rp, uint32_t id, void *p, uint64_t size)
{
	struct obj *o = &rp->objs[id];
	if (p) {
		if (rp->r->p[P_TOUCH])
			memset(p, (int)(id & 0xff), size);
		o->p = p;
		o->size = size;
		o->tag = hkb_tag((uint64_t)rp->r->p[P_SEED], id);
		hkb_stamp(p, size, o->tag);
	}
	__atomic_store_n(&o->ready, p ? 1 : 2, __ATOMIC_RELEASE);
}

static void replay_event(struct replay *rp, const struct hk_trace_event *e)
{
	struct hkb_run *r = rp->r;
	const struct hkb_alloc *al = r->alloc;
	struct obj *old = e->old_id != NO_ID ? await(rp, e->old_id) : NULL;
	if (old && hkb_verify(r, old->p, old->size, old->tag, "block changed while live"))
		return;
	switch (e->op) {
	case HK_TRACE_MALLOC:
	case HK_TRACE_CALLOC:
		if (e->id != NO_ID)
			made(rp, e->id, hkb_malloc(r, e->size), e->size);
		break;
	case HK_TRACE_MEMALIGN:
		if (e->id != NO_ID) {
			size_t align = e->align < sizeof(void *) ? sizeof(void *) : e->align;
			void *p = al->memalign(al->ctx, align, e->size);
			if (!p)
				hkb_fail(r, "memalign failed", NULL, e->size);
			made(rp, e->id, p, e->size);
		}
		break;
	case HK_TRACE_REALLOC:
		if (e->id == NO_ID) {           /* realloc(p, 0): a free; or a failed call: nothing */
			if (old && !e->size)
				hkb_free(r, old->p);
			break;
		}
		if (!old) {
			made(rp, e->id, hkb_malloc(r, e->size), e->size);
			break;
		}
		{
			void *p = hkb_realloc(r, old->p, e->size);
			uint64_t keep = old->size < e->size ? old->size : e->size;
			/* The kept prefix must have moved with the block: its first word is the old tag's. */
			if (p && keep >= 8 && memcmp(p, &old->tag, 8))
				hkb_fail(r, "realloc lost the block's contents", p, keep);
			made(rp, e->id, p, e->size);
		}
		break;
	case HK_TRACE_FREE:
		if (old)
			hkb_free(r, old->p);
		break;
	}
}

static void replay_thread_run(void *arg)
{
	struct replay_thread *rt = arg;
	struct replay *rp = rt->rp;
	const struct hk_trace_thread *th = &rp->t->threads[rt->thread];
	for (uint32_t i = 0; i < th->nr_events && !hkb_failed(rp->r); i++) {
		replay_event(rp, &th->events[i]);
		if (i % SAMPLE_EVERY == 0)
			sample_footprint(rp);
	}
}

/* Objects still live at the end (the program never freed them): check and free. */
static void release_survivors(struct replay *rp)
{
	const struct hk_trace *t = rp->t;
	uint8_t *freed = hkb_malloc(rp->r, t->nr_objects ? t->nr_objects : 1);
	if (!freed)
		return;
	memset(freed, 0, t->nr_objects);
	for (uint32_t i = 0; i < t->nr_threads; i++)
		for (uint32_t j = 0; j < t->threads[i].nr_events; j++)
			if (t->threads[i].events[j].old_id != NO_ID)
				freed[t->threads[i].events[j].old_id] = 1;
	for (uint32_t id = 0; id < t->nr_objects && !hkb_failed(rp->r); id++) {
		struct obj *o = &rp->objs[id];
		if (freed[id] || o->ready != 1)
			continue;
		if (hkb_verify(rp->r, o->p, o->size, o->tag, "block changed while live"))
			break;
		hkb_free(rp->r, o->p);
	}
	hkb_free(rp->r, freed);
}

static int replay_run(struct hkb_run *r)
{
	if (r->p[P_TRACE] < 0 || !r->env->trace_get)
		return hkb_fail(r, "replay needs trace=FILE", NULL, 0);
	const struct hkb_trace *ht = r->env->trace_get((int)r->p[P_TRACE]);
	struct replay rp = { r, &ht->t, NULL, -1 };
	unsigned n = ht->t.nr_threads;
	rp.objs = hkb_malloc(r, (size_t)(ht->t.nr_objects ? ht->t.nr_objects : 1) * sizeof *rp.objs);
	struct replay_thread *rt = hkb_malloc(r, (size_t)(n ? n : 1) * sizeof *rt);
	if (!rp.objs || !rt)
		return -1;
	memset(rp.objs, 0, (size_t)ht->t.nr_objects * sizeof *rp.objs);
	for (unsigned i = 0; i < n; i++)
		rt[i] = (struct replay_thread){ &rp, i, { 0 } };
	double t0 = hkb_now(r);
	int rc = n ? hkb_run_threads(r, n, replay_thread_run, rt, sizeof *rt) : 0;
	r->seconds = hkb_now(r) - t0;
	sample_footprint(&rp);
	if (!rc)
		release_survivors(&rp);
	hkb_free(r, rt);
	hkb_free(r, rp.objs);
	r->throughput = r->seconds > 0 ? (double)ht->t.nr_events / r->seconds / 1e6 : 0;
	r->live_kb = (long)(ht->t.peak_live_bytes / 1024);
	r->held_kb = rp.peak_held_kb;
	return rc;
}

const struct hkb_workload hkb_wl_replay = {
	.name = "replay",
	.summary = "a recorded program's malloc calls, same sizes, order and threads (trace=FILE)",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mcalls/s",
	.tiny = "",
	.run = replay_run,
};
