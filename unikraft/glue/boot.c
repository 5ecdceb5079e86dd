// SPDX-License-Identifier: MIT
/*
 * ukboot's external allocator choices, served by heapkit backends. ukboot
 * (lib/ukboot/boot.c) calls uk_<x>_init(base, len) on the first free region
 * (without paging: the first free memory region, about 572 KiB below 640 KiB;
 * with paging and ukvmem: 64 KiB at the heap base) and hands every other
 * region to the result through uk_alloc_addmem(). From then on the same
 * allocator serves the boot context's TLS, thread stacks (through
 * ukallocstack), the scheduler's structures and the application.
 *
 *   LIBUKBOOT_INITTLSF       -> tlsf
 *   LIBUKBOOT_INITMIMALLOC   -> shard
 *   LIBUKBOOT_INITTINYALLOC  -> LIBHEAPKIT_TINYALLOC_BACKEND (buddy or region)
 */
#include <uk/config.h>
#include "glue.h"

#if CONFIG_LIBTLSF
#include <uk/tlsf.h>

struct uk_alloc *uk_tlsf_init(void *base, __sz len)
{
	return _uk_heapkit_boot(hk_tlsf_create, "tlsf", base, len);
}
#endif

#if CONFIG_LIBMIMALLOC
#include <uk/mimalloc.h>

struct uk_alloc *uk_mimalloc_init(void *base, __sz len)
{
	return _uk_heapkit_boot(hk_shard_create, "shard", base, len);
}
#endif

#if CONFIG_LIBTINYALLOC
#include <uk/tinyalloc.h>

struct uk_alloc *uk_tinyalloc_init(void *base, __sz len)
{
#if CONFIG_LIBHEAPKIT_TINYALLOC_REGION
	return _uk_heapkit_boot(hk_region_create, "region", base, len);
#else
	return _uk_heapkit_boot(hk_buddy_create, "buddy", base, len);
#endif
}
#endif
