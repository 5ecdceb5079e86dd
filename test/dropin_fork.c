// SPDX-License-Identifier: MIT
/*
 * A multi-threaded program that forks, under the drop-in: threads keep
 * allocating and freeing (some blocks cross threads) while the main thread
 * forks; each child allocates (malloc(0), small, medium, huge), starts a
 * thread that allocates, and exits. A child that hangs (a lock held at fork time) is
 * killed by its alarm and fails the test.
 *
 *   dropin-fork [ROUNDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_THREADS 4
static volatile int stop;
static void *_Atomic shared[64];

static void *churn(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	while (!stop) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t n = s % 64 == 0 ? 300000 + s % 700000 : s % 64 == 1 ? 0 : 1 + s % 3000;
		char *p = malloc(n);
		if (!p)
			abort();
		if (n)
			p[0] = p[n - 1] = 7;
		void *old = __atomic_exchange_n(&shared[s % 64], p, __ATOMIC_ACQ_REL);
		free(old);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	for (int i = 0; i < 2000; i++)
		free(malloc(1 + (size_t)i % 5000));
	return arg;
}

static int child(void)
{
	alarm(10);
	static volatile size_t zero = 0;
	for (int i = 0; i < 100; i++)
		free(malloc(zero));   /* malloc(0)'s arenas have a lock too */
	void *keep[500];
	for (int i = 0; i < 500; i++) {
		keep[i] = malloc(i % 50 == 0 ? 2 << 20 : 1 + (size_t)i * 13);
		if (!keep[i])
			return 3;
		memset(keep[i], 1, 16);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, keep[1]) != 0)
		return 4;
	void *r;
	pthread_join(t, &r);
	for (int i = 0; i < 500; i++)
		free(keep[i]);
	return r == keep[1] ? 0 : 5;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 30;
	pthread_t th[NR_THREADS];
	for (int i = 0; i < NR_THREADS; i++)
		pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int failures = 0;
	for (int r = 0; r < rounds; r++) {
		usleep(2000);
		pid_t pid = fork();
		if (pid == 0)
			_exit(child());
		int status = 0;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "dropin-fork: child %d %s %d\n", r, WIFEXITED(status) ? "exited" : "died of signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			failures++;
		}
	}
	stop = 1;
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 64; i++)
		free(shared[i]);
	printf("dropin-fork: %d forks, %d failed\n", rounds, failures);
	return failures ? 1 : 0;
}
