// SPDX-License-Identifier: MIT
/*
 * Fork while other threads allocate: the child must allocate, free and exit
 * cleanly (no deadlock on a lock held at fork time, no corruption). Threads
 * allocate through malloc (the drop-in when the test runs under LD_PRELOAD)
 * and through an instance of every registered backend; each child uses
 * malloc and creates fresh instances of every backend (an instance another
 * thread was using at fork time is not safe to touch in the child).
 *
 *   fork [ROUNDS]
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NR_THREADS 3

/*
 * The sanitizers' own malloc (gcc 12's libasan) is not fork-safe: a child
 * that mallocs can hang on a lock another thread held. There the child
 * leaves malloc alone and tests the instances only.
 */
#if (defined(HK_ASAN) && HK_ASAN) || (defined(HK_TSAN) && HK_TSAN)
#define CHILD_USES_MALLOC 0
#else
#define CHILD_USES_MALLOC 1
#endif
#define CHILD_TIMEOUT_MS 20000

static volatile int stop;               /* set when the parent is done forking */

/* A mapping of len bytes for an instance; NULL if refused. */
static void *region_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static size_t region_len(const struct hk_backend *b)
{
	return b->min_region > ((size_t)8 << 20) ? b->min_region : (size_t)8 << 20;
}

/* Allocate, fill, check and free n blocks; through a (or malloc when a is NULL). 0 when all was well. */
static int churn(hk_alloc_t *a, unsigned n, unsigned seed)
{
	void *blocks[64] = { 0 };
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (i * 7 + seed) % 64;
		size_t size = 1 + (i * 131 + seed) % 3000;
		if (blocks[k]) {
			unsigned char *b = blocks[k];
			if (b[0] != (unsigned char)k)
				return -1;
			a ? hk_free(a, b) : free(b);
		}
		unsigned char *p = a ? hk_malloc(a, size) : malloc(size);
		if (p)
			memset(p, (int)k, size);
		blocks[k] = p;
	}
	for (unsigned k = 0; k < 64; k++)
		a ? hk_free(a, blocks[k]) : free(blocks[k]);
	return 0;
}

static void *thread_main(void *arg)
{
	hk_alloc_t *a = arg;
	unsigned seed = 1;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (churn(NULL, 200, seed++) || (a && churn(a, 200, seed++))) {
			fprintf(stderr, "fork: corruption in a parent thread\n");
			abort();
		}
	}
	return NULL;
}

/* The child: malloc, then a fresh instance of every backend. */
static int child_main(void)
{
	if (CHILD_USES_MALLOC && churn(NULL, 2000, 3))
		return 10;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		const struct hk_backend *b = hk_backend_at(i);
		size_t len = region_len(b);
		void *base = region_map(len);
		hk_alloc_t *a = base ? hk_create(b->name, base, len) : NULL;
		if (!a)
			return 11;
		if (churn(a, 1000, 5))
			return 12;
		if (hk_check(a, NULL))
			return 13;
		hk_destroy(a);
		munmap(base, len);
	}
	return 0;
}

/* Wait for pid at most CHILD_TIMEOUT_MS; kill it if it hangs. */
static int child_wait(pid_t pid)
{
	int status;
	for (int ms = 0; ms < CHILD_TIMEOUT_MS; ms += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 30;
	pthread_t tid[NR_THREADS * 8];
	void *bases[8] = { 0 };
	size_t lens[8] = { 0 };
	hk_alloc_t *insts[8] = { 0 };
	unsigned nthreads = 0, ninst = 0;
	/* One thread on malloc, and one on each backend that may be shared between threads. */
	for (size_t i = 0; i < hk_backend_count() && ninst < 8; i++) {
		const struct hk_backend *b = hk_backend_at(i);
		if ((b->caps & (HK_CAP_THREADS | HK_CAP_FREE)) != (HK_CAP_THREADS | HK_CAP_FREE))
			continue;
		lens[ninst] = region_len(b);
		bases[ninst] = region_map(lens[ninst]);
		insts[ninst] = bases[ninst] ? hk_create(b->name, bases[ninst], lens[ninst]) : NULL;
		if (insts[ninst])
			ninst++;
	}
	for (unsigned t = 0; t < NR_THREADS; t++)
		pthread_create(&tid[nthreads++], NULL, thread_main, NULL);
	for (unsigned k = 0; k < ninst; k++)
		pthread_create(&tid[nthreads++], NULL, thread_main, insts[k]);
	int bad = 0;
	for (unsigned r = 0; r < rounds && !bad; r++) {
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0)
			_exit(child_main());
		int status = child_wait(pid);
		if (status == -1) {
			fprintf(stderr, "fork: round %u: the child hung (a lock held across fork?)\n", r);
			bad = 1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "fork: round %u: the child failed (status 0x%x)\n", r, status);
			bad = 1;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	for (unsigned k = 0; k < ninst; k++) {
		hk_destroy(insts[k]);
		munmap(bases[k], lens[k]);
	}
	printf("fork: %u rounds, %u threads allocating: %s\n", rounds, nthreads, bad ? "FAILED" : "ok");
	return bad;
}
