// SPDX-License-Identifier: MIT
/*
 * tlsf's own tests: what the conformance suite cannot know about a backend.
 *
 *   test_tlsf NAME    run one test (ctest runs each as tlsf-NAME)
 *   test_tlsf         run them all
 *
 * The tests read the block layout (tlsf_internal.h) to check the heap
 * independently of the instance's own heap check, and to corrupt it on
 * purpose.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"
#include "tlsf/tlsf_internal.h"


/* --- Fixtures ------------------------------------------------------------ */


/*
 * The backend's operations, called as api.c calls them. In checker builds
 * (HK_ASAN) the public calls hold freed blocks in a quarantine and realloc
 * always moves; the tests that look at where blocks lie call these instead.
 */
static void *op_malloc(hk_alloc_t *a, size_t n) { return a->ops->malloc(a, n); }
static void *op_realloc(hk_alloc_t *a, void *p, size_t n) { return a->ops->realloc(a, p, n); }
static void *op_memalign(hk_alloc_t *a, size_t align, size_t n) { return a->ops->memalign(a, align, n); }
static void *op_palloc(hk_alloc_t *a, size_t npages) { return a->ops->palloc(a, npages); }
static void op_pfree(hk_alloc_t *a, void *p, size_t npages) { a->ops->pfree(a, p, npages); }
static void op_free(hk_alloc_t *a, void *p)
{
	if (p)
		a->ops->free(a, p);
}

/*
 * Walk every area by hand (not through hk_check): no two free neighbours,
 * tags agreeing; returns the number of free blocks, or -1 after a failure.
 */
static long walk_free_blocks(hk_alloc_t *a)
{
	struct tlsf_control *c = to_control(a);
	long nr_free = 0;
	for (struct tlsf_area *ar = c->areas; ar; ar = ar->next) {
		bool prev_free = false;
		for (struct tlsf_block *b = ar->first; b != ar->sentinel; b = block_next(b)) {
			if (block_span(b) < BLOCK_SPAN_MIN || block_is_prev_free(b) != prev_free) {
				CHECKF(0, "bad tags at %p", (void *)b);
				return -1;
			}
			if (block_is_free(b) && prev_free) {
				CHECKF(0, "two adjacent free blocks at %p", (void *)b);
				return -1;
			}
			prev_free = block_is_free(b);
			nr_free += prev_free;
		}
	}
	return nr_free;
}

/* A tlsf instance over len fresh bytes, and what it had free at the start. */
struct fixture {
	void *mem;
	size_t len;
	hk_alloc_t *a;
	size_t avail0;
};

static struct fixture fixture_open(size_t len)
{
	struct fixture f = { .mem = region_get(len), .len = len };
	f.a = hk_tlsf_create(f.mem, len);
	if (!f.a) {
		fprintf(stderr, "FAIL: hk_tlsf_create over %zu bytes\n", len);
		exit(1);
	}
	f.avail0 = hk_availmem(f.a);
	return f;
}

/* Everything was freed: all the memory is free again, as one block, the heap consistent; the region goes. */
static void fixture_close_empty(struct fixture *f, const char *when)
{
	CHECKF(hk_availmem(f->a) == f->avail0, "availmem %zu %s, was %zu", hk_availmem(f->a), when, f->avail0);
	CHECK(walk_free_blocks(f->a) == 1);
	kit_heap_ok(f->a, when);
	munmap(f->mem, f->len);
}

/* --- realloc in place ------------------------------------------------------ */

static void test_realloc_inplace(void)
{
	struct fixture f = fixture_open(1 * MiB);
	hk_alloc_t *a = f.a;
	char *x = op_malloc(a, 1000), *y = op_malloc(a, 3000), *z = op_malloc(a, 100);
	CHECK(x && y && z && y > x && z > y);
	kit_stamp(x, 1000, 1);
	op_free(a, y);
	size_t avail = hk_availmem(a), old_usable = hk_usable_size(a, x);
	/* Grow into the free neighbour: same address, contents kept, neighbour shrunk. */
	char *x2 = op_realloc(a, x, 2500);
	CHECK(x2 == x);
	CHECK(kit_stamp_ok(x2, 1000, 1));
	CHECK(hk_usable_size(a, x2) >= 2500 && hk_usable_size(a, x2) < 2500 + ALIGN_SIZE);
	CHECKF(avail - hk_availmem(a) == hk_usable_size(a, x2) - old_usable, "availmem %zu -> %zu", avail,
	       hk_availmem(a));
	/* Exactly up to the next used block: the whole neighbour is absorbed. */
	size_t room = (size_t)(z - x) - WORD;
	CHECK(op_realloc(a, x, room) == x);
	CHECK(hk_usable_size(a, x) == room);
	CHECK(kit_stamp_ok(x, 1000, 1));
	/* One more byte must move. */
	char *moved = op_realloc(a, x, room + 1);
	CHECK(moved && moved != x && kit_stamp_ok(moved, 1000, 1));
	x = moved;
	kit_heap_ok(a, "after growing");
	/* Shrink in place: address kept, tail freed (and merged with a free neighbour). */
	size_t before = hk_availmem(a), u_big = hk_usable_size(a, x);
	CHECK(op_realloc(a, x, 100) == x);
	CHECK(kit_stamp_ok(x, 100, 1));
	CHECK(hk_usable_size(a, x) == 104);
	CHECK(hk_availmem(a) - before == u_big - 104);
	CHECK(walk_free_blocks(a) >= 0);
	/* Shrink by less than a block: nothing changes. */
	size_t u = hk_usable_size(a, x);
	CHECK(op_realloc(a, x, u - 8) == x && hk_usable_size(a, x) == u);
	kit_heap_ok(a, "after shrinking");
	op_free(a, x);
	op_free(a, z);
	fixture_close_empty(&f, "at the end");
}

/* --- One word of overhead per used block ------------------------------------ */

static void test_overhead(void)
{
	struct fixture f = fixture_open(4 * MiB);
	hk_alloc_t *a = f.a;
	size_t avail0 = f.avail0;
	struct hk_stats st;
	/* Each block costs its usable size plus one word of availmem, no more. */
	enum { N = 600 };
	void *p[N];
	size_t sum_cost = 0, sum_usable = 0;
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)i * 37 % 3000;
		size_t before = hk_availmem(a);
		p[i] = op_malloc(a, n);
		size_t u = hk_usable_size(a, p[i]);
		CHECKF(u >= n && u < (n + WORD < BLOCK_SPAN_MIN ? BLOCK_SPAN_MIN : n + WORD + ALIGN_SIZE),
		       "usable %zu for %zu", u, n);
		CHECKF(before - hk_availmem(a) == u + WORD, "malloc(%zu) cost %zu of availmem for %zu usable", n,
		       before - hk_availmem(a), u);
		/* Neighbouring blocks: payloads exactly usable + one word apart. */
		if (i)
			CHECK((char *)p[i] - (char *)p[i - 1] == (ptrdiff_t)(hk_usable_size(a, p[i - 1]) + WORD));
		sum_cost += u + WORD;
		sum_usable += u;
	}
	CHECK(avail0 - hk_availmem(a) == sum_cost);
	hk_stats_get(a, &st);
	CHECK(st.bytes_in_use == sum_usable);
	/* The smallest block: 24 usable bytes for a 32-byte span. */
	void *tiny = op_malloc(a, 1);
	CHECK(hk_usable_size(a, tiny) == BLOCK_SPAN_MIN - WORD);
	op_free(a, tiny);
	/* Free every third: availmem rises by usable + WORD per block (no merges yet). */
	for (int i = 0; i < N; i += 3) {
		size_t before = hk_availmem(a), u = hk_usable_size(a, p[i]);
		op_free(a, p[i]);
		CHECK(hk_availmem(a) - before == u + WORD);
	}
	for (int i = 0; i < N; i++)
		if (i % 3)
			op_free(a, p[i]);
	CHECK(hk_availmem(a) == avail0);
	hk_stats_get(a, &st);
	CHECK(st.bytes_in_use == 0);
	/* An aligned block costs the same: its leading gap goes back as a free block. */
	for (size_t align = 32; align <= 1 * MiB; align <<= 1) {
		size_t before = hk_availmem(a);
		void *q = op_memalign(a, align, 100);
		CHECKF(q && (uintptr_t)q % align == 0, "memalign(%zu)", align);
		if (!q)
			continue;
		CHECKF(before - hk_availmem(a) == hk_usable_size(a, q) + WORD, "memalign(%zu, 100) cost %zu", align,
		       before - hk_availmem(a));
		CHECK(hk_usable_size(a, q) < 100 + WORD + ALIGN_SIZE);
		op_free(a, q);
		CHECK(hk_availmem(a) == before);
	}
	fixture_close_empty(&f, "at the end");
}

/* --- Random operations: never two adjacent free blocks ------------------------ */

struct slot {
	void *p;
	size_t n;
	size_t pages;    /* from palloc if non-zero */
	uint32_t seed;
};

static size_t random_size(uint64_t *s)
{
	uint64_t r = rnd_next(s);
	switch (r % 8) {
	case 0: return 1 + (r >> 8) % (32 * KiB);
	case 1: return 1 + (r >> 8) % 2048;
	default: return 1 + (r >> 8) % 200;
	}
}

static void slot_release(hk_alloc_t *a, struct slot *sl)
{
	CHECKF(kit_stamp_ok(sl->p, sl->n, sl->seed), "block %p corrupted", sl->p);
	if (sl->pages)
		hk_pfree(a, sl->p, sl->pages);
	else
		hk_free(a, sl->p);
	sl->p = NULL;
}

static void test_random(void)
{
	struct fixture f = fixture_open(16 * MiB);
	hk_alloc_t *a = f.a;
	enum { SLOTS = 2000, OPS = 60000 };
	static struct slot slots[SLOTS];
	uint64_t s = 42;
	for (int op = 1; op <= OPS; op++) {
		struct slot *sl = &slots[rnd_next(&s) % SLOTS];
		unsigned kind = (unsigned)(rnd_next(&s) % 10);
		if (sl->p && (kind < 6 || sl->pages)) {
			slot_release(a, sl);
		} else if (sl->p) {
			size_t n = random_size(&s);
			void *q = hk_realloc(a, sl->p, n);
			if (q) {
				size_t keep = n < sl->n ? n : sl->n;
				CHECK(kit_stamp_ok(q, keep, sl->seed));
				sl->p = q;
				sl->n = n;
				kit_stamp(q, n, sl->seed);
			}
		} else {
			size_t n = random_size(&s);
			sl->pages = 0;
			if (kind == 8) {
				size_t align = (size_t)1 << (5 + rnd_next(&s) % 9);
				sl->p = hk_memalign(a, align, n);
				CHECK(!sl->p || (uintptr_t)sl->p % align == 0);
			} else if (kind == 9) {
				sl->pages = 1 + rnd_next(&s) % 4;
				n = sl->pages * HK_PAGE_SIZE;
				sl->p = hk_palloc(a, sl->pages);
				CHECK(!sl->p || (uintptr_t)sl->p % HK_PAGE_SIZE == 0);
			} else {
				sl->p = hk_malloc(a, n);
			}
			if (!sl->p)
				continue;
			sl->n = n;
			sl->seed = (uint32_t)rnd_next(&s);
			kit_stamp(sl->p, n, sl->seed);
		}
		if (op % 5000 == 0) {
			hk_availmem(a); /* empties a checker build's quarantine */
			CHECK(walk_free_blocks(a) >= 1);
			kit_heap_ok(a, "during random ops");
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].p)
			slot_release(a, &slots[i]);
	fixture_close_empty(&f, "after free-all");
}

/* --- Fragmentation ---------------------------------------------------------- */

static void test_fragmentation(void)
{
	struct fixture f = fixture_open(8 * MiB);
	hk_alloc_t *a = f.a;
	size_t avail0 = f.avail0, max0 = hk_maxalloc(a);
	/* One area: everything free is one block, and maxalloc promises all of it. */
	CHECK(max0 == avail0 - WORD);
	void *all = op_malloc(a, max0);
	CHECK(all != NULL);
	CHECK(op_malloc(a, 1) == NULL && hk_maxalloc(a) == 0 && hk_availmem(a) == 0);
	op_free(a, all);
	CHECK(op_malloc(a, max0 + 1) == NULL);
	/* A checkerboard: free every other 1000-byte block. Holes do not add up. */
	enum { N = 4000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = op_malloc(a, 1000);
	size_t tail = hk_maxalloc(a);
	for (int i = 0; i < N; i += 2) {
		op_free(a, p[i]);
		p[i] = NULL;
	}
	CHECK(walk_free_blocks(a) == N / 2 + 1);
	CHECK(hk_maxalloc(a) == tail);
	/* ...but a hole is reused at once for a block of its size: not cut from the tail. */
	char *hole = op_malloc(a, 1000);
	CHECK(hole && hole < (char *)p[N - 1]);
	CHECK(hk_maxalloc(a) == tail);
	op_free(a, hole);
	/* Freeing the rest merges everything back into one block. */
	for (int i = 1; i < N; i += 2) {
		op_free(a, p[i]);
		p[i] = NULL;
	}
	CHECK(walk_free_blocks(a) == 1);
	CHECK(hk_maxalloc(a) == max0 && hk_availmem(a) == avail0);
	/* maxalloc is exact after a random mix: it succeeds, one more byte fails. */
	uint64_t s = 7;
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 2000; k++) {
			int i = (int)(rnd_next(&s) % N);
			if (p[i]) {
				op_free(a, p[i]);
				p[i] = NULL;
			} else {
				p[i] = op_malloc(a, random_size(&s));
			}
		}
		size_t m = hk_maxalloc(a);
		CHECKF(m <= hk_availmem(a), "maxalloc %zu > availmem %zu", m, hk_availmem(a));
		if (!m)
			continue;
		CHECK(op_malloc(a, m + 1) == NULL);
		void *big = op_malloc(a, m);
		CHECKF(big != NULL, "malloc(maxalloc = %zu) failed", m);
		op_free(a, big);
	}
	for (int i = 0; i < N; i++)
		op_free(a, p[i]);
	CHECK(hk_maxalloc(a) == max0);
	fixture_close_empty(&f, "at the end");
}

/* --- Many regions via addmem ------------------------------------------------- */

static void test_addmem(void)
{
	/* The smallest region create accepts, and one below it. */
	size_t min = TLSF_MIN_REGION;
	CHECK(hk_backend_find("tlsf")->min_region == min);
	char *small = region_get(min);
	CHECK(hk_tlsf_create(small, sizeof(struct tlsf_control)) == NULL);
	hk_alloc_t *a = hk_tlsf_create(small, min);
	CHECK(a != NULL);
	CHECK(hk_maxalloc(a) > min / 4);
	void *q = op_malloc(a, 8);
	CHECK(q != NULL);
	op_free(a, q);
	munmap(small, min);

	/* A 64 KiB first region, then 200 regions of odd sizes (some tiny). */
	size_t first = 64 * KiB, pool = 8 * MiB;
	char *mem = region_get(first), *more = region_get(pool);
	a = hk_tlsf_create(mem, first);
	CHECK(hk_addmem(a, more, AREA_MIN - 1) == -HK_EINVAL);
	CHECK(hk_addmem(a, mem + 100, 1000) == -HK_EINVAL); /* overlaps the first region */
	size_t off = 0, nr = 0, biggest = 0;
	uint64_t s = 3;
	while (nr < 200) {
		size_t n = nr % 10 == 0 ? AREA_MIN + rnd_next(&s) % 64 : 1 + rnd_next(&s) % (64 * KiB);
		if (n < AREA_MIN)
			n = AREA_MIN;
		if (off + n > pool)
			break;
		size_t before = hk_availmem(a);
		int rc = hk_addmem(a, more + off, n);
		CHECKF(rc == 0, "addmem of %zu bytes: %d", n, rc);
		CHECK(hk_availmem(a) > before && hk_availmem(a) - before <= n);
		if (n > biggest)
			biggest = n;
		off += n; /* regions are adjacent, yet never merge */
		nr++;
	}
	CHECK(hk_addmem(a, more + 8, 4096) == -HK_EINVAL); /* overlaps an added region */
	CHECK(hk_maxalloc(a) < biggest);
	struct hk_stats st;
	hk_stats_get(a, &st);
	CHECK(st.bytes_managed == first + off);
	kit_heap_ok(a, "after addmem");
	size_t avail0 = hk_availmem(a);
	/* Fill everything with small blocks; each lies inside one region. */
	enum { CAP = 200000 };
	static void *blocks[CAP];
	size_t k = 0;
	while (k < CAP && (blocks[k] = op_malloc(a, 40)) != NULL) {
		*(size_t *)blocks[k] = k;
		k++;
	}
	CHECKF(k > off / 80, "only %zu blocks in %zu bytes", k, off);
	/* What is left are pieces smaller than 48 bytes: 24-byte blocks take them all. */
	size_t k40 = k;
	while (k < CAP && (blocks[k] = op_malloc(a, 1)) != NULL) {
		*(size_t *)blocks[k] = k;
		k++;
	}
	CHECK(k - k40 <= nr + 1);
	CHECK(hk_availmem(a) == 0 && hk_maxalloc(a) == 0);
	kit_heap_ok(a, "when full");
	for (size_t i = 0; i < k; i++) {
		CHECK(*(size_t *)blocks[i] == i);
		op_free(a, blocks[i]);
	}
	CHECK(hk_availmem(a) == avail0);
	CHECK(walk_free_blocks(a) == (long)nr + 1);
	kit_heap_ok(a, "after free-all");
	munmap(more, pool);
	munmap(mem, first);
}

/* --- Threads ------------------------------------------------------------------ */

enum { T_THREADS = 4, T_OPS = 30000 };

struct worker {
	hk_alloc_t *a;
	uint64_t seed;
	int failures;
	bool stop;           /* the checker thread runs until this is set */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct slot mine[64] = { { 0 } };
	uint64_t s = w->seed;
	for (int op = 0; op < T_OPS; op++) {
		struct slot *sl = &mine[rnd_next(&s) % 64];
		if (sl->p) {
			if (!kit_stamp_ok(sl->p, sl->n, sl->seed))
				w->failures++;
			if (rnd_next(&s) % 3 == 0) {
				size_t n = 1 + rnd_next(&s) % 2048;
				void *q = hk_realloc(w->a, sl->p, n);
				if (q) {
					size_t keep = n < sl->n ? n : sl->n;
					if (!kit_stamp_ok(q, keep, sl->seed))
						w->failures++;
					sl->p = q;
					sl->n = n;
					kit_stamp(q, n, sl->seed);
				}
				continue;
			}
			hk_free(w->a, sl->p);
			sl->p = NULL;
		} else {
			size_t n = 1 + rnd_next(&s) % 2048;
			sl->p = rnd_next(&s) % 4 ? hk_malloc(w->a, n) : hk_memalign(w->a, 64, n);
			if (!sl->p)
				continue;
			sl->n = n;
			sl->seed = (uint32_t)op;
			kit_stamp(sl->p, n, sl->seed);
		}
	}
	for (int i = 0; i < 64; i++)
		if (mine[i].p)
			hk_free(w->a, mine[i].p);
	return NULL;
}

/* Runs the heap check over and over while the workers allocate. */
static void *checker_run(void *arg)
{
	struct worker *w = arg;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct hk_check_report r;
		if (hk_check(w->a, &r)) {
			fprintf(stderr, "concurrent heap check: %s at %p\n", r.what, r.addr);
			w->failures++;
		}
		usleep(1000);
	}
	return NULL;
}

static void test_threads(void)
{
	struct fixture f = fixture_open(32 * MiB);
	hk_alloc_t *a = f.a;
	pthread_t th[T_THREADS], checker;
	struct worker w[T_THREADS], cw = { a, 0, 0, false };
	pthread_create(&checker, NULL, checker_run, &cw);
	for (int i = 0; i < T_THREADS; i++) {
		w[i] = (struct worker){ a, 1000 + (uint64_t)i, 0, false };
		pthread_create(&th[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < T_THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECKF(w[i].failures == 0, "worker %d saw %d corrupted blocks", i, w[i].failures);
	}
	__atomic_store_n(&cw.stop, true, __ATOMIC_RELEASE);
	pthread_join(checker, NULL);
	CHECK(cw.failures == 0);
	fixture_close_empty(&f, "after the threads");
}

/* --- The heap check catches corruption; free catches misuse ------------------- */

static void test_check_detects(void)
{
	struct fixture f = fixture_open(1 * MiB);
	hk_alloc_t *a = f.a;
	char *x = op_malloc(a, 100), *y = op_malloc(a, 100), *z = op_malloc(a, 100);
	op_free(a, y);
	struct tlsf_block *by = block_from_payload(y), *bz = block_from_payload(z);
	struct hk_check_report r = { 0 };
	CHECK(hk_check(a, &r) == 0);
	/* The used block after a free one loses its prev-free tag. */
	bz->header &= ~BLOCK_PREV_FREE;
	CHECK(hk_check(a, &r) == -1 && r.addr == bz);
	bz->header |= BLOCK_PREV_FREE;
	/* ...or no longer points back at it. */
	bz->prev_phys = block_from_payload(x);
	CHECK(hk_check(a, &r) == -1 && r.addr == by);
	bz->prev_phys = by;
	/* A free block's span is overwritten (an overflow from x). */
	size_t saved = by->header;
	by->header = saved + ALIGN_SIZE;
	CHECK(hk_check(a, &r) == -1 && r.addr == by);
	by->header = saved;
	/* A free block claims to be used: the block after it disagrees. */
	by->header &= ~BLOCK_FREE;
	CHECK(hk_check(a, &r) == -1 && r.addr == bz);
	by->header = saved;
	/* A broken free-list link. */
	struct tlsf_block *saved_link = by->prev_free;
	by->prev_free = bz;
	CHECK(hk_check(a, &r) == -1 && r.addr == by);
	by->prev_free = saved_link;
	CHECK(hk_check(a, &r) == 0);
	op_free(a, x);
	op_free(a, z);
	fixture_close_empty(&f, "after the corruptions were undone");
}

/* In a child: an instance with two 100-byte blocks, the first handed to the misuse. */
struct misuse {
	void (*fn)(hk_alloc_t *a, char *p);
};

static void misuse_child(void *arg)
{
	size_t len = 1 * MiB;
	hk_alloc_t *a = hk_tlsf_create(region_get(len), len);
	char *p = op_malloc(a, 100);
	op_malloc(a, 100);
	((const struct misuse *)arg)->fn(a, p);
}

/* The misuse must abort the child with a report containing want and the address it announced. */
#define expect_fatal(want, fn) CHECK_DIES(misuse_child, &(struct misuse){ fn }, want)

static void do_double_free(hk_alloc_t *a, char *p)
{
	kit_announce((void *)p);
	op_free(a, p);
	op_free(a, p);
}
static void do_interior_free(hk_alloc_t *a, char *p)
{
	memset(p, 0, 100);
	kit_announce((void *)(p + 32));
	op_free(a, p + 32);
}
static void do_foreign_free(hk_alloc_t *a, char *p)
{
	static char elsewhere[64] __attribute__((aligned(16)));
	kit_announce((void *)elsewhere);
	op_free(a, elsewhere);
}
static void do_misaligned_free(hk_alloc_t *a, char *p)
{
	kit_announce((void *)(p + 8));
	op_free(a, p + 8);
}
static void do_bad_pfree(hk_alloc_t *a, char *p)
{
	void *pg = op_palloc(a, 2);
	kit_announce(pg);
	op_pfree(a, pg, 3);
}

static void test_misuse(void)
{
	expect_fatal("double free", do_double_free);
	expect_fatal("invalid free", do_interior_free);
	expect_fatal("never returned", do_foreign_free);
	expect_fatal("never returned", do_misaligned_free);
	expect_fatal("pfree of pages", do_bad_pfree);
}

/* --- Driver -------------------------------------------------------------------- */

static const struct kit_test tests[] = {
	{ "realloc-inplace", test_realloc_inplace },
	{ "overhead", test_overhead },
	{ "random", test_random },
	{ "fragmentation", test_fragmentation },
	{ "addmem", test_addmem },
	{ "threads", test_threads },
	{ "check-detects", test_check_detects },
	{ "misuse", test_misuse },
};

int main(int argc, char **argv) { return kit_main("tlsf", tests, sizeof tests / sizeof tests[0], argc, argv); }
