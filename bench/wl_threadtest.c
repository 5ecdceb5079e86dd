// SPDX-License-Identifier: MIT
/*
 * threadtest: after Hoard's benchmark. Each thread, many times, allocates
 * its share of the objects, then frees them all, with optional busy work
 * between calls. Defaults: Hoard's suggested "threadtest P 1000 10000 0 8"
 * (8 objects of 8 bytes per allocation: 64-byte blocks, all written, as its
 * constructors do).
 */
#include "harness.h"

enum { P_THREADS, P_ITER, P_OBJECTS, P_WORK, P_SIZE };

static const struct hkb_param params[] = {
	[P_THREADS] = { "threads", HKB_INT, 2, 1, 256, "threads sharing the objects" },
	[P_ITER] = { "iterations", HKB_INT, 1000, 1, 100000000, "rounds of allocate-all, free-all" },
	[P_OBJECTS] = { "objects", HKB_INT, 10000, 1, 1 << 28, "objects per round, split among threads" },
	[P_WORK] = { "work", HKB_INT, 0, 0, 1 << 20, "busy-work units between allocator calls" },
	[P_SIZE] = { "size", HKB_SIZE, 64, 1, 1 << 20, "bytes per object" },
};

struct worker {
	struct hkb_run *r;
	unsigned id;
	size_t count;            /* objects this thread handles per round */
};

static void worker_main(void *arg)
{
	struct worker *w = arg;
	struct hkb_run *r = w->r;
	size_t size = (size_t)r->p[P_SIZE];
	long long work = r->p[P_WORK];
	void **obj = hkb_malloc(r, (w->count + 1) * sizeof *obj);
	if (!obj)
		return;
	for (long long it = 0, n = r->p[P_ITER]; it < n && !hkb_failed(r); it++) {
		size_t made = 0;
		for (; made < w->count; made++) {
			if (!(obj[made] = hkb_malloc(r, size)))
				break;
			memset(obj[made], 0x0e, size);
			hkb_stamp(obj[made], size, hkb_tag(w->id * 0x100000ull + made, (uint64_t)it));
			hkb_busy_work(work);
		}
		for (size_t i = 0; i < made; i++) {
			hkb_verify(r, obj[i], size, hkb_tag(w->id * 0x100000ull + i, (uint64_t)it),
				   "block changed while live");
			hkb_free(r, obj[i]);
			hkb_busy_work(work);
		}
	}
	hkb_free(r, obj);
}

static int threadtest_run(struct hkb_run *r)
{
	unsigned n = (unsigned)r->p[P_THREADS];
	struct worker w[256];
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct worker){ r, i, (size_t)r->p[P_OBJECTS] / n };
	double t0 = hkb_now(r);
	hkb_run_threads(r, n, worker_main, w, sizeof w[0]);
	r->seconds = hkb_now(r) - t0;
	r->throughput = (double)r->p[P_ITER] * (double)(w[0].count * n) * 2 / r->seconds / 1e6;
	return 0;
}

const struct hkb_workload hkb_wl_threadtest = {
	.name = "threadtest",
	.summary = "each thread allocates its share of objects then frees them, many rounds",
	.params = params,
	.nparams = sizeof params / sizeof params[0],
	.needs = HKB_NEEDS_FREE,
	.unit = "Mops/s",
	.tiny = "iterations=5 objects=2000",
	.run = threadtest_run,
};
