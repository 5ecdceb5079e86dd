// SPDX-License-Identifier: MIT
/*
 * A program with known allocations, run under libheapkit-trace.so by the
 * trace test: 4 threads each make OBJS blocks (malloc, calloc, memalign,
 * realloc) and hand half of them to the next thread to free; then a fork
 * whose child allocates; the main thread leaves LEAK blocks unfreed.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define OBJS 2000
#define LEAK 10

static void *handoff[THREADS][OBJS];
static void *volatile leaked[LEAK];   /* kept, never freed: a program that exits without freeing */
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	for (int i = 0; i < OBJS; i++) {
		void *p;
		switch (i % 4) {
		case 0: p = malloc(16 + (size_t)i); break;
		case 1: p = calloc(3, 100); break;
		case 2: p = memalign(64, 200); break;
		default: p = realloc(malloc(10), 5000); break; /* two allocations, one free */
		}
		memset(p, 1, 10);
		handoff[id][i] = p;
	}
	pthread_barrier_wait(&barrier);
	/* Free own even ones, and the odd ones of the previous thread. */
	int prev = (id + THREADS - 1) % THREADS;
	for (int i = 0; i < OBJS; i++)
		free(i % 2 ? handoff[prev][i] : handoff[id][i]);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 100; i++) {
			leaked[0] = malloc(100);
			free(leaked[0]);
		}
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	for (int i = 0; i < LEAK; i++)
		leaked[i] = malloc(32);
	return 0;
}
