// SPDX-License-Identifier: MIT
/*
 * What holds and what does not when Debian's mimalloc is confined to a
 * region behind heapkit's interface. Each property is measured, compared
 * with the outcome this file expects (a CHECK: a property that starts or
 * stops holding fails the test, so the table must be updated), and printed
 * as a row of the README's table:
 *
 *   mimalloc-table              the rows and the checks
 *   mimalloc-table --markdown   only the markdown table, for the README
 */
#define _GNU_SOURCE
#include <heapkit.h>
#include <mimalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "kit.h"

static char *aligned_region(size_t len, size_t align)
{
	char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			 0);
	if (raw == MAP_FAILED)
		exit(2);
	return (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
}

/* The expected outcome of each property: a change either way is a failure. */
enum expect { FAILS, HOLDS };

static bool markdown;   /* print only the table's rows */

/* One row: what was measured, checked against what is expected. */
static void row(const char *property, bool holds, enum expect expected, const char *detail)
{
	CHECKF(holds == (expected == HOLDS), "%s: expected to %s, %s (%s)", property,
	       expected == HOLDS ? "hold" : "fail", holds ? "holds" : "fails", detail);
	if (markdown)
		printf("| %s | %s | %s |\n", property, holds ? "holds" : "**fails**", detail);
	else
		printf("mimalloc | %-44s | %s | %s\n", property, holds ? "HOLDS" : "FAILS", detail);
}

/* The smallest region accepted, and the alignment demanded. */
static void smallest_region(void)
{
	size_t smallest = 0;
	for (size_t len = 1 * MiB; len <= 128 * MiB && !smallest; len *= 2) {
		/* mimalloc never gives a region back: fresh memory each time. */
		hk_alloc_t *a = hk_mimalloc_create(aligned_region(len, 64 * MiB), len);
		if (a && hk_malloc(a, 64))
			smallest = len;
	}
	char detail[160];
	snprintf(detail, sizeof detail,
		 "smallest working region %zu MiB (one 32 MiB segment, 32 MiB aligned, plus the instance header)",
		 smallest / MiB);
	row("a 64 MiB region works", smallest && smallest <= 64 * MiB, HOLDS, detail);
	CHECK(smallest >= 32 * MiB && smallest <= 64 * MiB);
	/* A 32 MiB-aligned arena of less than 32 MiB is refused by create. */
	CHECK(hk_mimalloc_create(aligned_region(16 * MiB, 32 * MiB), 16 * MiB) == NULL);
}

/* Raw mimalloc 2.0.9: aligned allocation where size is a multiple of 256..1024. */
static void raw_alignment(void)
{
	int misaligned = 0;
	for (size_t align = 256; align <= 1024; align *= 2) {
		void *p = mi_malloc_aligned(align, align);
		misaligned += ((uintptr_t)p % align) != 0;
		mi_free(p);
	}
	/* Debian's 2.0.9 has the bug: a libmimalloc without it fails here, and the README row must change. */
	row("library: mi_malloc_aligned(n, n), n=256..1024", !misaligned, FAILS,
	    misaligned ? "returns misaligned blocks; heapkit's wrapper detects it and asks again"
		       : "aligned (fixed in this libmimalloc)");
}

struct inside_ctx {
	char *lo, *hi;
	int outside;
};

static void stays_inside(void)
{
	size_t len = 96 * MiB;
	char *base = aligned_region(len, 32 * MiB);
	hk_alloc_t *a = hk_mimalloc_create(base, len);
	CHECK(a != NULL);
	int outside = 0;
	void *keep[2000];
	for (int i = 0; i < 2000; i++) {
		size_t n = i % 50 == 0 ? 1 * MiB : 16 + (size_t)i * 37 % 20000;
		keep[i] = hk_malloc(a, n);
		outside += keep[i] && ((char *)keep[i] < base || (char *)keep[i] + n > base + len);
	}
	row("blocks stay inside the region", !outside, HOLDS, outside ? "blocks found outside" : "2000 blocks of 16 B..1 MiB");
	for (int i = 0; i < 2000; i++)
		hk_free(a, keep[i]);
}

static void exhaustion(void)
{
	size_t len = 64 * MiB;
	char *base = aligned_region(len, 32 * MiB);
	hk_alloc_t *a = hk_mimalloc_create(base, len);
	size_t total = 0, n = 0;
	enum { CAP = 1 << 17 };
	static void *blocks[CAP];
	while (n < CAP && (blocks[n] = hk_malloc(a, 4000)))
		total += 4000, n++;
	char detail[160];
	snprintf(detail, sizeof detail, "NULL after %zu MiB of 4000-byte blocks in a %zu MiB region", total / MiB,
		 len / MiB);
	row("exhaustion returns NULL", n < CAP, HOLDS, detail);
	CHECK(total > 16 * MiB);
	for (size_t i = 0; i < n; i++)
		hk_free(a, blocks[i]);
	/* Memory comes back: the same amount can be had again. */
	size_t again = 0;
	while (again < n && (blocks[again] = hk_malloc(a, 4000)))
		again++;
	snprintf(detail, sizeof detail, "%zu of %zu blocks again after a free-all; arenas are never released", again,
		 n);
	row("memory comes back after free", again == n, HOLDS, detail);
	for (size_t i = 0; i < again; i++)
		hk_free(a, blocks[i]);
}

/* A large block next to small ones, in a region of one 32 MiB segment. */
static void large_and_small(void)
{
	size_t len = 64 * MiB;
	char *base = aligned_region(len, 32 * MiB);
	hk_alloc_t *a = hk_mimalloc_create(base, len);
	void *big = hk_malloc(a, 20 * MiB);
	void *small = hk_malloc(a, 1000);
	char detail[160];
	snprintf(detail, sizeof detail, "with a 20 MiB block live in a 32 MiB arena, malloc(1000) %s",
		 small ? "succeeds" : "fails: the large block took the arena's only segment");
	/* mimalloc's design: a large block takes a whole segment. */
	row("small blocks beside a large one", small != NULL, FAILS, detail);
	CHECK(big != NULL);
	hk_free(a, small);
	hk_free(a, big);
}

static void *instance_thread(void *arg)
{
	hk_alloc_t *a = arg;
	for (int i = 0; i < 20000; i++) {
		void *p = hk_malloc(a, 16 + (size_t)i % 700);
		if (!p)
			return (void *)1;
		memset(p, i, 16);
		hk_free(a, p);
	}
	return NULL;
}

static void instances(void)
{
	enum { N = 4 };
	hk_alloc_t *a[N];
	pthread_t t[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		char *base = aligned_region(64 * MiB, 32 * MiB);
		a[i] = hk_mimalloc_create(base, 64 * MiB);
		ok &= a[i] != NULL;
	}
	for (int i = 0; ok && i < N; i++)
		pthread_create(&t[i], NULL, instance_thread, a[i]);
	for (int i = 0; ok && i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		ok &= r == NULL;
	}
	row("several instances coexist", ok, HOLDS, "4 instances, a thread each");
}

int main(int argc, char **argv)
{
	markdown = argc > 1 && !strcmp(argv[1], "--markdown");
	if (markdown)
		printf("| property | result | detail |\n|---|---|---|\n");
	check_context = "mimalloc";
	smallest_region();
	raw_alignment();
	stays_inside();
	exhaustion();
	large_and_small();
	instances();
	if (markdown) /* the table is only true if every row was as expected */
		return check_failures ? 1 : 0;
	return check_summary("mimalloc");
}
