// SPDX-License-Identifier: MIT
/*
 * The checked build inside the library: what src/override and the checker
 * annotations need to know about checked instances (the public constructor,
 * hk_checked_create, is in <heapkit.h>).
 */
#ifndef HK_CHECKED_CHECKED_H
#define HK_CHECKED_CHECKED_H

#include "core/internal.h"

/* How a block was allocated: the form its free must match. */
#define HK_FORM_MALLOC 0u            /* malloc, calloc, realloc, memalign, ... */
#define HK_FORM_NEW 1u               /* operator new */
#define HK_FORM_NEW_ARRAY 2u         /* operator new[] */
#define HK_SIZE_UNKNOWN SIZE_MAX     /* an unsized delete */

/*
 * A checked instance's malloc and free in a given form (the drop-in's C++
 * operators): align 0 for the default alignment; free_as reports a free in
 * another form than the allocation's, and a size != HK_SIZE_UNKNOWN that is
 * not the size asked for. Other instances: plain memalign / free.
 */
void *_hk_checked_alloc_as(hk_alloc_t *a, size_t align, size_t size, unsigned form);
void _hk_checked_free_as(hk_alloc_t *a, void *p, unsigned form, size_t size, size_t align);

/*
 * The drop-in's string functions: die if writing n bytes at dst runs out of
 * a live block (or into a held one), before the write. fn names the caller.
 */
void _hk_checked_write_check(hk_alloc_t *a, const void *dst, size_t n, const char *fn);
#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
/* Nonzero while this thread is inside a checked instance (its own copies are not checked). */
extern __thread int _hk_ck_busy __attribute__((tls_model("initial-exec")));
#endif

/* The operations of every checked instance (a checked instance has a->ops == &_hk_checked_ops). */
extern const struct hk_alloc_ops _hk_checked_ops;

#if defined(HK_HAVE_SHARD) && defined(HK_HOSTED) && HK_HOSTED
/* The shard allocator over OS pages: the drop-in's instance (src/shard). */
extern hk_alloc_t *_hk_shard_os_instance(void);
/* shard's fault namer (src/shard/harden.c), which the checked drop-in's handler asks after its own. */
extern void _hk_shard_fault_name(uintptr_t a, unsigned access);
/*
 * A process-wide checked instance over _hk_shard_os_instance(), created on
 * first use (thread-safe); libheapkit-checked.so routes every call here.
 * NULL if the shard instance cannot be had.
 */
extern hk_alloc_t *_hk_dropin_checked(void);
/* _hk_checked_write_check on that instance, once it exists and unless this thread is inside it. */
extern void _hk_dropin_write_check(const void *dst, size_t n, const char *fn);
/*
 * fork in a threaded program: prepare takes the checked instance's lock (call
 * it before the shard's own prepare), parent and child release it (after the
 * shard's). No-ops while the instance does not exist.
 */
extern void _hk_dropin_checked_fork_prepare(void);
extern void _hk_dropin_checked_fork_parent(void);
extern void _hk_dropin_checked_fork_child(void);
#endif

#endif /* HK_CHECKED_CHECKED_H */
