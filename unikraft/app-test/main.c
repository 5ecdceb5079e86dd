// SPDX-License-Identifier: MIT
/*
 * heapkit's Unikraft test application: boots with a heapkit backend as the
 * boot allocator (ukboot's TLSF / Mimalloc / tinyalloc choice), then
 *
 *   1. says where the boot structures came from (the running thread, its
 *      TLS, its stack, the scheduler: which heap region holds them);
 *   2. checks the uk_alloc operations on the default allocator;
 *   3. runs worker threads (uksched threads with nolibc, pthreads with
 *      musl) that malloc, fill, pass blocks to each other through a
 *      mailbox, verify and free them (cross-thread frees);
 *   4. churns threads (many short-lived ones) so that thread exit is
 *      exercised (shard recycles its thread records through it);
 *   5. repeats 3 on a private instance of each freeing backend and checks
 *      that availmem comes back exactly;
 *   6. checks the heap and prints heapkit's and ukalloc's statistics.
 *
 * It prints "heapkit-app-test: PASS" or "heapkit-app-test: FAIL (n)" last.
 * Arguments (after "--" on the kernel command line): threads=N ops=N churn=N
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uk/config.h>
#include <uk/alloc.h>
#include <uk/heapkit.h>
#include <uk/plat/tls.h>
#include <uk/sched.h>
#include <uk/thread.h>
#if CONFIG_LIBMUSL
#include <pthread.h>
#define LIBC_NAME "musl"
#else
#define LIBC_NAME "nolibc"
#endif
#if CONFIG_PAGING && CONFIG_LIBUKVMEM
#define PAGING_NAME "on (ukvmem)"
#elif CONFIG_PAGING
#define PAGING_NAME "on"
#else
#define PAGING_NAME "off"
#endif

/* --- Checks ------------------------------------------------------------------ */

static unsigned failures;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			failures++;					\
			printf("  FAILED: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
		}							\
	} while (0)

/* --- Settings ---------------------------------------------------------------- */

static unsigned nr_threads = 4;   /* workers per run */
static unsigned nr_ops = 3000;    /* operations per worker */
static unsigned nr_churn = 100;   /* short-lived threads in the churn phase */

static void parse_args(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		unsigned long v = 0;
		const char *eq = strchr(argv[i], '=');

		if (!eq)
			continue;
		v = strtoul(eq + 1, NULL, 0);
		if (!strncmp(argv[i], "threads=", 8) && v > 0 && v <= 64)
			nr_threads = (unsigned)v;
		else if (!strncmp(argv[i], "ops=", 4))
			nr_ops = (unsigned)v;
		else if (!strncmp(argv[i], "churn=", 6))
			nr_churn = (unsigned)v;
	}
}

/* --- The allocator under test: libc malloc (a == NULL) or a uk_alloc -------- */

static void *m_malloc(struct uk_alloc *a, size_t n) { return a ? uk_malloc(a, n) : malloc(n); }
static void *m_calloc(struct uk_alloc *a, size_t k, size_t n) { return a ? uk_calloc(a, k, n) : calloc(k, n); }
static void *m_realloc(struct uk_alloc *a, void *p, size_t n) { return a ? uk_realloc(a, p, n) : realloc(p, n); }
static void m_free(struct uk_alloc *a, void *p) { if (a) uk_free(a, p); else free(p); }

static void *m_memalign(struct uk_alloc *a, size_t align, size_t n)
{
	void *p = NULL;

	if (a)
		return uk_memalign(a, align, n);
	return posix_memalign(&p, align, n) ? NULL : p;
}

/* --- Blocks that can be verified ------------------------------------------------
 * Every block is >= 16 bytes: word 0 its size, word 1 a tag (owner << 32 |
 * sequence), then bytes derived from the tag. */

struct tagged {
	size_t size;     /* bytes the block was filled for */
	uint64_t tag;    /* owner thread << 32 | sequence */
};

static inline uint8_t fill_byte(uint64_t tag, size_t i)
{
	return (uint8_t)(tag * 131 + i * 7);
}

static void block_fill(void *p, size_t size, uint64_t tag)
{
	struct tagged *t = p;
	uint8_t *b = p;

	t->size = size;
	t->tag = tag;
	for (size_t i = sizeof(*t); i < size; i++)
		b[i] = fill_byte(tag, i);
}

/* 0 if the block's bytes below limit (and below its size) are intact. */
static int block_verify_upto(const void *p, size_t limit)
{
	const struct tagged *t = p;
	const uint8_t *b = p;
	size_t end = t->size < limit ? t->size : limit;

	for (size_t i = sizeof(*t); i < end; i++)
		if (b[i] != fill_byte(t->tag, i))
			return -1;
	return 0;
}

static int block_verify(const void *p) { return block_verify_upto(p, SIZE_MAX); }

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mostly small, some medium, a few large (up to 256 KiB). */
static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd_next(s);

	switch (r % 64) {
	case 0:
		return 16384 + (r >> 8) % (256 * 1024 - 16384);
	case 1 ... 6:
		return 1024 + (r >> 8) % 15360;
	default:
		return 16 + (r >> 8) % 496;
	}
}

/* --- The mailbox: blocks handed between threads ---------------------------------- */

#define MAILBOX_SLOTS 128
static void *mailbox[MAILBOX_SLOTS];

static int mailbox_put(void *p, unsigned from)
{
	for (unsigned i = 0; i < MAILBOX_SLOTS; i++) {
		void *none = NULL;

		if (__atomic_compare_exchange_n(&mailbox[(from + i) % MAILBOX_SLOTS], &none, p,
						false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return 0;
	}
	return -1;
}

static void *mailbox_take(unsigned from)
{
	for (unsigned i = 0; i < MAILBOX_SLOTS; i++) {
		void *p = __atomic_exchange_n(&mailbox[(from + i) % MAILBOX_SLOTS], NULL,
					      __ATOMIC_ACQ_REL);
		if (p)
			return p;
	}
	return NULL;
}

/* --- Workers ------------------------------------------------------------------- */

#define LOCAL_SLOTS 64

struct worker {
	unsigned id;                 /* 1.. */
	struct uk_alloc *a;          /* NULL: libc malloc */
	unsigned ops;                /* operations to do */
	unsigned long xfrees;        /* blocks of other threads it freed */
	unsigned long allocs;        /* blocks it allocated */
	unsigned long bad;           /* corrupted blocks */
	unsigned long nomem;         /* allocations answered with NULL */
	volatile int done;           /* set when finished */
};

static void *worker_alloc(struct worker *w, uint64_t *rnd, uint64_t tag)
{
	size_t size = rnd_size(rnd);
	void *p;

	switch (rnd_next(rnd) % 8) {
	case 0:
		p = m_calloc(w->a, 1, size);
		if (p && ((uint8_t *)p)[size - 1] != 0)
			w->bad++;
		break;
	case 1:
		p = m_memalign(w->a, (size_t)64 << (rnd_next(rnd) % 7), size);
		break;
	default:
		p = m_malloc(w->a, size);
		break;
	}
	if (!p) {
		w->nomem++;
		return NULL;
	}
	w->allocs++;
	block_fill(p, size, tag);
	return p;
}

static void worker_release(struct worker *w, void *p)
{
	const struct tagged *t = p;

	if (block_verify(p))
		w->bad++;
	if ((unsigned)(t->tag >> 32) != w->id)
		w->xfrees++;
	m_free(w->a, p);
}

static void worker_run(struct worker *w)
{
	void *local[LOCAL_SLOTS] = { 0 };
	uint64_t rnd = 0x9e3779b97f4a7c15ull * w->id + 1;

	for (unsigned i = 0; i < w->ops; i++) {
		unsigned slot = (unsigned)(rnd_next(&rnd) % LOCAL_SLOTS);
		void *p = local[slot];

		if (!p) {
			local[slot] = worker_alloc(w, &rnd, (uint64_t)w->id << 32 | i);
		} else if (rnd_next(&rnd) % 4 == 0) {
			/* Grow or shrink it in place or by a move; the contents stay. */
			size_t keep = ((struct tagged *)p)->size;
			size_t size = rnd_size(&rnd);
			void *q;

			if (block_verify(p))
				w->bad++;
			q = m_realloc(w->a, p, size);
			if (!q) {
				w->nomem++;   /* p is untouched and stays in its slot */
			} else {
				if (block_verify_upto(q, keep < size ? keep : size))
					w->bad++;
				block_fill(q, size, ((struct tagged *)q)->tag);
				local[slot] = q;
			}
		} else if (mailbox_put(p, w->id * 7 + i) == 0) {
			local[slot] = NULL;
		} else {
			worker_release(w, p);
			local[slot] = NULL;
		}
		if (i % 3 == 0 && (p = mailbox_take(w->id * 13 + i)))
			worker_release(w, p);
		if (i % 16 == 0)
			uk_sched_yield();
	}
	for (unsigned s = 0; s < LOCAL_SLOTS; s++)
		if (local[s])
			worker_release(w, local[s]);
}

/* --- Threads: pthreads with musl, uksched threads with nolibc -------------------- */

#if CONFIG_LIBMUSL
static void *worker_entry(void *arg)
{
	struct worker *w = arg;

	worker_run(w);
	w->done = 1;
	return NULL;
}

/* Run n workers to completion; 0, or -1 if a thread could not start. */
static int workers_run(struct worker *ws, unsigned n)
{
	pthread_t tids[64];
	int rc = 0;
	unsigned started = 0;

	for (; started < n; started++)
		if (pthread_create(&tids[started], NULL, worker_entry, &ws[started]) != 0) {
			rc = -1;
			break;
		}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	return rc;
}
#define THREAD_KIND "pthreads (musl)"
#else
static __attribute__((noreturn)) void worker_entry(void *arg)
{
	struct worker *w = arg;

	worker_run(w);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	uk_sched_thread_exit();
}

static int workers_run(struct worker *ws, unsigned n)
{
	struct uk_sched *s = uk_sched_current();
	int rc = 0;
	unsigned started = 0;

	for (; started < n; started++)
		if (!uk_sched_thread_create(s, worker_entry, &ws[started], "hk-worker")) {
			rc = -1;
			break;
		}
	for (unsigned i = 0; i < started; i++)
		while (!__atomic_load_n(&ws[i].done, __ATOMIC_ACQUIRE))
			uk_sched_yield();
	return rc;
}
#define THREAD_KIND "uksched threads (nolibc)"
#endif

/*
 * Block for a millisecond: the idle thread runs and releases exited
 * threads (their stacks and TLS go back to the allocator).
 */
static void settle(void)
{
	uk_sched_thread_sleep(1000000);
}

/*
 * n workers of ops operations each on a (NULL: libc malloc); 0 when no
 * block was corrupted and, unless nomem_ok, no allocation failed.
 */
static int run_workers(struct uk_alloc *a, unsigned n, unsigned ops, int quiet, int nomem_ok)
{
	static struct worker ws[64];
	unsigned long allocs = 0, xfrees = 0, bad = 0, nomem = 0;
	void *p;

	memset(ws, 0, sizeof(ws));
	for (unsigned i = 0; i < n; i++)
		ws[i] = (struct worker){ .id = i + 1, .a = a, .ops = ops };
	if (workers_run(ws, n)) {
		printf("  could not start %u threads\n", n);
		return -1;
	}
	/* What is left in the mailbox is freed here: cross-thread too. */
	while ((p = mailbox_take(0))) {
		struct worker drain = { .id = 0, .a = a };

		worker_release(&drain, p);
		xfrees += drain.xfrees;
		bad += drain.bad;
	}
	for (unsigned i = 0; i < n; i++) {
		allocs += ws[i].allocs;
		xfrees += ws[i].xfrees;
		bad += ws[i].bad;
		nomem += ws[i].nomem;
	}
	settle();
	if (!quiet || bad || (nomem && !nomem_ok))
		printf("  %u threads x %u ops: %lu blocks, %lu freed by another thread, %lu corrupted, %lu ENOMEM\n",
		       n, ops, allocs, xfrees, bad, nomem);
	return bad || (nomem && !nomem_ok) ? -1 : 0;
}

/* --- Phases ------------------------------------------------------------------- */

static const char *where(struct uk_alloc *a, const void *p)
{
	static const char *names[] = { "boot region", "region 1 (addmem)", "region 2 (addmem)",
				       "region 3 (addmem)", "region 4 (addmem)", "region 5 (addmem)",
				       "region 6 (addmem)", "region 7 (addmem)" };
	int r = uk_heapkit_region_of(a, p);

	return r >= 0 && r < UK_HEAPKIT_NR_REGIONS ? names[r] : "outside the heap";
}

/*
 * heapkit.alloc=ukbuddy: Unikraft's own binary buddy is the boot allocator
 * (to compare): the checks that need a heapkit instance behind it (where a
 * block lies, the heap check, heapkit's byte count) are skipped; every
 * uk_alloc, thread and leak check still runs.
 */
static int boot_is_ukbuddy(void)
{
	const char *n = uk_heapkit_boot_name();

	return n && !strcmp(n, "ukbuddy");
}

static void phase_boot(struct uk_alloc *a)
{
	struct uk_thread *t = uk_thread_current();
	hk_alloc_t *hk = uk_heapkit_instance(a);

	if (boot_is_ukbuddy()) {
		printf("[1] boot allocator: Unikraft's binary buddy (heapkit.alloc=ukbuddy): "
		       "heapkit's own checks skipped\n");
		CHECK(hk == NULL);
		return;
	}
	printf("[1] boot allocator: heapkit %s (%s)\n", hk ? hk_name(hk) : "-",
	       hk ? "ok" : "NOT heapkit");
	CHECK(hk != NULL);
	if (!hk || !t)
		return;
	printf("  uk_alloc struct %p: %s\n", (void *)a, where(a, a));
	printf("  thread \"%s\" struct %p: %s\n", t->name ? t->name : "?", (void *)t, where(a, t));
	printf("  its TLS %p: %s\n", (void *)t->uktlsp, where(a, (void *)t->uktlsp));
	printf("  its stack %p: %s\n", t->_mem.stack, t->_mem.stack ? where(a, t->_mem.stack) : "boot stack");
	printf("  scheduler %p: %s\n", (void *)t->sched, where(a, t->sched));
	/* The running context's TLS was allocated before TLS existed. */
	CHECK(uk_heapkit_region_of(a, (void *)t->uktlsp) >= 0);
	CHECK(uk_heapkit_region_of(a, t->sched) >= 0);
	printf("  availmem %ld KiB, maxalloc %ld KiB, pavailmem %ld pages\n",
	       (long)(uk_alloc_availmem(a) >> 10), (long)(uk_alloc_maxalloc(a) >> 10),
	       uk_alloc_pavailmem(a));
}

static void phase_api(struct uk_alloc *a)
{
	void *p, *q;
	char *c;

	printf("[2] uk_alloc operations\n");
	p = uk_malloc(a, 100);
	CHECK(p && ((uintptr_t)p & 15) == 0);
	memset(p, 0xab, 100);
	q = uk_realloc(a, p, 10000);
	CHECK(q && ((unsigned char *)q)[99] == 0xab);
	uk_free(a, q);
	c = uk_calloc(a, 1000, 3);
	CHECK(c && c[0] == 0 && c[2999] == 0);
	uk_free(a, c);
	for (size_t align = 8; align <= 65536; align <<= 1) {
		p = NULL;
		CHECK(uk_posix_memalign(a, &p, align, 24) == 0 && p && ((uintptr_t)p & (align - 1)) == 0);
		uk_free(a, p);
		p = uk_memalign(a, align, 3000);
		CHECK(p && ((uintptr_t)p & (align - 1)) == 0);
		uk_free(a, p);
	}
	p = NULL;
	CHECK(uk_posix_memalign(a, &p, 24, 8) == EINVAL);
	p = uk_palloc(a, 5);
	CHECK(p && ((uintptr_t)p & 4095) == 0);
	if (p)
		memset(p, 1, 5 * 4096);
	uk_pfree(a, p, 5);
	errno = 0;
	p = uk_malloc(a, (size_t)1 << 62);
	CHECK(p == NULL && errno == ENOMEM);
	uk_free(a, NULL);
	CHECK(uk_alloc_maxalloc(a) > 0);
	CHECK(uk_alloc_pmaxalloc(a) >= 0);
	CHECK(uk_alloc_availmem(a) > 0);
	/* libc's malloc goes to the same allocator. */
	p = malloc(48);
	CHECK(p != NULL && (boot_is_ukbuddy() || uk_heapkit_region_of(a, p) >= 0));
	free(p);
}

static void phase_threads(void)
{
	printf("[3] %s on the boot allocator, through libc malloc\n", THREAD_KIND);
	CHECK(run_workers(NULL, nr_threads, nr_ops, 0, 0) == 0);
}

static void phase_churn(void)
{
	unsigned rounds = (nr_churn + nr_threads - 1) / nr_threads, bad = 0;

	printf("[4] thread churn: %u threads in %u rounds\n", rounds * nr_threads, rounds);
	for (unsigned r = 0; r < rounds; r++)
		if (run_workers(NULL, nr_threads, 64, 1, 0))
			bad++;
	printf("  rounds with errors: %u\n", bad);
	CHECK(bad == 0);
}

#define POOL_SIZE (2u << 20)
static char pools[4][POOL_SIZE] __attribute__((aligned(1 << 20)));

static void phase_private(void)
{
	unsigned used = 0;

	printf("[5] private instances (uk_heapkit_create), %u threads each\n", nr_threads);
	for (size_t i = 0; i < hk_backend_count() && used < 4; i++) {
		const struct hk_backend *b = hk_backend_at(i);
		struct uk_alloc *pa;
		__ssz before, after;
		unsigned exact;

		if (!(b->caps & HK_CAP_FREE))
			continue;
		if (b->min_region > POOL_SIZE) {
			/* mimalloc: whole segments, and one instance per image (the boot allocator's). */
			printf("  %s: skipped (needs at least %zu KiB)\n", b->name, b->min_region >> 10);
			continue;
		}
		pa = uk_heapkit_create(b->name, pools[used++], POOL_SIZE);
		CHECK(pa != NULL);
		if (!pa)
			continue;
		before = uk_alloc_availmem(pa);
		printf("  %s (%u KiB pool, ENOMEM allowed):\n", b->name, POOL_SIZE >> 10);
		CHECK(run_workers(pa, nr_threads, nr_ops / 2, 0, 1) == 0);
		after = uk_alloc_availmem(pa);
		/* The instance's caps: a checked wrapper (LIBHEAPKIT_CHECKED) holds freed blocks back. */
		exact = hk_caps(uk_heapkit_instance(pa)) & HK_CAP_EXACT_AVAIL;
		printf("  %s: availmem %ld -> %ld bytes%s\n", b->name, (long)before, (long)after,
		       exact ? " (must match)" : "");
		if (exact)
			CHECK(before == after);
		CHECK(uk_heapkit_check(pa) == 0);
	}
}

static void phase_report(struct uk_alloc *a)
{
	struct hk_stats st;

	printf("[6] heap check and statistics of the boot allocator\n");
	CHECK(boot_is_ukbuddy() || uk_heapkit_check(a) == 0);
	if (uk_heapkit_stats(a, &st) == 0)
		printf("  heapkit: %llu allocs, %llu frees, %llu failed, %zu KiB in use (peak %zu KiB), %zu KiB managed\n",
		       (unsigned long long)st.nr_allocs, (unsigned long long)st.nr_frees,
		       (unsigned long long)st.nr_failed, st.bytes_in_use >> 10, st.peak_bytes >> 10,
		       st.bytes_managed >> 10);
#if CONFIG_LIBUKALLOC_IFSTATS
	{
		struct uk_alloc_stats us;

		uk_alloc_stats_get(a, &us);
		printf("  ukalloc: %llu allocs, %llu frees, %lld live (max %lld), %lld KiB in use (max %lld KiB), %llu ENOMEM\n",
		       (unsigned long long)us.tot_nb_allocs, (unsigned long long)us.tot_nb_frees,
		       (long long)us.cur_nb_allocs, (long long)us.max_nb_allocs,
		       (long long)(us.cur_mem_use >> 10), (long long)(us.max_mem_use >> 10),
		       (unsigned long long)us.nb_enomem);
		CHECK(us.tot_nb_allocs > 0 && us.nb_enomem >= 1);
	}
#endif
	printf("  availmem %ld KiB, maxalloc %ld KiB\n", (long)(uk_alloc_availmem(a) >> 10),
	       (long)(uk_alloc_maxalloc(a) >> 10));
}

/* Live blocks and bytes of the boot allocator (ukalloc's view when it counts). */
struct usage {
	long long live;      /* allocations not yet freed; -1 without LIBUKALLOC_IFSTATS */
	size_t raw;          /* heapkit's bytes_in_use as it stands */
	size_t bytes;        /* heapkit's bytes_in_use after availmem's reclaim */
};

/*
 * shard (like mimalloc) defers a free from another thread: the block goes on
 * its page's cross-thread list and still counts in bytes_in_use until the
 * page's owner collects it, or, for an exited thread's abandoned segment,
 * until someone reclaims it. availmem does that collection (for the calling
 * thread's heap and every abandoned segment) first, so bytes_in_use read
 * after it counts live blocks only; "raw" is the figure before it.
 */
static struct usage usage_now(struct uk_alloc *a)
{
	struct usage u = { -1, 0, 0 };
	struct hk_stats st;

#if CONFIG_LIBUKALLOC_IFSTATS
	struct uk_alloc_stats us;

	uk_alloc_stats_get(a, &us);
	u.live = us.cur_nb_allocs;
#endif
	if (uk_heapkit_stats(a, &st) == 0)
		u.raw = st.bytes_in_use;
	(void)uk_alloc_availmem(a);
	if (uk_heapkit_stats(a, &st) == 0)
		u.bytes = st.bytes_in_use;
	return u;
}

/* Everything the threads phases allocated, stacks and TLS included, is back: blocks and bytes. */
static void check_no_leak(struct uk_alloc *a, struct usage before)
{
	struct usage after = usage_now(a);

	printf("  boot allocator before/after the thread phases: %lld/%lld live blocks, %zu/%zu bytes in use "
	       "(%zu/%zu before collecting deferred cross-thread frees)\n",
	       before.live, after.live, before.bytes, after.bytes, before.raw, after.raw);
	CHECK(after.live == before.live);
	CHECK(after.bytes == before.bytes);
}

int main(int argc, char *argv[])
{
	struct usage before;
	struct uk_alloc *a = uk_alloc_get_default();

	parse_args(argc, argv);
	printf("heapkit-app-test: %s, paging %s, %s\n", LIBC_NAME, PAGING_NAME, THREAD_KIND);
	phase_boot(a);
	phase_api(a);
	settle();
	before = usage_now(a);
	phase_threads();
	phase_churn();
	check_no_leak(a, before);
	phase_private();
	phase_report(a);
	if (failures)
		printf("heapkit-app-test: FAIL (%u)\n", failures);
	else
		printf("heapkit-app-test: PASS\n");
	return failures ? 1 : 0;
}
