// SPDX-License-Identifier: MIT
/*
 * hklatency: per-call latency and fragmentation of heapkit's backends, side
 * by side. A benchmark, not a test: it measures and prints, it judges nothing.
 *
 *   hklatency [--csv] [--ops N] [--repeat R] [--seed S] [--backend NAME]...
 *
 * Latency: a heap is pre-fragmented (SLOTS blocks allocated, a random half
 * freed), then a random workload of --ops operations runs on it: pick a slot,
 * free its block if it holds one, else malloc a random size. Every malloc and
 * every free is timed on its own (rdtsc fenced by lfence; clock_gettime ns
 * where there is no TSC), and the median, 99th, 99.99th percentile and
 * maximum are reported per backend.
 *
 * Fragmentation: a long random alloc/free mix in a smaller heap, then the
 * largest block still allocatable: hk_maxalloc (what the backend promises)
 * and the largest malloc that really succeeds (probed by bisection).
 *
 * Every backend replays the same trace (one seed, generated once). With
 * --repeat R each backend runs R times, interleaved (A B A B ...), and each
 * figure is the median over the runs.
 *
 * On a shared machine the max and the far percentiles of single runs measure
 * the scheduler (a preempted call costs a time slice), not the allocator. So
 * each call's time is also kept as its minimum over the R runs — the same
 * call on the same heap state each run — and the percentiles of those
 * per-call minima are reported too: a preemption must then hit the same call
 * in every run to show, and what remains is the allocator's own worst case.
 */
#define _GNU_SOURCE
#include <heapkit.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "opts.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

/* --- Parameters -------------------------------------------------------------- */

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#define LAT_SLOTS 10000             /* live-block slots of the latency workload */
#define LAT_HEAP (128 * MiB)        /* its heap: room for every backend's rounding */
#define FRAG_SLOTS 4000             /* live-block slots of the fragmentation mix */
#define FRAG_OPS 500000             /* its operations */
#define FRAG_HEAP (16 * MiB)        /* its heap: about twice the peak live bytes */
#define MAX_BACKENDS 16
#define MAX_REPEAT 15

/* --- Timer -------------------------------------------------------------------- */

#if HAVE_TSC
static const char *timer_unit = "cycles";
static inline uint64_t timer_now(void)
{
	_mm_lfence();
	uint64_t t = __rdtsc();
	_mm_lfence();
	return t;
}
#else
static const char *timer_unit = "ns";
static inline uint64_t timer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

/* --- The trace: the same operations for every backend ------------------------- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Mostly small blocks, some medium, a few large: 75% 16..256 B, 20% to 4 KiB, 5% to 64 KiB. */
static uint32_t random_size(uint64_t *s)
{
	uint64_t r = rnd_next(s);
	unsigned k = (unsigned)(r % 100);
	r >>= 8;
	if (k < 75)
		return (uint32_t)(16 + r % (256 - 16 + 1));
	if (k < 95)
		return (uint32_t)(257 + r % (4096 - 257 + 1));
	return (uint32_t)(4097 + r % (64 * KiB - 4097 + 1));
}

/* One step: allocate size bytes into slot, or (size == 0) free the slot's block. */
struct op {
	uint32_t slot;
	uint32_t size;
};

struct trace {
	struct op *ops;
	size_t nr_prefill;     /* ops before this are the untimed pre-fragmentation */
	size_t nr;             /* all ops */
	size_t slots;
};

/*
 * Build a trace: fill every slot, free a random half (pre-fragmentation),
 * then nr_random steps of "free if full, else malloc". Decided once, so a
 * backend's failures never change what the next backend is asked.
 */
static struct trace trace_make(size_t slots, size_t nr_random, bool prefill, uint64_t seed)
{
	struct trace t = { NULL, 0, 0, slots };
	size_t cap = (prefill ? 2 * slots : 0) + nr_random;
	t.ops = malloc(cap * sizeof *t.ops);
	bool *full = calloc(slots, sizeof *full);
	if (!t.ops || !full) {
		perror("hklatency");
		exit(2);
	}
	uint64_t s = seed;
	if (prefill) {
		for (size_t i = 0; i < slots; i++) {
			t.ops[t.nr++] = (struct op){ (uint32_t)i, random_size(&s) };
			full[i] = true;
		}
		for (size_t i = 0; i < slots; i++)
			if (rnd_next(&s) & 1) {
				t.ops[t.nr++] = (struct op){ (uint32_t)i, 0 };
				full[i] = false;
			}
	}
	t.nr_prefill = t.nr;
	for (size_t k = 0; k < nr_random; k++) {
		uint32_t i = (uint32_t)(rnd_next(&s) % slots);
		t.ops[t.nr++] = (struct op){ i, full[i] ? 0 : random_size(&s) };
		full[i] = !full[i];
	}
	free(full);
	return t;
}

/* --- Heaps ---------------------------------------------------------------------- */

/* A fresh region, every page touched, so page faults stay out of the timings. */
static void *heap_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("hklatency: mmap");
		exit(2);
	}
	memset(p, 0, len);
	return p;
}

/* An instance of b and the region under it. */
struct heap {
	hk_alloc_t *a;
	void *mem;
	size_t len;   /* want, or b's min_region if larger */
};

/* An instance of b over a fresh region of want bytes or more; exits saying why it could not. */
static struct heap heap_open(const struct hk_backend *b, size_t want)
{
	struct heap h = { .len = b->min_region > want ? b->min_region : want };
	h.mem = heap_map(h.len);
	h.a = hk_backend_create(b, h.mem, h.len);
	if (!h.a) {
		fprintf(stderr, "hklatency: %s: %s\n", b->name, hk_last_error());
		exit(2);
	}
	return h;
}

/* Destroy the instance; give the region back only where the backend lets go of it. */
static void heap_release(const struct hk_backend *b, struct heap *h)
{
	hk_destroy(h->a);
	if (b->caps & HK_CAP_RELEASE)
		munmap(h->mem, h->len);
}

/* --- Latency ---------------------------------------------------------------------- */

enum { ST_MEDIAN, ST_P99, ST_P9999, ST_MAX, NR_ST };
static const char *const st_names[NR_ST] = { "median", "p99", "p99.99", "max" };

/* One run of one backend: statistics of malloc [0] and free [1]. */
struct lat_result {
	uint64_t st[2][NR_ST];
	size_t count[2];
	size_t failed;        /* mallocs answered NULL (their slot's free is skipped) */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static uint64_t percentile(const uint32_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t k = (size_t)(q * (double)n + 0.999999);
	return v[k ? (k > n ? n - 1 : k - 1) : 0];
}

static void summarize(uint32_t *v, size_t n, uint64_t st[NR_ST])
{
	qsort(v, n, sizeof *v, cmp_u32);
	st[ST_MEDIAN] = percentile(v, n, 0.5);
	st[ST_P99] = percentile(v, n, 0.99);
	st[ST_P9999] = percentile(v, n, 0.9999);
	st[ST_MAX] = n ? v[n - 1] : 0;
}

/* best[k][i] = min(best[k][i], times[k][i]): the per-call minimum over runs. */
static void keep_minimum(uint32_t *best, const uint32_t *times, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (times[i] < best[i])
			best[i] = times[i];
}

static struct lat_result latency_run(const struct hk_backend *b, const struct trace *t, uint32_t *best[2])
{
	struct lat_result res;
	memset(&res, 0, sizeof res);
	struct heap h = heap_open(b, LAT_HEAP);
	hk_alloc_t *a = h.a;
	void **slot = calloc(t->slots, sizeof *slot);
	uint32_t *times[2] = { malloc(t->nr * sizeof(uint32_t)), malloc(t->nr * sizeof(uint32_t)) };
	if (!slot || !times[0] || !times[1]) {
		fprintf(stderr, "hklatency: cannot set up %s\n", b->name);
		exit(2);
	}
	for (size_t i = 0; i < t->nr; i++) {
		const struct op *o = &t->ops[i];
		bool timed = i >= t->nr_prefill;
		if (o->size) {
			uint64_t t0 = timer_now();
			void *p = hk_malloc(a, o->size);
			uint64_t t1 = timer_now();
			if (!p)
				res.failed++;
			else
				*(volatile char *)p = 1; /* touch it, as a program would */
			slot[o->slot] = p;
			if (timed)
				times[0][res.count[0]++] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
		} else if (slot[o->slot]) {
			void *p = slot[o->slot];
			uint64_t t0 = timer_now();
			hk_free(a, p);
			uint64_t t1 = timer_now();
			slot[o->slot] = NULL;
			if (timed)
				times[1][res.count[1]++] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
		}
	}
	for (size_t i = 0; i < t->slots; i++)
		hk_free(a, slot[i]);
	for (int k = 0; k < 2; k++) {
		keep_minimum(best[k], times[k], res.count[k]);
		summarize(times[k], res.count[k], res.st[k]);
		free(times[k]);
	}
	free(slot);
	heap_release(b, &h);
	return res;
}

/* Median cost of timing nothing: what every figure includes. */
static uint64_t timer_overhead(void)
{
	enum { N = 10001 };
	static uint32_t v[N];
	for (int i = 0; i < N; i++) {
		uint64_t t0 = timer_now();
		uint64_t t1 = timer_now();
		v[i] = (uint32_t)(t1 - t0);
	}
	qsort(v, N, sizeof *v, cmp_u32);
	return v[N / 2];
}

/* --- Fragmentation ------------------------------------------------------------------ */

struct frag_result {
	size_t heap;           /* bytes of the region (the backend's min_region if larger) */
	size_t live_bytes;     /* bytes the program holds at the end (sizes asked) */
	size_t availmem;       /* hk_availmem then */
	size_t maxalloc;       /* hk_maxalloc then */
	size_t largest;        /* the largest malloc that succeeds then (bisection) */
	size_t failed;         /* mallocs that failed during the mix */
	size_t maxalloc_empty; /* hk_maxalloc after freeing everything */
};

/* The largest n for which malloc(n) succeeds now (assumes success is monotone in n). */
static size_t probe_largest(hk_alloc_t *a, size_t hi)
{
	size_t lo = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		void *p = hk_malloc(a, mid);
		if (p) {
			hk_free(a, p);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

static struct frag_result fragmentation_run(const struct hk_backend *b, const struct trace *t)
{
	struct frag_result res;
	memset(&res, 0, sizeof res);
	struct heap h = heap_open(b, FRAG_HEAP);
	hk_alloc_t *a = h.a;
	void **slot = calloc(t->slots, sizeof *slot);
	uint32_t *size = calloc(t->slots, sizeof *size);
	if (!slot || !size) {
		fprintf(stderr, "hklatency: cannot set up %s\n", b->name);
		exit(2);
	}
	for (size_t i = 0; i < t->nr; i++) {
		const struct op *o = &t->ops[i];
		if (o->size) {
			slot[o->slot] = hk_malloc(a, o->size);
			size[o->slot] = o->size;
			res.failed += !slot[o->slot];
		} else if (slot[o->slot]) {
			hk_free(a, slot[o->slot]);
			slot[o->slot] = NULL;
		}
	}
	for (size_t i = 0; i < t->slots; i++)
		if (slot[i])
			res.live_bytes += size[i];
	res.availmem = hk_availmem(a);
	res.maxalloc = hk_maxalloc(a);
	res.largest = probe_largest(a, h.len);
	for (size_t i = 0; i < t->slots; i++)
		hk_free(a, slot[i]);
	res.maxalloc_empty = hk_maxalloc(a);
	res.heap = h.len;
	free(slot);
	free(size);
	heap_release(b, &h);
	return res;
}

/* --- Medians over repeated runs -------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- Driver --------------------------------------------------------------------------- */

struct options {
	bool csv;
	size_t ops;
	unsigned repeat;
	uint64_t seed;
	const char *only[MAX_BACKENDS];
	size_t nr_only;
};

static struct options parse(int argc, char **argv)
{
	struct options o = { false, 1000000, 1, 1, { 0 }, 0 };
	unsigned long long ops = o.ops, repeat = o.repeat, seed = o.seed;
	const char *lists[MAX_BACKENDS];
	int nlists = 0;
	const struct hk_opt opts[] = {
		HK_OPT("--csv", HK_OPT_FLAG, &o.csv, NULL, "CSV instead of tables"),
		HK_OPT("--ops", HK_OPT_ULL, &ops, "N", "operations in the latency trace (default 1000000)"),
		HK_OPT("--repeat", HK_OPT_ULL, &repeat, "R", "repetitions, interleaved (default 1)"),
		HK_OPT("--seed", HK_OPT_ULL, &seed, "S", "seed of the traces (default 1)"),
		{ .name = "--allocs", .alias = "--backend", .type = HK_OPT_MULTI, .dest = lists, .count = &nlists,
		  .max = MAX_BACKENDS, .arg = "NAME,...", .help = "backends (default every one that frees)" },
		HK_OPT_LAST,
	};
	const struct hk_cmd cmd = {
		.name = "hklatency",
		.synopsis = "[options]",
		.about = "  per-call latency (malloc, free) and fragmentation of every backend that frees\n",
		.opts = opts,
	};
	int rc = hk_cmd_parse(&cmd, argc, argv, 1);
	if (rc)
		exit(rc == 1 ? 0 : rc);
	o.ops = (size_t)ops;
	o.repeat = (unsigned)repeat;
	o.seed = seed;
	static char buf[MAX_BACKENDS][256];
	for (int i = 0; i < nlists; i++) {
		snprintf(buf[i], sizeof buf[i], "%s", lists[i]);
		char *save = NULL;
		for (char *t = strtok_r(buf[i], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (o.nr_only == MAX_BACKENDS) {
				fprintf(stderr, "hklatency: at most %d backends\n", MAX_BACKENDS);
				exit(2);
			}
			o.only[o.nr_only++] = t;
		}
	}
	if (!o.ops || !o.repeat || repeat > MAX_REPEAT) {
		fprintf(stderr, "hklatency: --ops must be at least 1 and --repeat 1..%d\n", MAX_REPEAT);
		exit(2);
	}
	return o;
}

/* The backends to compare: --backend ones, else every registered one that frees. */
static size_t pick_backends(const struct options *o, const struct hk_backend **out)
{
	size_t n = 0;
	if (o->nr_only) {
		for (size_t i = 0; i < o->nr_only; i++) {
			out[n] = hk_backend_find(o->only[i]);
			if (!out[n]) {
				fprintf(stderr, "hklatency: no backend called '%s'\n", o->only[i]);
				exit(2);
			}
			n++;
		}
		return n;
	}
	for (size_t i = 0; i < hk_backend_count() && n < MAX_BACKENDS; i++)
		if (hk_backend_at(i)->caps & HK_CAP_FREE)
			out[n++] = hk_backend_at(i);
	return n;
}

int main(int argc, char **argv)
{
	struct options o = parse(argc, argv);
	const struct hk_backend *bk[MAX_BACKENDS];
	size_t nb = pick_backends(&o, bk);
	struct trace lat = trace_make(LAT_SLOTS, o.ops, true, o.seed);
	struct trace frag = trace_make(FRAG_SLOTS, FRAG_OPS, false, o.seed ^ 0xf4a9);
	static struct lat_result lr[MAX_BACKENDS][MAX_REPEAT];
	static struct frag_result fr[MAX_BACKENDS];
	static uint32_t *best[MAX_BACKENDS][2];
	static uint64_t best_st[MAX_BACKENDS][2][NR_ST];
	for (size_t b = 0; b < nb; b++)
		for (int k = 0; k < 2; k++) {
			best[b][k] = malloc(lat.nr * sizeof(uint32_t));
			if (!best[b][k])
				exit(2);
			memset(best[b][k], 0xff, lat.nr * sizeof(uint32_t));
		}

	/* Interleaved: every backend's run r before anyone's run r + 1. */
	for (unsigned r = 0; r < o.repeat; r++)
		for (size_t b = 0; b < nb; b++)
			lr[b][r] = latency_run(bk[b], &lat, best[b]);
	for (size_t b = 0; b < nb; b++)
		for (int k = 0; k < 2; k++) {
			summarize(best[b][k], lr[b][0].count[k], best_st[b][k]);
			free(best[b][k]);
		}
	for (size_t b = 0; b < nb; b++)
		fr[b] = fragmentation_run(bk[b], &frag);
	uint64_t overhead = timer_overhead();

	if (o.csv) {
		printf("section,backend,metric,value,unit\n");
		printf("setup,all,timer_overhead,%llu,%s\n", (unsigned long long)overhead, timer_unit);
	} else {
		printf("latency: %zu random malloc/free ops after pre-fragmenting %zu slots (sizes 16 B..64 KiB),\n"
		       "         heap %zu MiB, seed %llu, %u run(s) each, median over runs; unit: %s (timer overhead %llu,"
		       " included)\n\n",
		       o.ops, (size_t)LAT_SLOTS, LAT_HEAP / MiB, (unsigned long long)o.seed, o.repeat, timer_unit,
		       (unsigned long long)overhead);
		printf("%-10s %-6s %9s %9s %9s %9s %9s %8s\n", "backend", "op", "count", "median", "p99", "p99.99",
		       "max", "failed");
	}
	for (size_t b = 0; b < nb; b++) {
		for (int k = 0; k < 2; k++) {
			uint64_t st[NR_ST], v[MAX_REPEAT];
			for (int s = 0; s < NR_ST; s++) {
				for (unsigned r = 0; r < o.repeat; r++)
					v[r] = lr[b][r].st[k][s];
				st[s] = median_u64(v, o.repeat);
			}
			const char *op = k ? "free" : "malloc";
			size_t failed = k ? 0 : lr[b][0].failed;
			if (o.csv) {
				printf("latency,%s,%s_count,%zu,ops\n", bk[b]->name, op, lr[b][0].count[k]);
				for (int s = 0; s < NR_ST; s++)
					printf("latency,%s,%s_%s,%llu,%s\n", bk[b]->name, op, st_names[s],
					       (unsigned long long)st[s], timer_unit);
				for (int s = 0; s < NR_ST; s++)
					printf("latency-min-of-runs,%s,%s_%s,%llu,%s\n", bk[b]->name, op, st_names[s],
					       (unsigned long long)best_st[b][k][s], timer_unit);
				if (!k)
					printf("latency,%s,malloc_failed,%zu,ops\n", bk[b]->name, failed);
			} else {
				printf("%-10s %-6s %9zu %9llu %9llu %9llu %9llu %8zu\n", bk[b]->name, op,
				       lr[b][0].count[k], (unsigned long long)st[ST_MEDIAN], (unsigned long long)st[ST_P99],
				       (unsigned long long)st[ST_P9999], (unsigned long long)st[ST_MAX], failed);
			}
		}
	}

	if (!o.csv) {
		printf("\nper-call minimum over the %u runs (the same call on the same heap each run), then its\n"
		       "distribution: preemption filtered out, the allocator's own worst case left\n\n", o.repeat);
		printf("%-10s %-6s %9s %9s %9s %9s\n", "backend", "op", "median", "p99", "p99.99", "max");
		for (size_t b = 0; b < nb; b++)
			for (int k = 0; k < 2; k++)
				printf("%-10s %-6s %9llu %9llu %9llu %9llu\n", bk[b]->name, k ? "free" : "malloc",
				       (unsigned long long)best_st[b][k][ST_MEDIAN], (unsigned long long)best_st[b][k][ST_P99],
				       (unsigned long long)best_st[b][k][ST_P9999], (unsigned long long)best_st[b][k][ST_MAX]);
	}
	if (!o.csv) {
		printf("\nfragmentation: %d random malloc/free ops over %d slots in a %zu MiB heap, then the largest\n"
		       "block still allocatable (maxalloc: what the backend says; probed: largest malloc that succeeds)\n\n",
		       FRAG_OPS, FRAG_SLOTS, FRAG_HEAP / MiB);
		printf("%-10s %10s %10s %10s %10s %10s %9s %7s %12s\n", "backend", "heap", "live", "availmem", "maxalloc",
		       "probed", "probed/av", "failed", "max(empty)");
	}
	for (size_t b = 0; b < nb; b++) {
		const struct frag_result *f = &fr[b];
		double ratio = f->availmem ? (double)f->largest / (double)f->availmem : 0;
		if (o.csv) {
			const char *n = bk[b]->name;
			printf("fragmentation,%s,heap,%zu,bytes\n", n, f->heap);
			printf("fragmentation,%s,live_bytes,%zu,bytes\n", n, f->live_bytes);
			printf("fragmentation,%s,availmem,%zu,bytes\n", n, f->availmem);
			printf("fragmentation,%s,maxalloc,%zu,bytes\n", n, f->maxalloc);
			printf("fragmentation,%s,largest_malloc,%zu,bytes\n", n, f->largest);
			printf("fragmentation,%s,largest_over_availmem,%.4f,ratio\n", n, ratio);
			printf("fragmentation,%s,malloc_failed,%zu,ops\n", n, f->failed);
			printf("fragmentation,%s,maxalloc_after_free_all,%zu,bytes\n", n, f->maxalloc_empty);
		} else {
			printf("%-10s %10zu %10zu %10zu %10zu %10zu %9.3f %7zu %12zu\n", bk[b]->name, f->heap, f->live_bytes,
			       f->availmem, f->maxalloc, f->largest, ratio, f->failed, f->maxalloc_empty);
		}
	}
	free(lat.ops);
	free(frag.ops);
	return 0;
}
