// SPDX-License-Identifier: MIT
/*
 * A program for the drop-in's options test (test/options.sh), run under
 * LD_PRELOAD=libheapkit.so: it holds 2 MiB at its peak, frees blocks from
 * another thread, makes 100 000 small malloc/free pairs (the fast paths,
 * which count only while statistics are wanted), makes three requests that fail (too large, an
 * overflowing calloc, a huge aligned block), and closes its stderr before
 * it exits, as coreutils' programs do, so the statistics at exit must find
 * their way to the terminal without it.
 *
 *   options_target zero-write    writes into a malloc(0) block (HEAPKIT_ZERO_TRAP,
 *                                HEAPKIT_FAULT_REPORT decide what follows)
 *   options_target own-handler   the same after installing its own SIGSEGV
 *                                handler, which exits 7: the program's wins
 *   options_target null-write    a fault that is not heapkit's: the default action
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { NBLOCKS = 512, BLOCK = 4096, NPAIRS = 100000 };
static void *blocks[NBLOCKS];

static void *free_half(void *arg)
{
	(void)arg;
	for (int i = 0; i < NBLOCKS; i += 2)
		free(blocks[i]);
	return NULL;
}

static void own_handler(int sig)
{
	(void)sig;
	_exit(7);
}

static int zero_write(int own)
{
	if (own) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = own_handler;
		sigaction(SIGSEGV, &sa, NULL);
	}
	volatile size_t zero = 0;   /* (a constant 0 and the write would be refused by the compiler) */
	volatile char *p = malloc(zero);
	if (!p)
		return 1;
	*p = 'A';
	free((void *)p);
	printf("options-target: wrote into malloc(0)\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "null-write")) {
		volatile int *volatile nowhere = NULL;
		*nowhere = 1;
		return 0;
	}
	if (argc > 1)
		return zero_write(!strcmp(argv[1], "own-handler"));
	for (int i = 0; i < NBLOCKS; i++)
		if (!(blocks[i] = malloc(BLOCK)))
			return 1;
	pthread_t t;
	if (pthread_create(&t, NULL, free_half, NULL) || pthread_join(t, NULL))
		return 1;
	for (int i = 1; i < NBLOCKS; i += 2)
		free(blocks[i]);
	for (int i = 0; i < NPAIRS; i++) {
		void *volatile q = malloc(24);
		free(q);
	}

	/* volatile: the compiler must not see (and refuse) the sizes */
	volatile size_t huge = SIZE_MAX / 2, n = SIZE_MAX / 4;
	void *volatile p = malloc(huge);
	int e1 = errno;
	p = calloc(n, 8);
	int e2 = errno;
	p = aligned_alloc(64, (size_t)1 << 62);
	int e3 = errno;
	if (p || e1 != ENOMEM || e2 != ENOMEM || e3 != ENOMEM)
		return 2;
	printf("options-target: done\n");
	fflush(stdout);
	close(2);
	return 0;
}
