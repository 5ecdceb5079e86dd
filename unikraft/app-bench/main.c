// SPDX-License-Identifier: MIT
/*
 * heapkit's all-in-one benchmark image for Unikraft: the benchmark library
 * (bench/) linked into a unikernel, driven by the kernel command line
 * (after "--"):
 *
 *   list
 *   run WORKLOAD [alloc=boot|buddy|tlsf|shard|region] [heap_mb=N] [reps=N]
 *                [tiny] [key=value ...]
 *   test                      every workload, tiny, on the boot allocator
 *                             (replay: the built-in trace gcc-cc1)
 *   stress [threads=N] [rounds=N] [scale=N] [k=v ...]
 *                             mstress on the boot allocator and on a private
 *                             instance of each freeing backend, then an
 *                             exhaustion check on each of those instances
 *   hkstress [yield=N] [--alloc NAME|system] [--threads N] [--rounds N] ...
 *                             tools/hkstress.c itself (musl images only),
 *                             with these arguments; see docs/safety.md
 *
 * Every command takes yield=N (default 64): the boot thread and the workers
 * yield to the cooperative scheduler after every N allocator calls, so the
 * workers' loops interleave as they would under preemption (0: only the
 * workloads' own yield points).
 *
 * alloc=boot (the default) measures the boot allocator through ukalloc
 * (uk_malloc & co.: what the application's malloc reaches), heapkit's or
 * Unikraft's own; alloc=NAME measures a private heapkit instance of that
 * backend over heap_mb MiB taken from the boot allocator with uk_palloc.
 * Results are printed as CSV rows in hkbench's format, between
 * "--- hkbench csv begin" and "--- hkbench csv end".
 *
 * replay's trace=NAME names a trace built into the image (traces.S: the
 * repository's bench/traces/NAME.trace; gcc-cc1, python-queue), parsed on
 * first use with memory from the boot allocator and kept.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uk/config.h>
#include <uk/alloc.h>
#include <uk/heapkit.h>
#include <uk/plat/time.h>
#include <uk/sched.h>
#include <uk/thread.h>
#if CONFIG_LIBMUSL
#include <pthread.h>
#endif

#include "harness.h"
#include "result.h"

/* --- Numbers without %f (nolibc's printf has none) ------------------------------ */

/* v >= 0 with `decimals` digits after the point, into buf. */
static const char *fmt_fixed(char *buf, size_t len, double v, unsigned decimals)
{
	unsigned long long scale = 1, whole, frac;

	for (unsigned i = 0; i < decimals; i++)
		scale *= 10;
	if (v < 0)
		v = 0;
	whole = (unsigned long long)v;
	frac = (unsigned long long)((v - (double)whole) * (double)scale + 0.5);
	if (frac >= scale) {
		whole++;
		frac -= scale;
	}
	snprintf(buf, len, "%llu.%0*llu", whole, (int)decimals, frac);
	return buf;
}

/* --- The host: clock, threads --------------------------------------------------- */

static uint64_t env_now_ns(void) { return (uint64_t)ukplat_monotonic_clock(); }
static void env_yield(void) { uk_sched_yield(); }
static void env_sleep_ms(unsigned ms) { uk_sched_thread_sleep((__nsec)ms * 1000000); }
static long env_mem_held_kb(void) { return -1; }

/*
 * Thread records come from a static pool, not from an allocator: the boot
 * allocator may be the one under test. Invariant: used is set from spawn
 * until join returns.
 */
#define MAX_THREADS 128
struct bthread {
	void (*fn)(void *arg);       /* what the thread runs */
	void *arg;
	int used;                    /* record taken (atomic) */
	int done;                    /* fn returned (atomic) */
#if CONFIG_LIBMUSL
	pthread_t tid;
#endif
};
static struct bthread threads[MAX_THREADS];

static struct bthread *bthread_take(void)
{
	for (unsigned i = 0; i < MAX_THREADS; i++) {
		int zero = 0;

		if (__atomic_compare_exchange_n(&threads[i].used, &zero, 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return &threads[i];
	}
	return NULL;
}

#if CONFIG_LIBMUSL
static void *bthread_main(void *p)
{
	struct bthread *t = p;

	t->fn(t->arg);
	return NULL;
}

/* Start t's thread: 0, or -1 when none could be made. */
static int bthread_start(struct bthread *t)
{
	return pthread_create(&t->tid, NULL, bthread_main, t) ? -1 : 0;
}

static void env_join(hkb_thread_t h)
{
	struct bthread *t = (struct bthread *)h;

	pthread_join(t->tid, NULL);
	__atomic_store_n(&t->used, 0, __ATOMIC_RELEASE);
}
#define THREAD_KIND "pthreads (musl)"
#else
static __attribute__((noreturn)) void bthread_main(void *p)
{
	struct bthread *t = p;

	t->fn(t->arg);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	uk_sched_thread_exit();
}

/* Start t's thread: 0, or -1 when none could be made. */
static int bthread_start(struct bthread *t)
{
	return uk_sched_thread_create(uk_sched_current(), bthread_main, t, "hkbench") ? 0 : -1;
}

static void env_join(hkb_thread_t h)
{
	struct bthread *t = (struct bthread *)h;

	while (!__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
		uk_sched_yield();
	__atomic_store_n(&t->used, 0, __ATOMIC_RELEASE);
}
#define THREAD_KIND "uksched threads (nolibc)"
#endif

static int env_spawn(hkb_thread_t *out, void (*fn)(void *), void *arg)
{
	struct bthread *t = bthread_take();

	if (!t)
		return -1;
	t->fn = fn;
	t->arg = arg;
	t->done = 0;
	if (bthread_start(t)) {
		__atomic_store_n(&t->used, 0, __ATOMIC_RELEASE);
		return -1;
	}
	*out = (hkb_thread_t)t;
	return 0;
}

/* --- The host: built-in traces ------------------------------------------------ */

/* Bytes of the repository's traces, put into the image by traces.S. */
extern const uint8_t hk_builtin_trace_gcc_cc1[], hk_builtin_trace_gcc_cc1_end[];
extern const uint8_t hk_builtin_trace_python_queue[], hk_builtin_trace_python_queue_end[];

/*
 * One trace built into the image. Invariant: loaded is set once t holds the
 * parsed trace, which then stays for the image's life (a cache: every run
 * and repetition naming it shares it).
 */
struct builtin_trace {
	const char *name;            /* what trace= calls it: the file's name without ".trace" */
	const uint8_t *start, *end;  /* the file's bytes */
	int loaded;                  /* t is parsed */
	struct hkb_trace t;          /* t.name: given, below */
	char given[96];              /* the name as first given (the caller's string is not kept) */
};

static struct builtin_trace builtin_traces[] = {
	{ "gcc-cc1", hk_builtin_trace_gcc_cc1, hk_builtin_trace_gcc_cc1_end, 0, { NULL }, "" },
	{ "python-queue", hk_builtin_trace_python_queue, hk_builtin_trace_python_queue_end, 0, { NULL }, "" },
};
#define NR_BUILTIN_TRACES (int)(sizeof(builtin_traces) / sizeof(builtin_traces[0]))

/* The reader's memory: the boot allocator, as malloc is on Linux. */
static void *trace_mem_alloc(void *ctx, size_t n) { return uk_malloc(ctx, n); }
static void trace_mem_free(void *ctx, void *p) { uk_free(ctx, p); }

/*
 * The built-in trace a name stands for, or -1. "gcc-cc1", "gcc-cc1.trace"
 * and "bench/traces/gcc-cc1.trace" all name gcc-cc1, so a Linux command line
 * works unchanged.
 */
static int builtin_find(const char *name)
{
	const char *base = strrchr(name, '/');
	size_t len;

	base = base ? base + 1 : name;
	len = strlen(base);
	if (len > 6 && !strcmp(base + len - 6, ".trace"))
		len -= 6;
	for (int i = 0; i < NR_BUILTIN_TRACES; i++)
		if (strlen(builtin_traces[i].name) == len && !strncmp(builtin_traces[i].name, base, len))
			return i;
	return -1;
}

static int env_trace_open(const char *name, const char **err)
{
	int i = builtin_find(name);
	struct builtin_trace *b;

	if (i < 0) {
		*err = "no built-in trace of that name (this image has gcc-cc1 and python-queue)";
		return -1;
	}
	b = &builtin_traces[i];
	if (!b->loaded) {
		struct hk_trace_mem mem = { trace_mem_alloc, trace_mem_free, uk_alloc_get_default() };

		if (hk_trace_load(b->start, (size_t)(b->end - b->start), &mem, &b->t.t, err))
			return -1;
		snprintf(b->given, sizeof(b->given), "%s", name);
		b->t.name = b->given;
		b->loaded = 1;
	}
	return i;
}

static const struct hkb_trace *env_trace_get(int index)
{
	return index >= 0 && index < NR_BUILTIN_TRACES && builtin_traces[index].loaded
		       ? &builtin_traces[index].t : NULL;
}

static const struct hkb_env uk_env = {
	.now_ns = env_now_ns,
	.spawn = env_spawn,
	.join = env_join,
	.yield = env_yield,
	.sleep_ms = env_sleep_ms,
	.mem_held_kb = env_mem_held_kb,
	.trace_open = env_trace_open,
	.trace_get = env_trace_get,
};

/* --- The boot allocator through ukalloc --------------------------------------- */

static void *boot_malloc(void *c, size_t n) { return uk_malloc(c, n); }
static void boot_free(void *c, void *p) { uk_free(c, p); }
static void *boot_realloc(void *c, void *p, size_t n) { return uk_realloc(c, p, n); }
static void *boot_memalign(void *c, size_t al, size_t n) { return uk_memalign(c, al, n); }

static size_t boot_usable(void *c, void *p)
{
	hk_alloc_t *hk = uk_heapkit_instance(c);

	return hk ? hk_usable_size(hk, p) : 0;
}

/* Memory the boot allocator hands out now: managed (or total at start) minus free. */
static long boot_held_kb(void *c)
{
	static __ssz start_avail = -1;
	struct hk_stats st;
	__ssz avail = uk_alloc_availmem(c);

	if (uk_heapkit_stats(c, &st) == 0)
		return avail >= 0 && st.bytes_managed > (size_t)avail
			       ? (long)((st.bytes_managed - (size_t)avail) >> 10) : 0;
	if (start_avail < 0)
		start_avail = avail;
	return avail >= 0 && start_avail > avail ? (long)((start_avail - avail) >> 10) : 0;
}

static char boot_name[48];

static void alloc_boot(struct hkb_alloc *out)
{
	struct uk_alloc *a = uk_alloc_get_default();
	hk_alloc_t *hk = uk_heapkit_instance(a);

	snprintf(boot_name, sizeof(boot_name), "uk-boot-%s", hk ? hk_name(hk) : "ukalloc");
	*out = (struct hkb_alloc){
		.name = boot_name,
		.ctx = a,
		.caps = HKB_THREAD_SAFE | (!hk || (hk_caps(hk) & HK_CAP_FREE) ? HKB_CAN_FREE : 0u),
		.malloc = boot_malloc,
		.free = boot_free,
		.realloc = boot_realloc,
		.memalign = boot_memalign,
		.usable_size = boot_usable,
		.held_kb = boot_held_kb,
	};
	boot_held_kb(a);
}

/* A private instance of backend over heap_mb MiB of pages from the boot allocator. */
static int alloc_private(struct hkb_alloc *out, const char *backend, unsigned long heap_mb)
{
	unsigned long pages = heap_mb << (20 - 12);
	void *base = uk_palloc(uk_alloc_get_default(), pages);
	hk_alloc_t *hk = base ? hk_create(backend, base, pages << 12) : NULL;

	if (!hk) {
		printf("hkbench: no %s instance over %lu MiB\n", backend, heap_mb);
		return -1;
	}
	hkb_alloc_from_hk(out, hk);
	return 0;
}

/* --- Yield points ------------------------------------------------------------------ */

/*
 * Unikraft's scheduler is cooperative on one CPU: a worker that never yields
 * runs its whole loop before the next one starts, and "concurrent" workloads
 * degenerate into sequential ones. This wrapper puts a yield point into the
 * allocator calls themselves (every yield_every-th call), without touching the
 * workloads. It also counts how often consecutive allocator calls came from
 * different threads, the evidence that the loops did interleave. No locking:
 * only one context runs at a time and nothing here is reached from interrupts.
 */
static struct hkb_alloc yield_inner;   /* the allocator under test */
static unsigned yield_every = 64;      /* calls between two yields; 0: never */
static unsigned long yield_calls;      /* allocator calls through the wrapper */
static unsigned long yield_switches;   /* calls made by another thread than the one before */
static const void *yield_last;         /* thread of the previous call */

static void yield_point(void)
{
	const void *self = uk_thread_current();

	if (self != yield_last) {
		yield_switches += yield_last != NULL;
		yield_last = self;
	}
	yield_calls++;
	if (yield_every && yield_calls % yield_every == 0)
		uk_sched_yield();
}

static void *yield_malloc(void *c, size_t n)
{
	yield_point();
	return yield_inner.malloc(yield_inner.ctx, n);
}

static void yield_free(void *c, void *p)
{
	yield_point();
	yield_inner.free(yield_inner.ctx, p);
}

static void *yield_realloc(void *c, void *p, size_t n)
{
	yield_point();
	return yield_inner.realloc(yield_inner.ctx, p, n);
}

static void *yield_memalign(void *c, size_t al, size_t n)
{
	yield_point();
	return yield_inner.memalign(yield_inner.ctx, al, n);
}

static size_t yield_usable(void *c, void *p) { return yield_inner.usable_size(yield_inner.ctx, p); }
static long yield_held_kb(void *c) { return yield_inner.held_kb(yield_inner.ctx); }

/* out: in with yield points (in is copied; one wrapped allocator at a time). */
static void yield_wrap(struct hkb_alloc *out, const struct hkb_alloc *in)
{
	yield_inner = *in;
	yield_calls = yield_switches = 0;
	yield_last = NULL;
	*out = *in;
	out->malloc = yield_malloc;
	out->free = yield_free;
	out->realloc = yield_realloc;
	out->memalign = yield_memalign;
	out->usable_size = yield_usable;
	out->held_kb = in->held_kb ? yield_held_kb : NULL;
}

/* --- Commands ------------------------------------------------------------------ */

static void cmd_list(void)
{
	for (size_t i = 0; i < hkb_workload_count(); i++) {
		const struct hkb_workload *w = hkb_workload_at(i);

		printf("%-20s %s\n", w->name, w->summary);
	}
}

/*
 * One CSV row in hkbench's format (bench/result.h, HKB_RESULT_CSV_HEADER);
 * status "ok", "FAIL" or "skip" (no figures). With musl the row is
 * bench/result.c's; nolibc's printf has no floating point, so there the
 * same columns are written with fmt_fixed (cpu_seconds missing: empty).
 */
static void row_print(const struct hkb_run *r, int rep, const char *status)
{
	struct hkb_result row;
	int rc = !strcmp(status, "FAIL"), skip = !strcmp(status, "skip");

	hkb_result_init(&row);
	snprintf(row.bench, sizeof(row.bench), "%s", r->w->name);
	snprintf(row.alloc, sizeof(row.alloc), "%s", r->alloc->name);
	hkb_run_params_str(r, row.params, sizeof(row.params));
	snprintf(row.unit, sizeof(row.unit), "%s", r->w->unit);
	snprintf(row.status, sizeof(row.status), "%s", status);
	row.threads = hkb_run_nthreads(r);
	row.rep = rep;
	row.seconds = skip ? 0 : r->seconds;
	row.throughput = skip ? 0 : r->throughput;
	row.held_kb = skip ? -1L : r->held_kb;
	row.live_kb = skip ? -1L : r->live_kb;
	row.lower_better = r->w->lower_is_better;
#if CONFIG_LIBMUSL
	char line[512];

	hkb_result_csv(&row, line, sizeof(line));
	fputs(line, stdout);
#else
	char secs[32], tput[48];

	printf("%s,%s,%u,%s,%d,%s,%s,%s,%ld,%ld,%ld,%s,%s,\n", row.bench, row.alloc, row.threads,
	       row.params, rep, fmt_fixed(secs, sizeof(secs), row.seconds, 6),
	       fmt_fixed(tput, sizeof(tput), row.throughput, 3), row.unit, row.peak_rss_kb,
	       row.held_kb, row.live_kb, row.lower_better ? "lower" : "higher", status);
#endif
	if (rc)
		printf("# failed: %s at %p (%llu)\n", r->fail_what ? r->fail_what : "?", r->fail_addr,
		       (unsigned long long)r->fail_detail);
}

/* One workload, reps times; 0 when every repetition passed. */
static int run_one(const struct hkb_workload *w, const struct hkb_alloc *a, int tiny, int reps,
		   char **kv, int nkv)
{
	struct hkb_run proto;
	const char *err;
	int failed = 0;

	hkb_run_init(&proto, w, a, &uk_env);
	if (tiny && w->tiny && hkb_run_set_list(&proto, w->tiny, &err)) {
		printf("hkbench: %s: tiny parameters: %s\n", w->name, err);
		return -1;
	}
	for (int i = 0; i < nkv; i++)
		if (hkb_run_set_list(&proto, kv[i], &err)) {
			printf("hkbench: %s: '%s': %s\n", w->name, kv[i], err);
			return -1;
		}
	if ((w->needs & HKB_NEEDS_FREE) && !(a->caps & HKB_CAN_FREE)) {
		printf("# %s skipped: %s cannot free\n", w->name, a->name);
		row_print(&proto, 0, "skip");
		return 0;
	}
	for (int rep = 0; rep < reps; rep++) {
		struct hkb_run r = proto;
		unsigned long calls0 = yield_calls, sw0 = yield_switches;
		int rc = hkb_run_exec(&r);

		row_print(&r, rep, rc ? "FAIL" : "ok");
		printf("# %s: %lu allocator calls, %lu of them by another thread than the call before (yield=%u)\n",
		       w->name, yield_calls - calls0, yield_switches - sw0, yield_every);
		failed |= rc;
	}
	return failed ? -1 : 0;
}

/* --- stress: migration under check, then exhaustion ------------------------------ */

#define EXHAUST_MB 4                   /* each private instance for the exhaustion check */
#define EXHAUST_MAX_BLOCKS 65536       /* bound on the blocks one exhaustion holds */

/* The byte a block of index i carries at offset k (cheap, varies along the block). */
static inline unsigned char exhaust_byte(size_t i, size_t k) { return (unsigned char)(i * 131 + k / 64 + 7); }

static void exhaust_fill(unsigned char *p, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k += 64)
		p[k] = exhaust_byte(i, k);
	p[n - 1] = exhaust_byte(i, n - 1);
}

static int exhaust_intact(const unsigned char *p, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k += 64)
		if (p[k] != exhaust_byte(i, k))
			return 0;
	return p[n - 1] == exhaust_byte(i, n - 1);
}

/*
 * Fill hk with blocks (log-uniform 16 B .. 16 KiB, then smaller and smaller
 * once a size fails) until even 16 bytes fail; check every block; free them
 * odd indices first; then availmem must be back to its value and the heap
 * check clean. Returns the number of blocks it held, or -1.
 */
static long exhaust_once(hk_alloc_t *hk, void **blk, size_t *len, uint64_t seed)
{
	uint64_t rng = hkb_seed(seed, 1);
	size_t avail0 = hk_availmem(hk), maxsz = 16384, n = 0, bad = 0;
	struct hk_check_report rep;

	while (n < EXHAUST_MAX_BLOCKS) {
		size_t sz = hkb_rand_logsize(&rng, 16, maxsz);
		void *p = hk_malloc(hk, sz);

		if (!p) {
			if (maxsz == 16)
				break;
			maxsz /= 2;
			continue;
		}
		exhaust_fill(p, sz, n);
		blk[n] = p;
		len[n++] = sz;
	}
	if (n == EXHAUST_MAX_BLOCKS) {
		printf("  %s: not exhausted after %d blocks\n", hk_name(hk), EXHAUST_MAX_BLOCKS);
		return -1;
	}
	size_t avail_full = hk_availmem(hk);

	for (size_t i = 0; i < n; i++)
		bad += !exhaust_intact(blk[i], len[i], i);
	for (size_t pass = 1; pass < 3; pass++)
		for (size_t i = pass % 2; i < n; i += 2)
			hk_free(hk, blk[i]);
	size_t avail1 = hk_availmem(hk);
	int chk = hk_check(hk, &rep);

	printf("  %s: %zu blocks until 16 B failed (availmem then %zu B), %zu corrupted; availmem %zu -> %zu B; heap check %s\n",
	       hk_name(hk), n, avail_full, bad, avail0, avail1, chk ? rep.what : "clean");
	return bad || avail1 != avail0 || chk ? -1 : (long)n;
}

/* Two exhaustions on a private instance of backend over EXHAUST_MB MiB. */
static int exhaust_backend(const char *backend)
{
	struct uk_alloc *boot = uk_alloc_get_default();
	size_t pages = (size_t)EXHAUST_MB << (20 - 12);
	size_t arr_pages = (EXHAUST_MAX_BLOCKS * (sizeof(void *) + sizeof(size_t)) + 4095) >> 12;
	void *base = uk_palloc(boot, pages), *arr = uk_palloc(boot, arr_pages);
	hk_alloc_t *hk = base && arr ? hk_create(backend, base, pages << 12) : NULL;
	int rc = -1;

	if (!hk) {
		printf("  %s: no instance over %d MiB\n", backend, EXHAUST_MB);
	} else {
		void **blk = arr;
		size_t *len = (size_t *)(blk + EXHAUST_MAX_BLOCKS);
		long a = exhaust_once(hk, blk, len, 1), b = exhaust_once(hk, blk, len, 2);

		rc = a > 0 && b > 0 ? 0 : -1;
		hk_destroy(hk);
	}
	if (arr)
		uk_pfree(boot, arr, arr_pages);
	if (base && (!hk || (hk_backend_find(backend)->caps & HK_CAP_RELEASE)))
		uk_pfree(boot, base, pages);
	return rc;
}

/*
 * mstress (blocks migrate between threads and are checked on arrival) on the
 * boot allocator and on a private instance of each freeing backend, then the
 * exhaustion check on each of those. kv: the user's mstress parameters.
 */
static int cmd_stress(unsigned long heap_mb, char **kv, int nkv)
{
	const struct hkb_workload *w = hkb_workload_find("mstress");
	struct hkb_alloc raw, a;
	char *args[33] = { "threads=4" };
	int rc = 0, nargs = 1;

	for (int i = 0; i < nkv && nargs < 33; i++)
		args[nargs++] = kv[i];
	alloc_boot(&raw);
	yield_wrap(&a, &raw);
	if (run_one(w, &a, 1, 1, args, nargs))
		rc = -1;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		const struct hk_backend *b = hk_backend_at(i);

		if (!(b->caps & HK_CAP_FREE) || !strcmp(b->name, "mimalloc"))
			continue; /* mimalloc: one instance per image, the boot allocator's */
		if (alloc_private(&raw, b->name, heap_mb)) {
			rc = -1;
			continue;
		}
		yield_wrap(&a, &raw);
		if (run_one(w, &a, 1, 1, args, nargs))
			rc = -1;
	}
	printf("--- hkbench csv end\n");
	int chk = uk_heapkit_check(uk_alloc_get_default());

	printf("boot allocator heap check: %s\n",
	       chk == -EINVAL ? "not heapkit's" : chk ? "FAILED (see the console)" : "clean");
	if (chk && chk != -EINVAL)
		rc = -1;
	printf("exhaustion: private instances over %d MiB, twice each\n", EXHAUST_MB);
	for (size_t i = 0; i < hk_backend_count(); i++) {
		const struct hk_backend *b = hk_backend_at(i);

		if (!(b->caps & HK_CAP_FREE)) {
			printf("  %s: skipped (cannot free)\n", b->name);
			continue;
		}
		if (!strcmp(b->name, "mimalloc")) {
			/* One per image (its state is global), never destroyed. */
			printf("  %s: skipped (one instance per image, not destroyable: "
			       "exhausted as the boot allocator only)\n", b->name);
			continue;
		}
		if (exhaust_backend(b->name))
			rc = -1;
	}
	printf("hkstress: %s\n", rc ? "FAILED" : "ok");
	return rc;
}

/* --- hkstress: tools/hkstress.c, its main renamed (Makefile.uk) ------------------- */

#if CONFIG_LIBMUSL
int hkstress_main(int argc, char **argv);
extern unsigned hkstress_yield_every;   /* hkstress_glue.c */

/*
 * argv[0] is "hkstress"; yield=N arguments are ours (hkstress_glue.h), taken
 * out before hkstress parses the rest. The verdict line is the one
 * tools/uk-run.sh looks for.
 */
static int cmd_hkstress(int argc, char **argv)
{
	int n = 1, rc;

	for (int k = 1; k < argc; k++) {
		if (!strncmp(argv[k], "yield=", 6))
			hkstress_yield_every = (unsigned)strtoul(argv[k] + 6, NULL, 0);
		else
			argv[n++] = argv[k];
	}
	printf("hkstress: tools/hkstress.c, yield every %u allocator calls\n", hkstress_yield_every);
	rc = hkstress_main(n, argv);

	fflush(stdout);
	printf("hkstress: %s (tools/hkstress.c, exit %d)\n", rc ? "FAILED" : "ok", rc);
	return rc;
}
#else
static int cmd_hkstress(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("hkbench: hkstress needs the musl image (pthreads, mmap)\n");
	return 2;
}
#endif

int main(int argc, char *argv[])
{
	const char *alloc_name = "boot";
	unsigned long heap_mb = 64;
	int reps = 1, tiny = 0, nkv = 0, rc = 0, i = 1;
	char *kv[32];
	struct hkb_alloc raw, a;
	const struct hkb_workload *w = NULL;

	/* argv[0] is the image name; a "--" may be passed through. */
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc || !strcmp(argv[i], "list")) {
		printf("hkbench on Unikraft (%s). Commands: list | run WORKLOAD [alloc=..] [heap_mb=N] [reps=N] [tiny] [yield=N] [k=v..] | test | stress [k=v..] | hkstress [--opts..]\n",
		       THREAD_KIND);
		cmd_list();
		printf("built-in traces (replay trace=NAME):");
		for (int k = 0; k < NR_BUILTIN_TRACES; k++)
			printf(" %s (%lu bytes)", builtin_traces[k].name,
			       (unsigned long)(builtin_traces[k].end - builtin_traces[k].start));
		printf("\n");
		return 0;
	}
	const char *cmd = argv[i++];

	if (!strcmp(cmd, "hkstress"))
		return cmd_hkstress(argc - i + 1, argv + i - 1) ? 1 : 0;
	if (!strcmp(cmd, "run")) {
		if (i >= argc || !(w = hkb_workload_find(argv[i]))) {
			printf("hkbench: unknown workload '%s'\n", i < argc ? argv[i] : "");
			return 2;
		}
		i++;
	} else if (strcmp(cmd, "test") && strcmp(cmd, "stress")) {
		printf("hkbench: unknown command '%s'\n", cmd);
		return 2;
	}
	for (; i < argc; i++) {
		if (!strncmp(argv[i], "alloc=", 6))
			alloc_name = argv[i] + 6;
		else if (!strncmp(argv[i], "heap_mb=", 8))
			heap_mb = strtoul(argv[i] + 8, NULL, 0);
		else if (!strncmp(argv[i], "reps=", 5))
			reps = atoi(argv[i] + 5);
		else if (!strncmp(argv[i], "yield=", 6))
			yield_every = (unsigned)strtoul(argv[i] + 6, NULL, 0);
		else if (!strcmp(argv[i], "tiny"))
			tiny = 1;
		else if (strchr(argv[i], '=') && nkv < 32)
			kv[nkv++] = argv[i];
	}
	printf("hkbench on Unikraft (%s), yield every %u allocator calls\n", THREAD_KIND, yield_every);
	printf("--- hkbench csv begin\n");
	printf("%s\n", HKB_RESULT_CSV_HEADER);
	if (!strcmp(cmd, "stress")) {
		rc = cmd_stress(heap_mb, kv, nkv);
		return rc ? 1 : 0;
	}
	if (!strcmp(alloc_name, "boot"))
		alloc_boot(&raw);
	else if (alloc_private(&raw, alloc_name, heap_mb))
		return 2;
	yield_wrap(&a, &raw);
	if (w) {
		rc = run_one(w, &a, tiny, reps, kv, nkv);
	} else {
		for (size_t k = 0; k < hkb_workload_count(); k++) {
			const struct hkb_workload *t = hkb_workload_at(k);

			/* replay: the smaller built-in trace. */
			char *replay_kv[] = { "trace=gcc-cc1" };
			int is_replay = !strcmp(t->name, "replay");

			if (run_one(t, &a, 1, 1, is_replay ? replay_kv : NULL, is_replay))
				rc = -1;
		}
	}
	printf("--- hkbench csv end\n");
	printf("hkbench: %s\n", rc ? "FAILED" : "ok");
	return rc ? 1 : 0;
}
