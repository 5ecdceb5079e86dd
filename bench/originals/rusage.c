// SPDX-License-Identifier: MIT
/*
 * rusage REPORT_FILE PROGRAM [ARGS...]: run PROGRAM, then write to REPORT_FILE one line
 * "exit_status wall_s cpu_s maxrss_kib" (exit_status -N when killed by signal N).
 *
 * Why a wrapper: Linux keeps a process's peak RSS across exec, so a child forked from a large parent
 * (the Python driver) reports at least the parent's size.  This process is small; its child's peak is
 * the program's own.  Used by bench/originals/run.py; built on the fly, not part of the library.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s REPORT_FILE PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 2;
	}
	if (pid == 0) {
		execv(argv[2], argv + 2);
		perror("rusage: exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("rusage: report file");
		return 2;
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	fprintf(f, "%d %.6f %.6f %ld\n", code, wall, cpu, ru.ru_maxrss);
	return fclose(f) == 0 ? 0 : 2;
}
