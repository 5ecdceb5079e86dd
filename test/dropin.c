// SPDX-License-Identifier: MIT
/*
 * The drop-in's exported malloc family against glibc's semantics. Run under
 * LD_PRELOAD=libheapkit.so (ctest dropin-semantics); it first checks that
 * malloc really resolves to the drop-in, so it cannot pass on glibc alone.
 *
 *   dropin-test [--any]    --any: skip the "is it heapkit" check (to compare with glibc)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <heapkit.h>

#include "check.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Keep the compiler from folding calls it thinks it understands. */
static void *volatile sink;
static size_t volatile big_size = (size_t)PTRDIFF_MAX + 1;
static size_t volatile max_size = SIZE_MAX;

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void test_is_heapkit(void)
{
	Dl_info info;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	CHECK(m != NULL && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, "libheapkit"));
	if (m && dladdr(m, &info))
		printf("malloc comes from %s\n", info.dli_fname);
}

static void test_malloc(void)
{
	void *a = malloc(0), *b = malloc(0);
	CHECK(a && b && a != b);
	free(a);
	free(b);
	for (size_t n = 1; n < 4 * MiB; n = n * 2 + 3) {
		char *p = malloc(n);
		CHECK(p && aligned(p, HK_BLOCK_ALIGN(n)) && malloc_usable_size(p) >= n);
		memset(p, 0xab, n);
		free(p);
	}
	/* 1..8 bytes may come 8-aligned (shard's 8-byte class, test shard-classes); asking for 16 gets 16 all the same */
	for (size_t n = 1; n <= 16; n++) {
		void *p = malloc(n), *q = memalign(16, n), *r = aligned_alloc(16, n), *s = NULL;
		CHECK(posix_memalign(&s, 16, n) == 0);
		CHECKF(p && q && r && s && aligned(q, 16) && aligned(r, 16) && aligned(s, 16), "16-aligned %zu bytes", n);
		free(p);
		free(q);
		free(r);
		free(s);
	}
	errno = 0;
	CHECK(malloc(big_size) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc(max_size) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc((size_t)PTRDIFF_MAX - 4096) == NULL && errno == ENOMEM);
	CHECK(malloc_usable_size(NULL) == 0);
}

static void test_free_keeps_errno(void)
{
	size_t sizes[] = { 16, 1000, 40 * KiB, 600 * KiB, 8 * MiB };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *p = malloc(sizes[i]);
		errno = 1234;
		free(p);
		CHECKF(errno == 1234, "free of %zu bytes changed errno to %d", sizes[i], errno);
	}
	errno = 77;
	free(NULL);
	CHECK(errno == 77);
}

static void test_calloc(void)
{
	for (size_t n = 1; n < 8 * MiB; n = n * 3 + 7) {
		/* Dirty a block of the same size first, so a reused one must be zeroed. */
		char *d = malloc(n);
		memset(d, 0xff, n);
		free(d);
		unsigned char *p = calloc(1, n);
		CHECK(p != NULL);
		size_t nz = 0;
		for (size_t i = 0; p && i < n; i++)
			nz += p[i] != 0;
		CHECKF(nz == 0, "calloc(%zu): %zu non-zero bytes", n, nz);
		free(p);
	}
	errno = 0;
	CHECK(calloc(max_size / 2, 3) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(big_size, 1) == NULL && errno == ENOMEM);
	void *z = calloc(0, 0);
	CHECK(z != NULL);
	free(z);
}

static void test_realloc(void)
{
	char *p = realloc(NULL, 10);
	CHECK(p != NULL);
	memcpy(p, "heapkit!!", 10);
	for (size_t n = 20; n < 16 * MiB; n *= 3) {
		p = realloc(p, n);
		CHECK(p && !memcmp(p, "heapkit!!", 10));
	}
	p = realloc(p, 5);
	CHECK(p && !memcmp(p, "heapk", 5));
	errno = 0;
	CHECK(realloc(p, big_size) == NULL && errno == ENOMEM);
	CHECK(!memcmp(p, "heapk", 5));   /* untouched on failure */
	CHECK(realloc(p, 0) == NULL);    /* glibc: frees, returns NULL */
	errno = 0;
	CHECK(reallocarray(NULL, max_size / 4, 8) == NULL && errno == ENOMEM);
	int *v = reallocarray(NULL, 100, sizeof(int));
	CHECK(v != NULL);
	for (int i = 0; v && i < 100; i++)
		v[i] = i;
	v = reallocarray(v, 100000, sizeof(int));
	CHECK(v && v[99] == 99);
	free(v);
}

static void test_posix_memalign(void)
{
	void *p = (void *)0x1;
	size_t bad[] = { 0, 1, 2, 4, 12, 24, 48, 4097 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 55;
		CHECKF(posix_memalign(&p, bad[i], 10) == EINVAL, "posix_memalign(%zu)", bad[i]);
		CHECK(p == (void *)0x1 && errno == 55);
	}
	for (size_t a = sizeof(void *); a <= 8 * MiB; a <<= 1) {
		size_t sizes[] = { 0, 1, a / 2 + 1, a, 3 * a + 5 };
		for (size_t i = 0; i < 5; i++) {
			void *q = NULL;
			CHECKF(posix_memalign(&q, a, sizes[i]) == 0 && q && aligned(q, a), "posix_memalign(%zu, %zu)", a,
			       sizes[i]);
			if (q) {
				CHECK(malloc_usable_size(q) >= sizes[i]);
				memset(q, 1, sizes[i]);
			}
			free(q);
		}
	}
	p = (void *)0x1;
	CHECK(posix_memalign(&p, 64, big_size) == ENOMEM && p == (void *)0x1);
}

static void test_memalign_family(void)
{
	for (size_t a = 1; a <= 4 * MiB; a <<= 1) {
		void *p = memalign(a, 100), *q = aligned_alloc(a, 2 * a);
		CHECKF(p && aligned(p, a) && q && aligned(q, a), "memalign/aligned_alloc(%zu)", a);
		free(p);
		free(q);
	}
	/* glibc 2.36 rounds a non-power-of-two alignment up. */
	void *r = memalign(24, 10);
	CHECK(r && aligned(r, 32));
	free(r);
	errno = 0;
	CHECK(memalign(max_size / 2 + 2, 10) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(memalign(64, big_size) == NULL && errno == ENOMEM);
	long ps = sysconf(_SC_PAGESIZE);
	void *v = valloc(10);
	CHECK(v && aligned(v, (size_t)ps));
	free(v);
	void *pv = pvalloc(0);
	CHECK(pv && aligned(pv, (size_t)ps));   /* glibc: any size, page aligned */
	free(pv);
	pv = pvalloc((size_t)ps + 1);
	CHECK(pv && malloc_usable_size(pv) >= 2 * (size_t)ps);
	free(pv);
	errno = 0;
	CHECK(pvalloc(max_size - 10) == NULL && errno == ENOMEM);
}

static void test_libc_names(void)
{
	const char *names[] = { "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
				"__libc_memalign", "__libc_valloc", "__libc_pvalloc", "cfree" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		Dl_info info;
		void *f = dlsym(RTLD_DEFAULT, names[i]);
		CHECKF(f && dladdr(f, &info) && strstr(info.dli_fname, "libheapkit"), "%s", names[i]);
	}
	void *(*lm)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
	void (*lf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "__libc_free");
	void *(*lma)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "__libc_memalign");
	if (lm && lf && lma) {
		void *p = lm(100);
		CHECK(p != NULL);
		free(p);           /* mixes with the plain names */
		p = malloc(100);
		lf(p);
		p = lma(256, 10);
		CHECK(p && aligned(p, 256));
		lf(p);
	}
}

/*
 * The C++ operators are the drop-in's, new's blocks are the malloc
 * family's (aligned, malloc_usable_size), and a request that cannot be met calls the new_handler until it is
 * removed, then the nothrow form returns NULL. (This test is C: the C++
 * runtime is opened for std::set_new_handler; without it the test says so.)
 */
static int handler_calls;
static void (*(*set_handler)(void (*)(void)))(void);
static void count_and_give_up(void)
{
	if (++handler_calls == 2)
		set_handler(NULL);
}

static void test_cxx_operators(void)
{
	if (!dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL)) {
		printf("SKIP cxx operators: no libstdc++.so.6 (%s)\n", dlerror());
		return;
	}
	void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "_Znwm");
	void (*op_delete)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "_ZdlPv");
	void *(*op_new_nothrow)(size_t, const void *) =
		(void *(*)(size_t, const void *))dlsym(RTLD_DEFAULT, "_ZnwmRKSt9nothrow_t");
	set_handler = (void (*(*)(void (*)(void)))(void))dlsym(RTLD_DEFAULT, "_ZSt15set_new_handlerPFvvE");
	Dl_info info;
	CHECK(op_new && op_delete && op_new_nothrow && set_handler);
	if (!op_new || !op_delete || !op_new_nothrow || !set_handler)
		return;
	CHECKF(dladdr((void *)op_new, &info) && strstr(info.dli_fname, "libheapkit"), "operator new from %s",
	       info.dli_fname);
	for (size_t n = 0; n < 5000; n += 97) {
		char *p = op_new(n);
		CHECK(p && aligned(p, HK_BLOCK_ALIGN(n)) && malloc_usable_size(p) >= n);
		memset(p, 0x5a, n);
		op_delete(p);
	}
	set_handler(count_and_give_up);
	errno = 0;
	CHECK(op_new_nothrow((size_t)1 << 62, NULL) == NULL);
	CHECKF(handler_calls == 2, "the new_handler ran %d times", handler_calls);
	set_handler(NULL);
}

/* Blocks allocated by one thread and freed by another, with the allocating threads gone. */
static void *xthread_alloc(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 1000; i++) {
		out[i] = malloc(16 + (size_t)i % 500);
		memset(out[i], i & 0xff, 16);
	}
	return NULL;
}

static void test_threads(void)
{
	static void *blocks[4][1000];
	pthread_t t[4];
	for (int k = 0; k < 4; k++)
		pthread_create(&t[k], NULL, xthread_alloc, blocks[k]);
	for (int k = 0; k < 4; k++)
		pthread_join(t[k], NULL);
	int bad = 0;
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 1000; i++) {
			bad += ((unsigned char *)blocks[k][i])[15] != (i & 0xff);
			free(blocks[k][i]);
		}
	CHECK(bad == 0);
	sink = malloc(100);
	free(sink);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || strcmp(argv[1], "--any"))
		test_is_heapkit();
	test_malloc();
	test_free_keeps_errno();
	test_calloc();
	test_realloc();
	test_posix_memalign();
	test_memalign_family();
	if (argc < 2 || strcmp(argv[1], "--any")) {
		test_libc_names();
		test_cxx_operators();
	}
	test_threads();
	return check_summary("dropin");
}
