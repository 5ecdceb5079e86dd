// SPDX-License-Identifier: MIT
/*
 * fill-free: fill a working set of small blocks and free them all, again and again (issue 12's
 * refault cliff: an allocator that gives empty memory back at once faults it in again each round).
 *
 *   fill-free [ROUNDS [KIB [SIZE]]]    default 500 rounds of 4500 KiB in 64-byte blocks
 *
 * Prints the rounds, the page faults (getrusage minflt) and the CPU seconds of the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_s(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec / 1e6 + (double)r->ru_stime.tv_sec +
	       (double)r->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 500, kib = argc > 2 ? atol(argv[2]) : 4500;
	long size = argc > 3 ? atol(argv[3]) : 64;
	if (rounds < 1 || kib < 1 || size < 1) {
		fprintf(stderr, "usage: fill-free [ROUNDS [KIB [SIZE]]] (all positive)\n");
		return 2;
	}
	size_t n = (size_t)kib * 1024 / (size_t)size;
	void **v = malloc(n * sizeof *v);
	if (!v)
		return 1;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	for (long r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			v[i] = malloc((size_t)size);
			if (!v[i])
				return 1;
			memset(v[i], (int)r, (size_t)size);
		}
		for (size_t i = 0; i < n; i++)
			free(v[i]);
	}
	getrusage(RUSAGE_SELF, &r1);
	printf("rounds %ld blocks %zu faults %ld cpu %.3f s\n", rounds, n, r1.ru_minflt - r0.ru_minflt,
	       cpu_s(&r1) - cpu_s(&r0));
	free(v);
	return 0;
}
