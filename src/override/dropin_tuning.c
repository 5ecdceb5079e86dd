// SPDX-License-Identifier: MIT
/*
 * The drop-in's tuned paths, under LD_PRELOAD=libheapkit.so (ctest
 * dropin-tuning): huge blocks resized in their mapping or moved by mremap
 * keep every byte and stay segment aligned; a cached mapping handed out
 * again is cleared by calloc; memory of the empty pages a thread leaves
 * behind in live segments goes back to the OS a purge delay or two later,
 * and those pages work when reused.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SEG (4 * MiB)   /* the drop-in's segment size: huge blocks are aligned to it */

static void *volatile sink;

/* --- Helpers ---------------------------------------------------------------------- */

static void stamp(unsigned char *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = (unsigned char)(tag + i / 512);
	p[n - 1] = (unsigned char)tag;
}

static bool stamped(const unsigned char *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] != (unsigned char)(tag + i / 512))
			return false;
	return p[n - 1] == (unsigned char)tag;
}

/* --- Huge blocks resized ------------------------------------------------------------ */

/* Grow and shrink a huge block, with other huge blocks placed in its way. */
static void test_huge_resize(void)
{
	size_t n = 2 * MiB;
	unsigned char *p = malloc(n);
	CHECK(p != NULL);
	stamp(p, n, 7);
	void *blockers[8] = { 0 };
	for (int round = 0; round < 8 && p; round++) {
		blockers[round] = malloc(3 * MiB);   /* likely right after p's mapping */
		size_t m = n + n / 2 + 4096 * (size_t)round;
		unsigned char *q = realloc(p, m);
		CHECKF(q && stamped(q, n, 7), "growth %zu -> %zu lost the contents", n, m);
		CHECK(q && ((uintptr_t)q & (SEG - 1)) == 0);
		CHECK(q && malloc_usable_size(q) >= m);
		p = q;
		n = m;
		if (p)
			stamp(p, n, 7);
	}
	for (int i = 0; i < 8; i++)
		free(blockers[i]);
	size_t small = n / 5;   /* shrink below half: the mapping is cut */
	unsigned char *q = realloc(p, small);
	bool kept = q != NULL;
	for (size_t i = 0; q && i < small; i += 512)
		kept &= q[i] == (unsigned char)(7 + i / 512);
	CHECK(kept && malloc_usable_size(q) >= small);
	p = q;
	q = realloc(p, 100);    /* to a small block: copied */
	CHECK(q && q[0] == 7 && malloc_usable_size(q) >= 100);
	free(q);
}

/* A freed huge mapping comes back through the cache; calloc clears what it serves. */
static void test_huge_cache_calloc(void)
{
	for (int i = 0; i < 4; i++) {
		unsigned char *a = malloc(6 * MiB);
		CHECK(a != NULL);
		if (a)
			memset(a, 0xa5, 6 * MiB);
		free(a);
		unsigned char *z = calloc(1, 5 * MiB + 12345);
		CHECK(z != NULL);
		bool zero = true;
		for (size_t k = 0; z && k < 5 * MiB + 12345; k += 4096)
			zero &= z[k] == 0;
		CHECK(z && zero && z[5 * MiB + 12344] == 0);
		/* grow in the rest of a longer cached mapping, then past it */
		unsigned char *g = z ? realloc(z, 6 * MiB) : NULL;
		CHECK(g != NULL && g[0] == 0);
		g = g ? realloc(g, 14 * MiB) : NULL;
		CHECK(g != NULL && g[5 * MiB] == 0);
		free(g);
	}
}

/* --- Purge at thread exit ---------------------------------------------------------- */

#define NR_SMALL 24576   /* 1 KiB blocks: 24 MiB of pages */
#define PINS 16

static void *pins[PINS];
static const size_t pin_size[PINS] = { 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512 };

/* Fill pages, pin their segments with a few live blocks of another class, free the rest. */
static void *thread_fill(void *arg)
{
	(void)arg;
	void **v = malloc(NR_SMALL * sizeof *v);
	if (!v)
		return NULL;
	for (int i = 0; i < NR_SMALL; i++) {
		v[i] = malloc(1000);
		if (v[i])
			memset(v[i], 0x5a, 1000);
		if (i % (NR_SMALL / PINS) == 0)   /* a page of its own: one class per pin */
			pins[i / (NR_SMALL / PINS)] = malloc(pin_size[i / (NR_SMALL / PINS)]);
	}
	for (int i = 0; i < NR_SMALL; i++)
		free(v[i]);
	free(v);
	return NULL;
}

/* One block of each of many classes: each class's first page reclaims an abandoned segment. */
static void *thread_touch(void *arg)
{
	(void)arg;
	void *v[40];
	for (int i = 0; i < 40; i++)
		v[i] = malloc(16 + 48 * (size_t)i);
	for (int i = 0; i < 40; i++)
		free(v[i]);
	return NULL;
}

static void *thread_reuse(void *arg)
{
	(void)arg;
	bool ok = true;
	void **v = malloc(NR_SMALL * sizeof *v);
	for (int i = 0; v && i < NR_SMALL; i++) {
		unsigned char *b = malloc(1000);
		v[i] = b;
		if (b) {
			memset(b, i & 0xff, 1000);
			ok &= b[999] == (unsigned char)i;
		}
	}
	for (int i = 0; v && i < NR_SMALL; i++) {
		ok &= v[i] && ((unsigned char *)v[i])[500] == (unsigned char)i;
		free(v[i]);
	}
	free(v);
	return ok ? (void *)1 : NULL;
}

/* RSS once it has fallen below limit, waiting up to 2 s (the purge is delayed by tens of ms). */
static size_t rss_settled(size_t limit)
{
	size_t r = kit_rss_bytes();
	for (int i = 0; i < 200 && r >= limit; i++) {
		usleep(10000);
		r = kit_rss_bytes();
	}
	return r;
}

static void test_exit_purge(void)
{
	pthread_t t;
	size_t before = kit_rss_bytes();
	CHECK(pthread_create(&t, NULL, thread_fill, NULL) == 0);
	pthread_join(t, NULL);
	size_t mid = rss_settled(before + 8 * MiB);
	CHECK(pthread_create(&t, NULL, thread_touch, NULL) == 0);
	pthread_join(t, NULL);
	size_t after = rss_settled(before + 8 * MiB);
	printf("rss before the threads %zu KiB, after the first exited %zu KiB, after the second %zu KiB\n",
	       before >> 10, mid >> 10, after >> 10);
	/*
	 * The first thread touched ~24 MiB and left its segments pinned by a
	 * few blocks; their free slots go back a purge delay or two later (the
	 * purge thread scans; no thread calls malloc meanwhile).
	 */
	CHECKF(mid < before + 8 * MiB, "%zu KiB held after exit", (mid - before) >> 10);
	CHECKF(after < before + 8 * MiB, "%zu KiB held after the second thread", (after - before) >> 10);
	void *ret = NULL;
	CHECK(pthread_create(&t, NULL, thread_reuse, NULL) == 0);
	pthread_join(t, &ret);
	CHECK(ret == (void *)1);
	for (int i = 0; i < PINS; i++) {
		CHECK(pins[i] != NULL);
		free(pins[i]);
	}
}

int main(void)
{
	Dl_info info;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	CHECK(m && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, "libheapkit"));
	test_huge_resize();
	test_huge_cache_calloc();
	test_exit_purge();
	return check_summary("dropin-tuning");
}
