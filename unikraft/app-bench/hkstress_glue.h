// SPDX-License-Identifier: MIT
/*
 * Forced into tools/hkstress.c for the musl image (-include, Makefile.uk).
 * Unikraft's scheduler is cooperative: hkstress's worker threads would each
 * run their whole round without a switch. Every allocator call hkstress makes
 * (hk_* and the libc ones) first goes through hkstress_tick(), which yields
 * every hkstress_yield_every-th call, so the threads interleave mid-round as
 * under preemption. Every header hkstress.c includes comes first (some,
 * like <sched.h>, declare malloc & co. again) so that the macros touch only
 * hkstress's calls, not the declarations.
 */
#ifndef HKSTRESS_GLUE_H
#define HKSTRESS_GLUE_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <heapkit.h>

extern unsigned hkstress_yield_every;   /* calls between two yields; 0: never */
void hkstress_tick(void);

#define malloc(n) (hkstress_tick(), malloc(n))
#define calloc(n, s) (hkstress_tick(), calloc(n, s))
#define realloc(p, n) (hkstress_tick(), realloc(p, n))
#define free(p) (hkstress_tick(), free(p))
#define memalign(al, n) (hkstress_tick(), memalign(al, n))
#define posix_memalign(pp, al, n) (hkstress_tick(), posix_memalign(pp, al, n))
#define hk_malloc(a, n) (hkstress_tick(), hk_malloc(a, n))
#define hk_calloc(a, n, s) (hkstress_tick(), hk_calloc(a, n, s))
#define hk_realloc(a, p, n) (hkstress_tick(), hk_realloc(a, p, n))
#define hk_free(a, p) (hkstress_tick(), hk_free(a, p))
#define hk_memalign(a, al, n) (hkstress_tick(), hk_memalign(a, al, n))
#define hk_posix_memalign(a, pp, al, n) (hkstress_tick(), hk_posix_memalign(a, pp, al, n))

#endif /* HKSTRESS_GLUE_H */
