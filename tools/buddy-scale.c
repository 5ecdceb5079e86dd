// SPDX-License-Identifier: MIT
/*
 * buddy-scale: does the buddy backend's cost per operation stay flat as its
 * region grows? (A benchmark, not a test.)
 *
 * For each region size (1, 4, 16, 64, 256, 1024 MiB by default) it creates
 * a buddy instance over one aligned block of that size and replays one fixed random sequence of operations on
 * 128 slots: an empty slot gets a small malloc (1..2032 bytes), a large
 * malloc (2 KiB..16 KiB) or a palloc (1..4 pages); a full slot is freed
 * (pfree for pages). The same sequence runs on every size, so only the region
 * size changes. It prints the median ns per operation over several runs.
 *
 * A second column is the buddy's worst case: palloc(1) and pfree on an
 * otherwise empty instance, where every allocation splits the one big block
 * all the way down and every free merges it all the way up, log2(region
 * pages) levels each: that one grows with the region, by design.
 *
 *   buddy-scale [--ops N] [--runs R] [--mib M]...
 *   buddy-scale --cost      what a request of each of a few sizes takes
 *
 * For instruction counts, which do not depend on the machine's load, run one
 * size under callgrind and count only the replay:
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=scale_replay \
 *            ./buddy-scale --mib 1024 --ops 200000 --runs 1
 * and divide the Ir total by (ops * (runs + 1)): the warm-up replay counts too
 * (--toggle-collect=scale_pingpong for the worst case, same division).
 */
#define _GNU_SOURCE
#include <heapkit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MiB ((size_t)1 << 20)
#define SLOTS 128
#define MAX_SIZES 16
#define MAX_RUNS 31

/* One slot of the replay: a block and how it was taken. */
struct slot {
	void *p;
	size_t npages;   /* > 0: from palloc, give back with pfree */
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Replay ops operations from a fixed seed; then free what is left. Returns failures.
 * Not static: callgrind finds it by name (--toggle-collect=scale_replay). */
__attribute__((noinline)) size_t scale_replay(hk_alloc_t *a, struct slot *slots, size_t ops)
{
	uint64_t s = 0x2545f4914f6cdd1dull;
	size_t failed = 0;
	for (size_t op = 0; op < ops; op++) {
		uint64_t r = rnd(&s);
		struct slot *sl = &slots[r % SLOTS];
		if (sl->p) {
			if (sl->npages)
				hk_pfree(a, sl->p, sl->npages);
			else
				hk_free(a, sl->p);
			sl->p = NULL;
			continue;
		}
		unsigned kind = (unsigned)(r >> 8) % 8;
		sl->npages = 0;
		if (kind < 5)
			sl->p = hk_malloc(a, 1 + (r >> 16) % 2032);
		else if (kind < 7)
			sl->p = hk_malloc(a, 2048 + (r >> 16) % (14 * 1024));
		else
			sl->p = hk_palloc(a, sl->npages = 1 + (r >> 16) % 4);
		if (sl->p)
			*(volatile char *)sl->p = 1;
		else
			failed++;
	}
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].p && slots[i].npages)
			hk_pfree(a, slots[i].p, slots[i].npages);
		else
			hk_free(a, slots[i].p);
		slots[i].p = NULL;
	}
	return failed;
}

/* The worst case: ops/2 palloc(1)+pfree pairs on an empty instance. Not static (callgrind). */
__attribute__((noinline)) void scale_pingpong(hk_alloc_t *a, size_t ops)
{
	for (size_t op = 0; op < ops; op += 2) {
		void *p = hk_palloc(a, 1);
		*(volatile char *)p = 1;
		hk_pfree(a, p, 1);
	}
}

/*
 * Memory a request takes: the drop in availmem over many requests of one
 * size (10000 up to 3264 bytes, so slabs amortize; 100 above), each
 * size on a fresh instance over 256 MiB.
 */
static int print_costs(void)
{
	static const size_t sizes[] = { 1,    16,   17,   100,  256,  257,  1000,  1024,  2032,   2048,
					3000, 3264, 3265, 4096, 5000, 12288, 12289, 100000, 1u << 20 };
	static void *p[10000];
	size_t len = 256 * MiB;
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("%10s %10s %14s\n", "request", "usable", "bytes/request");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		hk_alloc_t *a = hk_buddy_create(mem, len);
		size_t n = sizes[i] <= 3264 ? 10000 : 100, avail0 = hk_availmem(a);
		for (size_t j = 0; j < n; j++)
			if (!(p[j] = hk_malloc(a, sizes[i])))
				return 1;
		printf("%10zu %10zu %14.1f\n", sizes[i], hk_usable_size(a, p[0]), (double)(avail0 - hk_availmem(a)) / n);
		hk_destroy(a);
	}
	munmap(mem, len);
	return 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	size_t ops = 400000, runs = 7, nsizes = 0, sizes[MAX_SIZES];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--cost"))
			return print_costs();
		else if (!strcmp(argv[i], "--mib") && i + 1 < argc && nsizes < MAX_SIZES)
			sizes[nsizes++] = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--ops N] [--runs R] [--mib M]... | --cost\n", argv[0]);
			return 2;
		}
	}
	if (!nsizes)
		for (size_t m = 1; m <= 1024; m *= 4)
			sizes[nsizes++] = m;
	if (runs < 1)
		runs = 1;
	if (runs > MAX_RUNS)
		runs = MAX_RUNS;

	printf("# buddy-scale: %zu ops per run (128 slots: 5/8 malloc 1..2032, 2/8 malloc 2..16 KiB, 1/8 palloc 1..4),"
	       " median of %zu runs\n",
	       ops, runs);
	printf("%10s %12s %12s %12s %10s %16s\n", "region_MiB", "median_ns/op", "min_ns/op", "max_ns/op", "failed",
	       "pingpong_ns/op");
	static struct slot slots[SLOTS];
	for (size_t i = 0; i < nsizes; i++) {
		/* One aligned block of len bytes, the metadata pages just below it. */
		size_t len = sizes[i] * MiB, raw_len = 2 * len + 2 * HK_PAGE_SIZE;
		char *raw = mmap(NULL, raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (raw == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		char *mem = (char *)(((uintptr_t)raw + 2 * HK_PAGE_SIZE + len - 1) & ~(uintptr_t)(len - 1));
		hk_alloc_t *a = hk_buddy_create(mem - 2 * HK_PAGE_SIZE, len + 2 * HK_PAGE_SIZE);
		if (!a || hk_maxalloc(a) != len) {
			fprintf(stderr, "buddy-scale: create over %zu MiB failed\n", sizes[i]);
			return 1;
		}
		size_t failed = scale_replay(a, slots, ops); /* warm-up: fault the pages in */
		double t[MAX_RUNS];
		for (size_t r = 0; r < runs; r++) {
			double t0 = now_ns();
			failed += scale_replay(a, slots, ops);
			t[r] = (now_ns() - t0) / (double)ops;
		}
		qsort(t, runs, sizeof t[0], cmp_double);
		double w[MAX_RUNS];
		hk_availmem(a); /* gives kept-back empty slabs back: the heap is one block again */
		if (hk_maxalloc(a) != len) {
			fprintf(stderr, "buddy-scale: the heap did not coalesce back to one block\n");
			return 1;
		}
		scale_pingpong(a, ops);
		for (size_t r = 0; r < runs; r++) {
			double t0 = now_ns();
			scale_pingpong(a, ops);
			w[r] = (now_ns() - t0) / (double)ops;
		}
		qsort(w, runs, sizeof w[0], cmp_double);
		if (hk_check(a, NULL) != 0) {
			fprintf(stderr, "buddy-scale: heap check failed\n");
			return 1;
		}
		printf("%10zu %12.1f %12.1f %12.1f %10zu %16.1f\n", sizes[i], t[runs / 2], t[0], t[runs - 1], failed,
		       w[runs / 2]);
		hk_destroy(a);
		munmap(raw, raw_len);
	}
	return 0;
}
