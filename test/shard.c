// SPDX-License-Identifier: MIT
/*
 * The shard backend's own tests: the unikernel situations it must handle.
 *
 *   test-shard NAME     one of the tests below (ctest runs each as shard-NAME)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <heapkit.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "shard/shard.h"   /* (shard_block_starts, the size classes) */

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* --- Helpers ---------------------------------------------------------------- */



/* A shard instance over a fresh region of len bytes (*mem), or NULL (a failed check). */
static hk_alloc_t *shard_open(size_t len, char **mem)
{
	*mem = region_get(len);
	hk_alloc_t *a = hk_shard_create(*mem, len);
	CHECK(a != NULL);
	return a;
}

static void stamp(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static bool stamp_ok(const void *p, size_t n, uint32_t seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

static bool inside(const void *p, const void *base, size_t len)
{
	return (const char *)p >= (const char *)base && (const char *)p < (const char *)base + len;
}

static void check_heap(hk_alloc_t *a)
{
	struct hk_check_report r = { 0 };
	int rc = hk_check(a, &r);
	CHECKF(rc == 0, "heap check: %s at %p", r.what, r.addr);
}

/* --- A 64 KiB start grown past 256 MiB ---------------------------------------- */

static void test_tiny_grow(void)
{
	size_t first = 64 * KiB, chunk = 8 * MiB, nchunks = 16;   /* + 128 MiB, + 160 MiB in one */
	size_t big_len = 160 * MiB;
	char *mem = region_get(first);
	hk_alloc_t *a = hk_shard_create(mem, first);
	CHECK(a != NULL);
	if (!a)
		return;
	/* Works at 64 KiB already: boot-time blocks of a few sizes. */
	void *small[64];
	int nsmall = 0;
	CHECK(hk_malloc(a, 1 * MiB) == NULL);
	for (; nsmall < 64; nsmall++) {
		small[nsmall] = hk_malloc(a, 24 + (size_t)(nsmall % 6) * 40);
		if (!small[nsmall])
			break;
		stamp(small[nsmall], 24, (uint32_t)nsmall);
	}
	CHECKF(nsmall == 64, "only %d small blocks on a 64 KiB region", nsmall);
	char *more = region_get(chunk * nchunks);
	for (size_t i = 0; i < nchunks; i++)
		CHECK(hk_addmem(a, more + i * chunk, chunk) == 0);
	char *bigmem = region_get(big_len);
	CHECK(hk_addmem(a, bigmem, big_len) == 0);
	size_t avail = hk_availmem(a);
	CHECKF(avail > 256 * MiB, "availmem %zu after growing", avail);
	/* Use the grown instance across the size range, huge blocks included. */
	enum { N = 3000 };
	static void *p[N];
	static size_t sz[N];
	uint64_t s = 42;
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		uint64_t r = rnd_next(&s);
		sz[i] = i % 100 == 0 ? 2 * MiB + (r % MiB) : i % 10 == 0 ? 1 + r % (256 * KiB) : 1 + r % 2000;
		p[i] = hk_malloc(a, sz[i]);
		CHECKF(p[i] != NULL, "block %d of %zu bytes", i, sz[i]);
		if (!p[i])
			continue;
		CHECK(inside(p[i], mem, first) || inside(p[i], more, chunk * nchunks) || inside(p[i], bigmem, big_len));
		stamp(p[i], sz[i] < 512 ? sz[i] : 512, (uint32_t)i);
		total += sz[i];
	}
	void *big = hk_malloc(a, 64 * MiB);
	CHECK(big != NULL);
	check_heap(a);
	for (int i = 0; i < N; i++)
		if (p[i]) {
			CHECK(stamp_ok(p[i], sz[i] < 512 ? sz[i] : 512, (uint32_t)i));
			hk_free(a, p[i]);
		}
	hk_free(a, big);
	CHECKF(hk_availmem(a) == avail, "availmem %zu after free-all, %zu before", hk_availmem(a), avail);
	for (int i = 0; i < nsmall; i++) {
		CHECK(stamp_ok(small[i], 24, (uint32_t)i));
		hk_free(a, small[i]);
	}
	check_heap(a);
	hk_destroy(a);
	munmap(more, chunk * nchunks);
	munmap(bigmem, big_len);
	munmap(mem, first);
}

/* --- A whole heap of 2 MiB ----------------------------------------------------- */

static void test_whole_2mib(void)
{
	size_t len = 2 * MiB;
	char *mem;
	hk_alloc_t *a = shard_open(len, &mem);
	if (!a)
		return;
	size_t avail0 = hk_availmem(a);
	enum { N = 40000 };
	static void *p[N];
	static size_t sz[N];
	for (int round = 0; round < 3; round++) {
		uint64_t s = 7 + (uint64_t)round;
		size_t asked = 0;
		int n = 0;
		/* Fill it with mixed sizes until it says no. */
		for (int misses = 0; n < N && misses < 50;) {
			uint64_t r = rnd_next(&s);
			sz[n] = r % 8 == 0 ? 1 + r % (16 * KiB) : 1 + r % 300;
			p[n] = hk_malloc(a, sz[n]);
			if (!p[n]) {
				misses++;
				continue;
			}
			CHECK(inside(p[n], mem, len));
			stamp(p[n], sz[n] < 64 ? sz[n] : 64, (uint32_t)n);
			asked += sz[n];
			n++;
		}
		CHECKF(asked > len / 2, "round %d: a 2 MiB heap served only %zu bytes", round, asked);
		check_heap(a);
		for (int i = 0; i < n; i++) {
			CHECK(stamp_ok(p[i], sz[i] < 64 ? sz[i] : 64, (uint32_t)i));
			hk_free(a, p[i]);
		}
		CHECKF(hk_availmem(a) == avail0, "availmem %zu after round %d, was %zu", hk_availmem(a), round, avail0);
		if (round == 0)
			printf("2 MiB heap: %d blocks, %zu bytes asked before it was full\n", n, asked);
	}
	hk_destroy(a);
	munmap(mem, len);
}

/* --- 16 instances, each with its own threads' heaps ------------------------------- */

#define NR_INST 16
#define INST_LEN (8 * MiB)
#define INST_THREADS 4

static hk_alloc_t *inst[NR_INST];
static char *inst_mem[NR_INST];
static void *_Atomic handoff[NR_INST][8];

static void *instances_worker(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	int bad = 0;
	for (int op = 0; op < 20000; op++) {
		int k = (int)(rnd_next(&s) % NR_INST);
		size_t n = 8 + rnd_next(&s) % 700;
		uint8_t *p = hk_malloc(inst[k], n);
		if (!p || !inside(p, inst_mem[k], INST_LEN)) {
			bad++;
			continue;
		}
		p[0] = (uint8_t)k;
		p[n - 1] = (uint8_t)k;
		/* Leave it for another thread, freeing what was there. */
		uint8_t *old = __atomic_exchange_n(&handoff[k][op % 8], p, __ATOMIC_ACQ_REL);
		if (old) {
			if (old[0] != (uint8_t)k)
				bad++;
			hk_free(inst[k], old);
		}
	}
	return (void *)(intptr_t)bad;
}

static void test_instances16(void)
{
	size_t avail0[NR_INST];
	for (int k = 0; k < NR_INST; k++) {
		inst_mem[k] = region_get(INST_LEN);
		inst[k] = hk_shard_create(inst_mem[k], INST_LEN);
		CHECK(inst[k] != NULL);
		if (!inst[k])
			return;
		avail0[k] = hk_availmem(inst[k]);
	}
	pthread_t th[INST_THREADS];
	for (int i = 0; i < INST_THREADS; i++)
		pthread_create(&th[i], NULL, instances_worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < INST_THREADS; i++) {
		void *bad;
		pthread_join(th[i], &bad);
		CHECKF(bad == NULL, "thread %d saw %ld wrong blocks", i, (long)(intptr_t)bad);
	}
	for (int k = 0; k < NR_INST; k++) {
		for (int j = 0; j < 8; j++)
			hk_free(inst[k], handoff[k][j]);
		check_heap(inst[k]);
		CHECKF(hk_availmem(inst[k]) == avail0[k], "instance %d: availmem %zu, was %zu", k,
		       hk_availmem(inst[k]), avail0[k]);
		struct hk_stats st;
		hk_stats_get(inst[k], &st);
		CHECK(st.nr_allocs == st.nr_frees && st.bytes_in_use == 0);
		hk_destroy(inst[k]);
		munmap(inst_mem[k], INST_LEN);
	}
}

/* --- Allocation before any thread exists ------------------------------------------- */

static char early_mem[256 * 1024] __attribute__((aligned(4096)));
static hk_alloc_t *early;
static void *early_block;

/* Runs before main: no thread but the first, nothing set up. */
__attribute__((constructor)) static void allocate_early(void)
{
	early = hk_shard_create(early_mem, sizeof early_mem);
	early_block = early ? hk_malloc(early, 100) : NULL;
	if (early_block)
		memset(early_block, 0x5a, 100);
}

static void *early_thread(void *arg)
{
	/* Another thread frees the first thread's early block and allocates its own. */
	hk_free(early, arg);
	void *q = hk_malloc(early, 100);
	hk_free(early, q);
	return q;
}

static void test_before_threads(void)
{
	CHECK(early != NULL && early_block != NULL);
	if (!early_block)
		return;
	CHECK(inside(early_block, early_mem, sizeof early_mem));
	CHECK(((uint8_t *)early_block)[99] == 0x5a);
	pthread_t t;
	void *q;
	pthread_create(&t, NULL, early_thread, early_block);
	pthread_join(t, &q);
	CHECK(q != NULL);
	check_heap(early);
	hk_destroy(early);
}

/* --- Thread exit with live blocks freed later by others ------------------------------ */

enum { EXIT_N = 5000 };
static void *exit_blocks[EXIT_N];

static void *exit_producer(void *arg)
{
	hk_alloc_t *a = arg;
	for (int i = 0; i < EXIT_N; i++) {
		size_t n = 16 + (size_t)(i % 40) * 50;
		exit_blocks[i] = hk_malloc(a, n);
		if (exit_blocks[i])
			stamp(exit_blocks[i], 16, (uint32_t)i);
	}
	return NULL;   /* exits with every block live */
}

static void *exit_freer(void *arg)
{
	hk_alloc_t *a = arg;
	for (int i = 0; i < EXIT_N; i += 2) {
		CHECK(stamp_ok(exit_blocks[i], 16, (uint32_t)i));
		hk_free(a, exit_blocks[i]);
	}
	return NULL;
}

static void *exit_reuser(void *arg)
{
	/* A new thread's allocations reclaim the dead thread's segments. */
	hk_alloc_t *a = arg;
	void *p[500];
	for (int i = 0; i < 500; i++)
		p[i] = hk_malloc(a, 16 + (size_t)(i % 40) * 50);
	for (int i = 0; i < 500; i++)
		hk_free(a, p[i]);
	return NULL;
}

static void test_thread_exit(void)
{
	size_t len = 32 * MiB;
	char *mem;
	hk_alloc_t *a = shard_open(len, &mem);
	if (!a)
		return;
	size_t avail0 = hk_availmem(a);
	pthread_t t;
	pthread_create(&t, NULL, exit_producer, a);
	pthread_join(t, NULL);
	CHECK(hk_availmem(a) < avail0);
	pthread_create(&t, NULL, exit_freer, a);   /* half, by a thread that exits too */
	pthread_join(t, NULL);
	pthread_create(&t, NULL, exit_reuser, a);
	pthread_join(t, NULL);
	check_heap(a);
	for (int i = 1; i < EXIT_N; i += 2) {      /* the other half, by the main thread */
		CHECK(stamp_ok(exit_blocks[i], 16, (uint32_t)i));
		hk_free(a, exit_blocks[i]);
	}
	CHECKF(hk_availmem(a) == avail0, "availmem %zu after every block came back, was %zu", hk_availmem(a),
	       avail0);
	struct hk_stats st;
	hk_stats_get(a, &st);
	CHECKF(st.nr_allocs == st.nr_frees && st.bytes_in_use == 0, "allocs %llu frees %llu bytes %zu",
	       (unsigned long long)st.nr_allocs, (unsigned long long)st.nr_frees, st.bytes_in_use);
	check_heap(a);
	hk_destroy(a);
	munmap(mem, len);
}

/* --- The peak: live bytes through other threads' frees and a thread's exit ------------------------ */

enum { PEAK_N = 3000, PEAK_SIZE = 256 };
static void *peak_blocks[PEAK_N];
static hk_alloc_t *peak_heap;

static void *peak_free_all(void *arg)
{
	(void)arg;
	for (int i = 0; i < PEAK_N; i++)
		hk_free(peak_heap, peak_blocks[i]);
	return NULL;
}

static void *peak_hold_and_exit(void *arg)
{
	(void)arg;
	for (int i = 0; i < PEAK_N; i++)
		peak_blocks[i] = hk_malloc(peak_heap, 2 * PEAK_SIZE);
	return NULL;   /* exits holding them: its segments are abandoned */
}

/* A new thread has no segment of its own: its first malloc adopts the abandoned ones, live blocks and all. */
static void *peak_adopt(void *arg)
{
	(void)arg;
	void *p = hk_malloc(peak_heap, 2 * PEAK_SIZE);
	check_heap(peak_heap);
	hk_free(peak_heap, p);
	for (int i = 0; i < PEAK_N; i++)
		hk_free(peak_heap, peak_blocks[i]);
	check_heap(peak_heap);
	return NULL;
}

/*
 * The owner's live bytes (hk_check compares them with its pages) follow
 * blocks freed by another thread once collected, and blocks of an exited
 * thread once reclaimed; the peak is the true one, not what a stats call saw.
 */
static void test_peak(void)
{
	size_t len = 32 * MiB;
	char *mem;
	hk_alloc_t *a = peak_heap = shard_open(len, &mem);
	if (!a)
		return;
	struct hk_stats s0, s1;
	hk_stats_get(a, &s0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < PEAK_N; i++)
			peak_blocks[i] = hk_malloc(a, PEAK_SIZE);
		pthread_t t;
		pthread_create(&t, NULL, peak_free_all, NULL);
		pthread_join(t, NULL);
		/* the owner collects them when its pages run out */
		for (int i = 0; i < PEAK_N; i++)
			hk_free(a, hk_malloc(a, PEAK_SIZE));
		check_heap(a);
	}
	hk_stats_get(a, &s1);
	CHECKF(s1.bytes_in_use == s0.bytes_in_use, "bytes in use %zu, %zu at the start", s1.bytes_in_use,
	       s0.bytes_in_use);
	/* (ASan builds hold freed blocks in a quarantine, up to 1 MiB: they count until it lets them go) */
#if defined(HK_ASAN) && HK_ASAN
	size_t held = (size_t)1 << 20;
#else
	size_t held = 0;
#endif
	CHECKF(s1.peak_bytes >= s0.bytes_in_use + (size_t)PEAK_N * PEAK_SIZE &&
	       s1.peak_bytes <= s0.bytes_in_use + (size_t)(PEAK_N + 1) * PEAK_SIZE + held,
	       "peak %zu for %d blocks of %d bytes over %zu", s1.peak_bytes, PEAK_N, PEAK_SIZE, s0.bytes_in_use);
	pthread_t t;
	pthread_create(&t, NULL, peak_hold_and_exit, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, peak_adopt, NULL);
	pthread_join(t, NULL);
	(void)hk_availmem(a);   /* sweeps what is still abandoned: frees there count once collected */
	check_heap(a);
	hk_stats_get(a, &s1);
	CHECK(s1.bytes_in_use == s0.bytes_in_use);
	CHECKF(s1.peak_bytes >= s0.bytes_in_use + (size_t)PEAK_N * 2 * PEAK_SIZE, "peak %zu after a thread held %d",
	       s1.peak_bytes, PEAK_N * 2 * PEAK_SIZE);
	hk_destroy(a);
	munmap(mem, len);
}

/* --- hk_destroy detaches the threads' heaps ------------------------------------------- */

static pthread_barrier_t destroy_bar;
static hk_alloc_t *destroy_x, *destroy_y;

static void *destroy_user(void *arg)
{
	void *p = hk_malloc(destroy_x, 64);   /* this thread's record now caches X's heap */
	hk_free(destroy_x, p);
	p = hk_malloc(destroy_x, 64);
	(void)p;                              /* left live: X goes away with it */
	pthread_barrier_wait(&destroy_bar);   /* main destroys X and unmaps its region */
	pthread_barrier_wait(&destroy_bar);
	void *q = hk_malloc(destroy_y, 64);   /* must not touch X's memory */
	hk_free(destroy_y, q);
	return q;
}

static void test_destroy_detach(void)
{
	size_t len = 4 * MiB;
	char *mx = region_get(len), *my = region_get(len);
	destroy_x = hk_shard_create(mx, len);
	destroy_y = hk_shard_create(my, len);
	CHECK(destroy_x && destroy_y);
	if (!destroy_x || !destroy_y)
		return;
	pthread_barrier_init(&destroy_bar, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, destroy_user, NULL);
	pthread_barrier_wait(&destroy_bar);
	hk_destroy(destroy_x);
	munmap(mx, len);                      /* any later touch of X faults */
	pthread_barrier_wait(&destroy_bar);
	void *q;
	pthread_join(t, &q);
	CHECK(q != NULL && inside(q, my, len));
	check_heap(destroy_y);
	hk_destroy(destroy_y);
	munmap(my, len);
	pthread_barrier_destroy(&destroy_bar);
}

/* --- Size classes: bounded waste ------------------------------------------------------- */

static void test_classes(void)
{
	size_t len = 64 * MiB;
	char *mem;
	hk_alloc_t *a = shard_open(len, &mem);
	if (!a)
		return;
	size_t worst_size = 0;
	double worst = 0;
	for (size_t n = 1; n <= 2 * MiB; n += n < 4096 ? 1 : n < 65536 ? 61 : 4093) {
		void *p = hk_malloc(a, n);
		CHECKF(p != NULL && (uintptr_t)p % HK_BLOCK_ALIGN(n) == 0, "%p for %zu bytes", p, n);
		if (!p)
			continue;
		size_t u = hk_usable_size(a, p);
		CHECK(u >= n);
		CHECKF(n > 8 || u == 8, "usable %zu for %zu bytes: the 8-byte class", u, n);
		if (n > 128) {
			double w = (double)(u - n) / (double)n;
			if (w > worst) {
				worst = w;
				worst_size = n;
			}
		} else {
			CHECK(u - n < 16);
		}
		hk_free(a, p);
	}
	/* Sizes served from size classes (huge blocks are the page source's pow2). */
	CHECKF(worst < 0.125, "waste %.3f at %zu bytes", worst, worst_size);
	printf("classes: worst waste %.2f%% at %zu bytes\n", worst * 100, worst_size);
	hk_destroy(a);
	munmap(mem, len);
}

/* --- The block-start test: a multiplication for a division ------------------------------------ */

/*
 * shard_block_starts (the free fast path's boundary test, HK_HARDEN >= 1)
 * against a division, for every size class: offsets at and around every
 * block start of a page's capacity, offsets past it and "negative" offsets
 * (a pointer before the page's first block wraps to 32 bits).
 */
static void test_block_starts(void)
{
	size_t checked = 0;
	for (unsigned bin = 1; bin < SHARD_NR_BINS; bin++) {
		struct shard_page pg = { .block_size = (uint32_t)shard_bin_size(bin) };
		if (pg.block_size > (1u << SHARD_SEG_SHIFT_MAX))
			break;
		pg.block_magic = shard_block_magic(pg.block_size);
		uint32_t bs = pg.block_size, n = (1u << SHARD_SEG_SHIFT_MAX) / bs;
		for (uint32_t k = 0; k <= n + 1; k++) {
			static const int32_t around[] = { -8, -1, 0, 1, 8, 16 };
			for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
				uint32_t x = k * bs + (uint32_t)around[i];
				for (uint32_t cap = n / 2; cap <= n; cap += n - n / 2) {
					bool want = x % bs == 0 && x / bs < cap;
					CHECKF(shard_block_starts(&pg, x, cap) == want, "block %u B, offset %u, %u carved", bs, x, cap);
					checked++;
				}
			}
		}
		for (uint32_t back = 1; back <= 1u << 16; back <<= 1)
			CHECKF(!shard_block_starts(&pg, 0u - back, n), "block %u B, offset -%u", bs, back);
	}
	printf("block-starts: %zu offsets agree with the division\n", checked);
}

/* --- Aligned allocation --------------------------------------------------------------- */

static void test_aligned(void)
{
	size_t len = 64 * MiB;
	char *mem;
	hk_alloc_t *a = shard_open(len, &mem);
	if (!a)
		return;
	size_t avail0 = hk_availmem(a);
	for (size_t align = 8; align <= 8 * MiB; align <<= 1)
		for (size_t n = 1; n <= 3 * align && n <= 5 * MiB; n = n * 3 + 1) {
			void *p = hk_memalign(a, align, n);
			CHECKF(p && (uintptr_t)p % align == 0, "memalign(%zu, %zu) = %p", align, n, p);
			if (!p)
				continue;
			CHECK(hk_usable_size(a, p) >= n);
			stamp(p, n, (uint32_t)align);
			CHECK(stamp_ok(p, n, (uint32_t)align));
			hk_free(a, p);
		}
	CHECK(hk_availmem(a) == avail0);
	/* Small aligned requests share pages: 2000 of them fit a 2 MiB heap. */
	size_t small_len = 2 * MiB;
	char *smem = region_get(small_len);
	hk_alloc_t *s = hk_shard_create(smem, small_len);
	enum { M = 2000 };
	static void *q[M];
	int got = 0;
	for (; got < M; got++) {
		q[got] = hk_memalign(s, 64 << (got % 4), 100);
		if (!q[got] || (uintptr_t)q[got] % (64u << (got % 4)))
			break;
	}
	CHECKF(got == M, "only %d small aligned blocks in 2 MiB", got);
	for (int i = 0; i < got; i++)
		hk_free(s, q[i]);
	check_heap(s);
	hk_destroy(s);
	hk_destroy(a);
	munmap(smem, small_len);
	munmap(mem, len);
}

/* --- Many threads migrating blocks (the TSan target) ------------------------------------ */

#define MIG_THREADS 4
#define MIG_SLOTS 256
static hk_alloc_t *mig;
static void *_Atomic mig_slots[MIG_SLOTS];

static void *migrate_worker(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg;
	int bad = 0;
	for (int op = 0; op < 30000; op++) {
		uint64_t r = rnd_next(&s);
		size_t n = r % 16 == 0 ? 1 + r % (200 * KiB) : 1 + r % 1024;
		uint32_t *p = hk_malloc(mig, n < 8 ? 8 : n);
		if (!p) {
			bad++;
			continue;
		}
		p[0] = (uint32_t)n;
		p[1] = (uint32_t)(n * 2654435761u);
		uint32_t *old = __atomic_exchange_n(&mig_slots[r % MIG_SLOTS], p, __ATOMIC_ACQ_REL);
		if (old) {
			if (old[1] != (uint32_t)(old[0] * 2654435761u))
				bad++;
			hk_free(mig, old);
		}
	}
	return (void *)(intptr_t)bad;
}

static void test_threads_migrate(void)
{
	size_t len = 128 * MiB;
	char *mem = region_get(len);
	mig = hk_shard_create(mem, len);
	CHECK(mig != NULL);
	if (!mig)
		return;
	size_t avail0 = hk_availmem(mig);
	/* Three generations of threads: later ones reclaim what earlier ones left. */
	for (int gen = 0; gen < 3; gen++) {
		pthread_t th[MIG_THREADS];
		for (int i = 0; i < MIG_THREADS; i++)
			pthread_create(&th[i], NULL, migrate_worker, (void *)(uintptr_t)(gen * 100 + i + 1));
		for (int i = 0; i < MIG_THREADS; i++) {
			void *bad;
			pthread_join(th[i], &bad);
			CHECKF(bad == NULL, "generation %d thread %d: %ld bad blocks", gen, i, (long)(intptr_t)bad);
		}
	}
	check_heap(mig);
	for (int i = 0; i < MIG_SLOTS; i++)
		hk_free(mig, mig_slots[i]);
	CHECKF(hk_availmem(mig) == avail0, "availmem %zu, was %zu", hk_availmem(mig), avail0);
	check_heap(mig);
	hk_destroy(mig);
	munmap(mem, len);
}

/* --- Driver ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(void);
} tests[] = {
	{ "tiny-grow", test_tiny_grow },         { "whole-2mib", test_whole_2mib },
	{ "instances16", test_instances16 },     { "before-threads", test_before_threads },
	{ "thread-exit", test_thread_exit },     { "destroy-detach", test_destroy_detach },
	{ "classes", test_classes },             { "block-starts", test_block_starts }, { "aligned", test_aligned },
	{ "threads-migrate", test_threads_migrate }, { "peak", test_peak },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int ran = 0;
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (argc < 2 || !strcmp(argv[1], tests[i].name)) {
			check_context = tests[i].name;
			tests[i].run();
			ran++;
		}
	if (!ran) {
		fprintf(stderr, "test-shard: no test called '%s'\n", argv[1]);
		return 2;
	}
	return check_summary("shard");
}
