// SPDX-License-Identifier: MIT
/* A tiny check helper for heapkit's tests: count, report, keep going. */
#ifndef HK_TEST_CHECK_H
#define HK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

#endif /* HK_TEST_CHECK_H */
