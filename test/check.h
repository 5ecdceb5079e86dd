// SPDX-License-Identifier: MIT
/* A tiny check helper for heapkit's tests: count, report, keep going. */
#ifndef HK_TEST_CHECK_H
#define HK_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int check_failures;
static int check_count;
/* What is being tested, printed with each failure (e.g. the backend name). */
static const char *check_context = "";

#define CHECK(cond)                                                                        \
	do {                                                                               \
		check_count++;                                                             \
		if (!(cond)) {                                                             \
			check_failures++;                                                  \
			fprintf(stderr, "FAIL [%s] %s:%d: %s\n", check_context, __FILE__, \
				__LINE__, #cond);                                          \
		}                                                                          \
	} while (0)

/* CHECK with a printf-style explanation. */
#define CHECKF(cond, ...)                                                                  \
	do {                                                                               \
		check_count++;                                                             \
		if (!(cond)) {                                                             \
			check_failures++;                                                  \
			fprintf(stderr, "FAIL [%s] %s:%d: %s: ", check_context, __FILE__,  \
				__LINE__, #cond);                                          \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                          \
	} while (0)

/* Print the closing line and return the exit status for main. */
static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

/* Fresh zeroed memory from the OS for a test's region; only touched pages cost anything. */
static inline void *region_get(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* xorshift64*: the seeded generator of the tests' random sequences. */
static inline uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif /* HK_TEST_CHECK_H */
