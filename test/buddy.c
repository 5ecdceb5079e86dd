// SPDX-License-Identifier: MIT
/*
 * Tests of the buddy backend that the conformance suite does not cover:
 * what a small request costs, a 1 GiB block in a region barely larger,
 * segment-style aligned blocks with nothing wasted, discontiguous regions,
 * coalescing back to one block, the heap check finding damage, invalid frees
 * stopping the program, in-place realloc, and threads.
 *
 *   test-buddy NAME    run one test (ctest runs each as buddy-NAME)
 *   test-buddy         run them all
 */
#define _GNU_SOURCE
#include <errno.h>
#include <heapkit.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

#define PAGE ((size_t)HK_PAGE_SIZE)

/*
 * Checker builds route free and realloc through a quarantine (see
 * src/core/annotate.h): a double free is the checker's to report, and
 * realloc always moves. Those checks are left to the plain builds.
 */
#if defined(HK_ASAN) && HK_ASAN
#define CHECKER_BUILD 1
#else
#define CHECKER_BUILD 0
#endif

/* --- Memory for regions ----------------------------------------------------- */

/* A reservation: the mapping (raw, len) and the aligned address in it. */
struct reservation {
	char *raw;
	size_t len;
	char *al;
};

/* An address aligned to align with len bytes reserved from it and 1 MiB below it. */
static struct reservation reserve_aligned(size_t len, size_t align)
{
	struct reservation m = { .len = len + align + MiB };
	m.raw = region_get(m.len);
	m.al = (char *)(((uintptr_t)m.raw + MiB + align - 1) & ~(uintptr_t)(align - 1));
	return m;
}

/* Give a reservation back. */
static void unreserve(const struct reservation *m) { region_put(m->raw, m->len); }

/* --- A small request does not cost a page -------------------------------------- */

static void test_small_cost(void)
{
	size_t len = 4 * MiB;
	char *mem = region_get(len);
	hk_alloc_t *a = hk_buddy_create(mem, len);
	CHECK(a != NULL);
	enum { N = 20000 };
	static void *p[N];
	size_t avail0 = hk_availmem(a);
	for (int i = 0; i < N; i++) {
		p[i] = hk_malloc(a, 1);
		CHECK(p[i] != NULL);
	}
	size_t used = avail0 - hk_availmem(a);
	/* 16 bytes per object, 254 objects per 4 KiB slab: 16.13 bytes each. */
	CHECKF(used <= (size_t)N * 17, "%d one-byte mallocs took %zu bytes (%.2f each)", N, used, (double)used / N);
	printf("small-cost: %d x malloc(1) took %zu bytes: %.2f bytes each\n", N, used, (double)used / N);
	CHECK(hk_usable_size(a, p[0]) == 16);
	for (size_t size = 16; size <= 3264; size += 16) {
		void *q = hk_malloc(a, size);
		size_t u = hk_usable_size(a, q);
		/* Classes step by 16 up to 256, then by objects per slab: 2032/1360 is the worst. */
		CHECKF(u >= size && (u <= size + 15 || u * 2 <= size * 3), "malloc(%zu) usable %zu", size, u);
		hk_free(a, q);
	}
	/* 2 KiB requests come from 16 KiB slabs of 7, not from a page each. */
	size_t before = hk_availmem(a);
	void *k2[70];
	for (int i = 0; i < 70; i++)
		k2[i] = hk_malloc(a, 2048);
	CHECKF(before - hk_availmem(a) == 10 * 16 * KiB, "70 x malloc(2048) took %zu", before - hk_availmem(a));
	for (int i = 0; i < 70; i++)
		hk_free(a, k2[i]);
	for (int i = 0; i < N; i++)
		hk_free(a, p[i]);
	CHECK(hk_availmem(a) == avail0);
	kit_heap_ok(a, "after small frees");
	munmap(mem, len);
}

/* --- A 1 GiB request in a region of 1 GiB and a little ------------------------- */

static void big_block_in(char *base, size_t len, char *expect)
{
	hk_alloc_t *a = hk_buddy_create(base, len);
	CHECK(a != NULL);
	if (!a)
		return;
	size_t avail0 = hk_availmem(a);
	/* The whole region is one run of free pages: maxalloc is all of it. */
	CHECKF(hk_maxalloc(a) == avail0, "maxalloc %zu of %zu", hk_maxalloc(a), avail0);
	char *p = hk_malloc(a, GiB);
	CHECKF(p == expect, "malloc(1 GiB) = %p, expected %p", (void *)p, (void *)expect);
	if (p) {
		CHECK(hk_usable_size(a, p) == GiB);
		p[0] = 1;
		p[GiB - 1] = 2;
		CHECK(avail0 - hk_availmem(a) == GiB);
		hk_free(a, p);
	}
	CHECK(hk_availmem(a) == avail0);
	/* The same through memalign and palloc: still one exact block. */
	p = hk_memalign(a, GiB, GiB);
	CHECK(p == expect);
	hk_free(a, p);
	p = hk_palloc(a, GiB / PAGE);
	CHECK(p == expect);
	hk_pfree(a, p, GiB / PAGE);
	/* A little more is served from the run; more than the region fails cleanly. */
	p = hk_malloc(a, GiB + 1);
	CHECK(p != NULL && hk_usable_size(a, p) == GiB + PAGE);
	hk_free(a, p);
	errno = 0;
	CHECK(hk_malloc(a, avail0 + 1) == NULL && errno == ENOMEM);
	kit_heap_ok(a, "after the 1 GiB block");
	hk_destroy(a);
}

static void test_big_block(void)
{
	struct reservation m = reserve_aligned(2 * GiB, GiB);
	char *al = m.al;
	/* Metadata below the aligned block, then above it. */
	big_block_in(al - 64 * KiB, GiB + 64 * KiB, al);
	big_block_in(al, GiB + 64 * KiB, al);

	/*
	 * No aligned 1 GiB block at all: the region straddles a 512 MiB boundary.
	 * The request is served from a run of adjacent free blocks.
	 */
	char *odd = al + 512 * MiB - 3 * PAGE;
	hk_alloc_t *a = hk_buddy_create(odd, GiB + 64 * KiB);
	CHECK(a != NULL);
	size_t avail0 = hk_availmem(a);
	CHECKF(hk_maxalloc(a) >= GiB, "maxalloc %zu without an aligned block", hk_maxalloc(a));
	char *p = hk_malloc(a, GiB);
	CHECK(p != NULL && p >= odd && p + GiB <= odd + GiB + 64 * KiB);
	if (p) {
		CHECK(hk_usable_size(a, p) == GiB);
		CHECK(avail0 - hk_availmem(a) == GiB);
		p[0] = 1;
		p[GiB - 1] = 2;
		kit_heap_ok(a, "with a 1 GiB run taken");
		hk_free(a, p);
	}
	CHECK(hk_availmem(a) == avail0);
	p = hk_palloc(a, GiB / PAGE + 8);
	CHECK(p != NULL);
	hk_pfree(a, p, GiB / PAGE + 8);
	CHECK(hk_memalign(a, GiB, GiB) == NULL); /* an aligned one does not exist */
	kit_heap_ok(a, "after the 1 GiB run");
	unreserve(&m);

	/* The Unikraft case (issue 1381): 1 GiB from a 4 GiB heap at any alignment. */
	char *mem = region_get(4 * GiB + PAGE);
	a = hk_buddy_create(mem + PAGE, 4 * GiB);
	CHECK(a != NULL);
	void *p1 = hk_malloc(a, GiB), *p2 = hk_malloc(a, GiB);
	CHECK(p1 != NULL && p2 != NULL);
	hk_free(a, p1);
	hk_free(a, p2);
	kit_heap_ok(a, "4 GiB region");
	munmap(mem, 4 * GiB + PAGE);
}

/* --- Segment-style blocks: align = size, 64 KiB .. 4 MiB, exact -------------------- */

static void test_segments(void)
{
	/* 8 MiB holds at most 128 segments: their records fit the built-in table page. */
	size_t span = 8 * MiB;
	struct reservation m = reserve_aligned(64 * MiB + 64 * KiB, 64 * MiB);
	char *al = m.al;
	hk_alloc_t *a = hk_buddy_create(al, span + 2 * PAGE); /* metadata above: 8 MiB managed */
	CHECK(a != NULL);
	CHECK(hk_availmem(a) == span && hk_maxalloc(a) == span);
	enum { MAXSEG = 1100 };
	static char *seg[MAXSEG];
	for (size_t size = 64 * KiB; size <= 4 * MiB; size *= 2) {
		size_t n = 0, avail = hk_availmem(a);
		while (n < MAXSEG) {
			char *p = hk_memalign(a, size, size);
			if (!p)
				break;
			CHECKF((uintptr_t)p % size == 0, "segment %p of %zu misaligned", (void *)p, size);
			CHECK(hk_usable_size(a, p) == size);
			CHECKF(avail - hk_availmem(a) == size, "segment of %zu took %zu", size, avail - hk_availmem(a));
			avail = hk_availmem(a);
			p[0] = (char)n;
			seg[n++] = p;
		}
		CHECKF(n == span / size, "%zu segments of %zu in %zu bytes", n, size, span);
		CHECK(hk_availmem(a) == 0 && hk_maxalloc(a) == 0);
		for (size_t i = 0; i < n; i += 2)
			hk_free(a, seg[i]);
		CHECK(hk_maxalloc(a) == size); /* every other one free: no merge possible */
		for (size_t i = 1; i < n; i += 2)
			hk_free(a, seg[i]);
		CHECK(hk_availmem(a) == span && hk_maxalloc(a) == span);
	}
	/* Mixed sizes in a random order: every segment exact, all coalescing back. */
	uint64_t seed = 12345;
	size_t n = 0, held = 0;
	for (int i = 0; i < 400 && n < MAXSEG; i++) {
		uint64_t s = rnd_next(&seed);
		size_t size = (64 * KiB) << ((s >> 33) % 7);
		char *p = hk_memalign(a, size, size);
		if (!p)
			continue;
		CHECK((uintptr_t)p % size == 0 && hk_usable_size(a, p) == size);
		held += size;
		seg[n++] = p;
		if ((s >> 40) % 3 == 0) {
			size_t k = (s >> 20) % n;
			held -= hk_usable_size(a, seg[k]);
			hk_free(a, seg[k]);
			seg[k] = seg[--n];
		}
		CHECK(span - hk_availmem(a) == held);
	}
	kit_heap_ok(a, "mixed segments");
	for (size_t i = 0; i < n; i++)
		hk_free(a, seg[i]);
	CHECK(hk_availmem(a) == span && hk_maxalloc(a) == span);

	/*
	 * 1024 segments of 64 KiB in 64 MiB: past 192 live large blocks the record
	 * table moves to pages of its own (32 KiB here), which costs one segment.
	 */
	span = 64 * MiB;
	a = hk_buddy_create(al, span + 2 * PAGE);
	n = 0;
	while (n < MAXSEG && (seg[n] = hk_memalign(a, 64 * KiB, 64 * KiB)) != NULL) {
		CHECK((uintptr_t)seg[n] % (64 * KiB) == 0 && hk_usable_size(a, seg[n]) == 64 * KiB);
		n++;
	}
	CHECKF(n == span / (64 * KiB) - 1, "%zu segments of 64 KiB in 64 MiB", n);
	kit_heap_ok(a, "1023 segments");
	for (size_t i = 0; i < n; i++)
		hk_free(a, seg[i]);
	CHECK(hk_availmem(a) == span && hk_maxalloc(a) == span);
	unreserve(&m);
}

/* --- Several discontiguous regions ----------------------------------------------- */

static void test_regions(void)
{
	/* Four regions with inaccessible gaps between them: a stray access faults. */
	size_t total = 32 * MiB;
	char *mem = region_get(total);
	size_t off[] = { 0, 1 * MiB, 5 * MiB + 12 * KiB, 14 * MiB + 4 * KiB }, len[] = { 64 * KiB, 3 * MiB, 8 * MiB, 16 * MiB };
	mprotect(mem + 64 * KiB, 1 * MiB - 64 * KiB, PROT_NONE);
	mprotect(mem + 4 * MiB, 1 * MiB + 12 * KiB, PROT_NONE);
	mprotect(mem + 13 * MiB + 12 * KiB, 1 * MiB - 8 * KiB, PROT_NONE);
	hk_alloc_t *a = hk_buddy_create(mem + off[0], len[0]);
	CHECK(a != NULL);
	CHECK(hk_availmem(a) == len[0] - 2 * PAGE); /* two metadata pages */
	for (int i = 1; i < 4; i++) {
		size_t before = hk_availmem(a);
		CHECK(hk_addmem(a, mem + off[i], len[i]) == 0);
		CHECKF(hk_availmem(a) - before == len[i] - PAGE, "region %d gave %zu", i, hk_availmem(a) - before);
	}
	/* Overlapping or empty regions are refused. */
	CHECK(hk_addmem(a, mem + off[2] + 1 * MiB, 1 * MiB) == -HK_EINVAL);
	CHECK(hk_addmem(a, mem + off[3], PAGE) == -HK_EINVAL);
	size_t avail0 = hk_availmem(a);
	CHECK(hk_maxalloc(a) == len[3] - PAGE); /* the largest region, one run */
	CHECK(hk_malloc(a, 16 * MiB) == NULL);
	/* Fill everything with 64 KiB blocks and small ones; each lies inside one region. */
	enum { N = 4096 };
	static char *p[N];
	size_t n = 0;
	for (; n < N; n++) {
		p[n] = hk_malloc(a, n % 3 ? 64 * KiB : 100);
		if (!p[n])
			break;
		int in = 0;
		for (int i = 0; i < 4; i++)
			in += p[n] >= mem + off[i] && p[n] < mem + off[i] + len[i];
		CHECK(in == 1);
		kit_stamp(p[n], n % 3 ? 64 * KiB : 100, (unsigned)n);
	}
	CHECK(n > 400 && n < N);
	kit_heap_ok(a, "regions full");
	for (size_t i = 0; i < n; i++) {
		CHECK(kit_stamp_ok(p[i], i % 3 ? 64 * KiB : 100, (unsigned)i));
		hk_free(a, p[i]);
	}
	CHECK(hk_availmem(a) == avail0 && hk_maxalloc(a) == len[3] - PAGE);
	kit_heap_ok(a, "regions emptied");
	munmap(mem, total);
}

/* --- Coalescing back to one block, and the check finding damage ---------------------- */

static void test_coalesce(void)
{
	size_t span = 16 * MiB;
	struct reservation m = reserve_aligned(span + 64 * KiB, span);
	char *al = m.al;
	hk_alloc_t *a = hk_buddy_create(al - 2 * PAGE, span + 2 * PAGE); /* metadata below */
	CHECK(hk_maxalloc(a) == span && hk_availmem(a) == span);
	enum { N = 6000 };
	static void *p[N];
	static size_t np[N];
	uint64_t seed = 99;
	for (int round = 0; round < 3; round++) {
		size_t n = 0;
		while (n < N) {
			uint64_t s = rnd_next(&seed);
			size_t kind = s % 4, size = 1 + (s >> 8) % (kind == 3 ? 200 * KiB : 3000);
			np[n] = kind == 2 ? 1 + (s >> 16) % 9 : 0;
			p[n] = np[n] ? hk_palloc(a, np[n]) : hk_malloc(a, size);
			if (!p[n])
				break;
			n++;
		}
		CHECK(n > 100);
		kit_heap_ok(a, "full");
		/* Free in a scrambled order. */
		for (size_t i = 0; i < n; i++) {
			size_t j = (i * 7919u + (size_t)round * 31u) % n;
			while (!p[j])
				j = (j + 1) % n;
			if (np[j])
				hk_pfree(a, p[j], np[j]);
			else
				hk_free(a, p[j]);
			p[j] = NULL;
		}
		CHECKF(hk_maxalloc(a) == span, "round %d: maxalloc %zu after free-all", round, hk_maxalloc(a));
		CHECK(hk_availmem(a) == span);
		kit_heap_ok(a, "after free-all");
	}
	/* Damage the one free block's header: the check names its address. */
	uintptr_t saved;
	memcpy(&saved, al + 2 * sizeof(void *), sizeof saved);
	memset(al + 2 * sizeof(void *), 0x5a, sizeof saved);
	struct hk_check_report r = { 0 };
	CHECK(hk_check(a, &r) == -1 && r.addr == al && r.what && strstr(r.what, "buddy"));
	memcpy(al + 2 * sizeof(void *), &saved, sizeof saved);
	kit_heap_ok(a, "repaired");
	/* Damage a slab header: found too. */
	char *q = hk_malloc(a, 40);
	char *hdr = (char *)((uintptr_t)q | (PAGE - 1)) - 8;
	char keep = *hdr;
	*hdr ^= 0x7f;
	CHECK(hk_check(a, &r) == -1);
	*hdr = keep;
	kit_heap_ok(a, "slab repaired");
	hk_free(a, q);
	unreserve(&m);
}

/* --- A new instance over memory an earlier one left dirty ------------------------------- */

static void test_recreate(void)
{
	/*
	 * The first instance leaves free-block and slab headers all over its
	 * memory; instances made again at the same place must not take them for
	 * their own (tags carry a fresh secret each time).
	 */
	size_t len = 8 * MiB;
	char *mem = region_get(len);
	enum { N = 3000 };
	static char *p[N];
	static size_t n[N];
	for (int round = 0; round < 4; round++) {
		hk_alloc_t *a = hk_buddy_create(mem, len);
		size_t avail0 = hk_availmem(a), max0 = hk_maxalloc(a);
		uint64_t seed = 77 + (uint64_t)round;
		for (int op = 0; op < 40000; op++) {
			uint64_t s = rnd_next(&seed);
			int i = (int)(s % N);
			if (p[i]) {
				CHECK(kit_stamp_ok(p[i], n[i] < 64 ? n[i] : 64, (unsigned)i));
				hk_free(a, p[i]);
				p[i] = NULL;
				continue;
			}
			n[i] = 1 + (s >> 20) % ((s >> 40) % 4 ? 3500 : 70000);
			if ((p[i] = hk_malloc(a, n[i])) != NULL)
				kit_stamp(p[i], n[i] < 64 ? n[i] : 64, (unsigned)i);
		}
		kit_heap_ok(a, "after a mix over reused memory");
		if (round % 2) { /* free all: the heap must coalesce exactly */
			for (int i = 0; i < N; i++)
				if (p[i])
					hk_free(a, p[i]);
			CHECK(hk_availmem(a) == avail0 && hk_maxalloc(a) == max0);
		}
		hk_destroy(a); /* the live blocks stay behind in the memory */
		memset(p, 0, sizeof p);
	}
	munmap(mem, len);
}

/*
 * The memory under the instance header may hold again what it held before an
 * earlier instance was made (another user of the region wrote the same
 * words): the headers that instance left elsewhere must still match nothing.
 * Found by the fuzzer: a 4 KiB slab's stale header inside a 16 KiB slab's
 * object took the big slab's first block for a small one.
 */
static void test_recreate_restored(void)
{
	size_t len = 4 * MiB, meta = 64 * 1024;
	char *mem = region_get(len);
	static char before[64 * 1024];
	memcpy(before, mem, meta);
	hk_alloc_t *a = hk_buddy_create(mem, len);
	while (hk_malloc(a, 64)) /* one-page slabs everywhere, left behind */
		;
	hk_destroy(a);
	memcpy(mem, before, meta);
	a = hk_buddy_create(mem, len);
	size_t n = 0;
	for (void *p; (p = hk_malloc(a, 3000)) != NULL; n++) /* 16 KiB slabs over them, blocks unwritten */
		CHECKF(hk_usable_size(a, p) >= 3000, "block %p of 3000 bytes: usable %zu", p, hk_usable_size(a, p));
	CHECKF(n > 1000, "%zu blocks of 3000 bytes in 4 MiB", n);
	kit_heap_ok(a, "over the headers of an instance made with the same header words");
	hk_destroy(a);
	munmap(mem, len);
}

/* --- realloc in place ------------------------------------------------------------------ */

static void test_realloc(void)
{
	size_t span = 8 * MiB;
	struct reservation m = reserve_aligned(span + 64 * KiB, span);
	hk_alloc_t *a = hk_buddy_create(m.al, span + 2 * PAGE);
	size_t avail0 = hk_availmem(a);
	char *p = hk_malloc(a, 3 * PAGE);
	CHECK(avail0 - hk_availmem(a) == 3 * PAGE); /* the 4th page of the block went back */
	kit_stamp(p, 3 * PAGE, 1);
	if (CHECKER_BUILD) {
		hk_free(a, p);
		unreserve(&m);
		kit_skip("in-place realloc: the checker build's realloc always moves");
		return;
	}
	CHECK(hk_realloc(a, p, 4 * PAGE) == p); /* grows into the tail */
	CHECK(hk_realloc(a, p, 9 * PAGE) == p); /* past its power of two, still free */
	CHECK(avail0 - hk_availmem(a) == 9 * PAGE);
	CHECK(hk_realloc(a, p, 5 * PAGE + 1) == p); /* shrinks in place */
	CHECK(avail0 - hk_availmem(a) == 6 * PAGE && hk_usable_size(a, p) == 6 * PAGE);
	CHECK(kit_stamp_ok(p, 3 * PAGE, 1));
	char *wall = hk_palloc(a, 1); /* right after p? then p cannot grow in place */
	char *q = hk_realloc(a, p, 64 * PAGE);
	CHECK(q != NULL && kit_stamp_ok(q, 3 * PAGE, 1));
	CHECK(wall != p + 6 * PAGE || q != p);
	hk_free(a, q);
	hk_pfree(a, wall, 1);
	char *s = hk_malloc(a, 20); /* 32-byte class: in place up to 32 */
	CHECK(hk_realloc(a, s, 32) == s);
	s = hk_realloc(a, s, 33);
	CHECK(s != NULL && hk_usable_size(a, s) == 48);
	hk_free(a, s);
	CHECK(hk_availmem(a) == avail0);
	kit_heap_ok(a, "realloc");
	unreserve(&m);
}

/* --- Invalid frees stop the program and say where --------------------------------------- */

/* What a child does to an instance over 4 MiB at mem; it announces the address the report must name. */
struct misuse {
	void (*what)(hk_alloc_t *a, char *mem);
};

static void misuse_child(void *arg)
{
	char *mem = region_get(4 * MiB);
	((const struct misuse *)arg)->what(hk_buddy_create(mem, 4 * MiB), mem);
}

/* The misuse must abort the child with a report saying expect and naming the address. */
#define CHECK_MISUSE(what, expect) CHECK_DIES(misuse_child, &(struct misuse){ what }, expect)

/* Announce p to the parent and free it. */
static void free_announced(hk_alloc_t *a, void *p)
{
	kit_announce(p);
	hk_free(a, p);
}

static void free_outside(hk_alloc_t *a, char *mem) { free_announced(a, mem + 8 * MiB); }
static void free_misaligned(hk_alloc_t *a, char *mem) { free_announced(a, (char *)hk_malloc(a, 100) + 8); }
static void free_inside(hk_alloc_t *a, char *mem) { free_announced(a, (char *)hk_malloc(a, 100) + 16); }
static void free_inside_big(hk_alloc_t *a, char *mem)
{
	hk_malloc(a, 3000);
	free_announced(a, (char *)hk_malloc(a, 3000) + 3264); /* the next object's start, never handed out */
}
static void free_twice_large(hk_alloc_t *a, char *mem)
{
	void *p = hk_malloc(a, 100 * KiB);
	hk_free(a, p);
	free_announced(a, p);
}
static void free_twice_small(hk_alloc_t *a, char *mem)
{
	void *p = hk_malloc(a, 100);
	hk_malloc(a, 100); /* keep the slab alive */
	hk_free(a, p);
	free_announced(a, p);
}
static void pfree_wrong_count(hk_alloc_t *a, char *mem)
{
	void *p = hk_palloc(a, 4);
	kit_announce(p);
	hk_pfree(a, p, 3);
}
static void free_page_not_block(hk_alloc_t *a, char *mem) { free_announced(a, (char *)hk_palloc(a, 4) + PAGE); }

static void test_invalid_free(void)
{
	CHECK_MISUSE(free_outside, "outside every region");
	CHECK_MISUSE(free_misaligned, "misaligned");
	CHECK_MISUSE(free_inside, "not at the start");
	CHECK_MISUSE(free_inside_big, "not at the start");
	CHECK_MISUSE(pfree_wrong_count, "page count");
	CHECK_MISUSE(free_page_not_block, "not a live block");
	SKIP_UNLESS(!CHECKER_BUILD, "double frees: the checker build's quarantine reports them");
	CHECK_MISUSE(free_twice_large, "not a live block");
	CHECK_MISUSE(free_twice_small, "double free");
}

/* --- Threads ------------------------------------------------------------------------------ */

struct worker {
	hk_alloc_t *a;
	unsigned id;
	int bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	enum { SLOTS = 64, OPS = 30000 };
	void *p[SLOTS] = { 0 };
	size_t n[SLOTS] = { 0 };
	bool paged[SLOTS] = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
	for (int op = 0; op < OPS; op++) {
		uint64_t s = rnd_next(&seed);
		unsigned i = (unsigned)(s % SLOTS);
		if (p[i]) {
			w->bad += !kit_stamp_ok(p[i], n[i] < 256 ? n[i] : 256, w->id + i);
			if (paged[i])
				hk_pfree(w->a, p[i], n[i] / PAGE);
			else
				hk_free(w->a, p[i]);
			p[i] = NULL;
			continue;
		}
		size_t kind = (s >> 20) % 8;
		paged[i] = kind == 0;
		if (kind == 0) {
			n[i] = PAGE * (1 + (s >> 30) % 8);
			p[i] = hk_palloc(w->a, n[i] / PAGE);
		} else if (kind == 1) {
			n[i] = 64 * KiB << ((s >> 30) % 3);
			p[i] = hk_memalign(w->a, n[i], n[i]);
			w->bad += p[i] && (uintptr_t)p[i] % n[i];
		} else {
			n[i] = 1 + (s >> 30) % (kind == 2 ? 20000 : 600);
			p[i] = hk_malloc(w->a, n[i]);
		}
		if (p[i])
			kit_stamp(p[i], n[i] < 256 ? n[i] : 256, w->id + i);
	}
	for (unsigned i = 0; i < SLOTS; i++) {
		if (paged[i] && p[i])
			hk_pfree(w->a, p[i], n[i] / PAGE);
		else
			hk_free(w->a, p[i]);
	}
	return NULL;
}

static void test_threads(void)
{
	size_t len = 64 * MiB;
	char *mem = region_get(len);
	hk_alloc_t *a = hk_buddy_create(mem, len);
	size_t avail0 = hk_availmem(a);
	enum { T = 4 };
	pthread_t th[T];
	struct worker w[T];
	for (unsigned i = 0; i < T; i++) {
		w[i] = (struct worker){ a, i, 0 };
		pthread_create(&th[i], NULL, worker_run, &w[i]);
	}
	for (unsigned i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		CHECKF(w[i].bad == 0, "thread %u saw %d bad blocks", i, w[i].bad);
	}
	CHECK(hk_availmem(a) == avail0);
	kit_heap_ok(a, "after threads");
	munmap(mem, len);
}

/* --- Driver ------------------------------------------------------------------------------- */

static const struct kit_test tests[] = {
	{ "small-cost", test_small_cost }, { "big-block", test_big_block },   { "segments", test_segments },
	{ "regions", test_regions },       { "coalesce", test_coalesce },     { "realloc", test_realloc },
	{ "invalid-free", test_invalid_free }, { "threads", test_threads },   { "recreate", test_recreate },
	{ "recreate-restored", test_recreate_restored },
};

int main(int argc, char **argv) { return kit_main("buddy", tests, sizeof tests / sizeof tests[0], argc, argv); }
