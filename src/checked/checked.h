// SPDX-License-Identifier: MIT
/*
 * The checked build inside the library: what src/override and the checker
 * annotations need to know about checked instances (the public constructor,
 * hk_checked_create, is in <heapkit.h>).
 */
#ifndef HK_CHECKED_CHECKED_H
#define HK_CHECKED_CHECKED_H

#include "core/internal.h"

/* The operations of every checked instance (a checked instance has a->ops == &_hk_checked_ops). */
extern const struct hk_alloc_ops _hk_checked_ops;

#if defined(HK_HAVE_SHARD) && defined(HK_HOSTED) && HK_HOSTED
/* The shard allocator over OS pages: the drop-in's instance (src/shard). */
extern hk_alloc_t *_hk_shard_os_instance(void);
/*
 * A process-wide checked instance over _hk_shard_os_instance(), created on
 * first use (thread-safe); libheapkit-checked.so routes every call here.
 * NULL if the shard instance cannot be had.
 */
extern hk_alloc_t *_hk_dropin_checked(void);
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
