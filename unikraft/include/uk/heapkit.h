// SPDX-License-Identifier: MIT
/*
 * heapkit's allocators as Unikraft allocators (struct uk_alloc).
 *
 * An application may create more instances than the boot allocator, over
 * memory it owns, and reach the heapkit instance behind any of them:
 *
 *     static char pool[1 << 20] __aligned(4096);
 *     struct uk_alloc *a = uk_heapkit_create("tlsf", pool, sizeof pool);
 *     void *p = uk_malloc(a, 100);
 *
 * Each instance is registered with ukalloc (uk_alloc_register); the first
 * one registered in the system becomes the default allocator, which is why
 * the boot allocator goes first.
 */
#ifndef __UK_HEAPKIT_H__
#define __UK_HEAPKIT_H__

#include <uk/alloc.h>
#include <heapkit.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A struct uk_alloc served by the heapkit backend called backend ("buddy",
 * "region", "tlsf", "shard": those enabled in Kconfig) over [base,
 * base+len). The struct itself is the instance's first allocation. With
 * LIBHEAPKIT_CHECKED the instance is wrapped in heapkit's checked build.
 * NULL if the backend is unknown or the region too small.
 */
struct uk_alloc *uk_heapkit_create(const char *backend, void *base, __sz len);

/* The heapkit instance behind a, or NULL when a is not heapkit's. */
hk_alloc_t *uk_heapkit_instance(struct uk_alloc *a);

/*
 * heapkit's statistics of a (see struct hk_stats in <heapkit.h>): 0, or
 * -EINVAL when a is not heapkit's.
 */
int uk_heapkit_stats(struct uk_alloc *a, struct hk_stats *out);

/*
 * Walk a's heap: 0 if consistent, -EINVAL when a is not heapkit's, else
 * -1 with the first inconsistency printed to the kernel console.
 */
int uk_heapkit_check(struct uk_alloc *a);

/*
 * Which region of a holds p: 0 for the one it was created over, 1.. for
 * those added by addmem, in order (the first UK_HEAPKIT_NR_REGIONS are
 * remembered). -ENOENT when p is in none of them, -EINVAL when a is not
 * heapkit's. For checking where boot structures came from.
 */
#define UK_HEAPKIT_NR_REGIONS 8
int uk_heapkit_region_of(struct uk_alloc *a, const void *p);

/*
 * The boot allocator that runs: a heapkit backend's name ("tlsf", "shard",
 * "buddy", "region", "mimalloc") or "ukbuddy" (Unikraft's binary buddy),
 * as chosen by heapkit.alloc= on the kernel command line or the configured
 * default; NULL if heapkit did not start the boot allocator.
 */
const char *uk_heapkit_boot_name(void);

#ifdef __cplusplus
}
#endif
#endif /* __UK_HEAPKIT_H__ */
