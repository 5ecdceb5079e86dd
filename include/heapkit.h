// SPDX-License-Identifier: MIT
/*
 * heapkit: a family of memory allocators behind one interface.
 *
 * An allocator is an instance (struct hk_alloc) created over memory it is
 * handed, with its metadata carved from that memory:
 *
 *     static char heap[1 << 20] __attribute__((aligned(4096)));
 *     struct hk_alloc *a = hk_buddy_create(heap, sizeof heap);
 *     void *p = hk_malloc(a, 100);
 *     hk_free(a, p);
 *
 * The shape follows Unikraft's struct uk_alloc so that the Unikraft glue is
 * thin. The calls below give the malloc family's exact semantics for every
 * backend (argument checks, errno, zero sizes); a backend implements only
 * the operations table in <heapkit/backend.h>.
 */
#ifndef HEAPKIT_H
#define HEAPKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version, in one place: CMake, pkg-config and the sonames read it here. */
#define HK_VERSION_MAJOR 0
#define HK_VERSION_MINOR 2
#define HK_VERSION_PATCH 0
#define HK_VERSION_NUMBER (HK_VERSION_MAJOR * 10000 + HK_VERSION_MINOR * 100 + HK_VERSION_PATCH)

/* The version of the library linked in, "MAJOR.MINOR.PATCH" (may differ from the header's). */
const char *hk_version(void);

/* Size of the unit palloc()/pfree() deal in: 4 KiB. */
#define HK_PAGE_SIZE 4096u

/*
 * The alignment a block of size bytes has at least when none is asked for:
 * max_align_t's 16, or 8 for 8 bytes or fewer (shard's 8-byte class; no
 * object that fits needs more). An alignment asked for is always given.
 */
#define HK_BLOCK_ALIGN(size) ((size) > 8 ? 16u : 8u)

/* Error numbers reported through errno where it exists (Linux values). */
#define HK_ENOMEM 12
#define HK_EINVAL 22

typedef struct hk_alloc hk_alloc_t;

/*
 * Statistics of one instance. Counters only grow; bytes are usable sizes of
 * live blocks as the backend accounts them (whole pages for palloc).
 */
struct hk_stats {
	uint64_t nr_allocs;    /* successful allocations (malloc family, palloc) */
	uint64_t nr_frees;     /* blocks given back (free, pfree, realloc moves) */
	uint64_t nr_failed;    /* requests answered with NULL / an error */
	size_t bytes_in_use;   /* bytes held by live blocks */
	size_t peak_bytes;     /* highest bytes_in_use reached (shard, several threads: docs/shard.md) */
	size_t bytes_managed;  /* memory handed to the instance (create + addmem) */
};

/* The first inconsistency a heap check found. */
struct hk_check_report {
	const void *addr;      /* where: the block or metadata found wrong */
	const char *what;      /* a static sentence saying what was wrong */
};

/* Capabilities: what a backend can do; the conformance suite skips the rest. */
enum hk_caps {
	HK_CAP_FREE = 1u << 0,        /* free() reclaims memory */
	HK_CAP_THREADS = 1u << 1,     /* safe to call from several threads */
	HK_CAP_ADDMEM = 1u << 2,      /* accepts more regions after create */
	HK_CAP_PAGES = 1u << 3,       /* palloc/pfree are served */
	HK_CAP_EXACT_AVAIL = 1u << 4, /* availmem returns to its value after a free-all */
	HK_CAP_RELEASE = 1u << 5,     /* after hk_destroy the region is the caller's again */
	HK_CAP_ZERO_SIZE = 1u << 6,   /* malloc(0) is a block of zero usable bytes (checked instances) */
};

/* --- Instances of built-in backends ------------------------------------- */

/*
 * Each creates an instance over [base, base+len) with its metadata inside that
 * region, or returns NULL when the region is too small for the backend (its
 * registry entry says how small it may be). The memory must stay valid and
 * untouched by others for the instance's lifetime.
 */
hk_alloc_t *hk_buddy_create(void *base, size_t len);
hk_alloc_t *hk_region_create(void *base, size_t len);
hk_alloc_t *hk_tlsf_create(void *base, size_t len);
hk_alloc_t *hk_shard_create(void *base, size_t len);
/* Optional, hosted only, where libmimalloc is installed: see docs/mimalloc.md. */
hk_alloc_t *hk_mimalloc_create(void *base, size_t len);

/*
 * The checked build: a wrapper over any instance that detects double free,
 * free of a pointer heapkit never returned, writes past the end of a block
 * and realloc of a freed pointer, reports the address and aborts (see
 * docs/safety.md). quarantine: how many freed blocks are held back to catch
 * a late double free (0: the default, 256). Its metadata comes from inner,
 * which must outlive it; hk_destroy of the wrapper leaves inner alive.
 */
hk_alloc_t *hk_checked_create(hk_alloc_t *inner, size_t quarantine);

/* --- The malloc family on an instance ----------------------------------- */

/* malloc(0) returns a unique pointer that may be freed. NULL + ENOMEM on failure. */
void *hk_malloc(hk_alloc_t *a, size_t size);
/* Zeroed n*size bytes; NULL + ENOMEM when n*size overflows. */
void *hk_calloc(hk_alloc_t *a, size_t n, size_t size);
/*
 * realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL.
 * On failure p is untouched and NULL + ENOMEM is returned. The contents up
 * to min(old usable size, size) are kept.
 */
void *hk_realloc(hk_alloc_t *a, void *p, size_t size);
/*
 * EINVAL if align is not a power of two or is below sizeof(void *); ENOMEM
 * when memory is short. *out is written only on success.
 */
int hk_posix_memalign(hk_alloc_t *a, void **out, size_t align, size_t size);
/* Any power-of-two align (smaller ones are raised); NULL + EINVAL otherwise. */
void *hk_memalign(hk_alloc_t *a, size_t align, size_t size);
/* free(NULL) does nothing. */
void hk_free(hk_alloc_t *a, void *p);
/* Bytes usable at p (>= the size asked for); 0 for NULL. */
size_t hk_usable_size(hk_alloc_t *a, void *p);

/* --- Pages, memory, introspection --------------------------------------- */

/* npages whole 4 KiB pages, 4 KiB aligned; NULL + ENOMEM on failure. */
void *hk_palloc(hk_alloc_t *a, size_t npages);
void hk_pfree(hk_alloc_t *a, void *p, size_t npages);
/* Hand the instance another region. 0, or -HK_EINVAL / -HK_ENOMEM. */
int hk_addmem(hk_alloc_t *a, void *base, size_t len);
/* The largest request that would succeed now (a lower bound). */
size_t hk_maxalloc(hk_alloc_t *a);
/* Free bytes the instance still holds. */
size_t hk_availmem(hk_alloc_t *a);
void hk_stats_get(hk_alloc_t *a, struct hk_stats *out);
/*
 * Walk the instance; 0 if consistent, else -1 with the first inconsistency
 * in *r (r may be NULL).
 */
int hk_check(hk_alloc_t *a, struct hk_check_report *r);
/* Capabilities (enum hk_caps) and backend name of an instance. */
unsigned hk_caps(const hk_alloc_t *a);
const char *hk_name(const hk_alloc_t *a);
/*
 * Release the instance: threads' heaps and any outside memory are given
 * back. The region handed to create() is the caller's again afterwards.
 */
void hk_destroy(hk_alloc_t *a);

/* --- The registry -------------------------------------------------------- */

struct hk_backend {
	const char *name;       /* "buddy", "shard", ... */
	const char *summary;    /* one line: what it is for */
	hk_alloc_t *(*create)(void *base, size_t len);
	unsigned caps;          /* enum hk_caps */
	size_t min_region;      /* smallest len create() accepts */
};

/* Number of registered backends, and the i-th (NULL past the end). */
size_t hk_backend_count(void);
const struct hk_backend *hk_backend_at(size_t i);
/* The backend called name, or NULL. */
const struct hk_backend *hk_backend_find(const char *name);
/*
 * Create an instance of the backend called name (hk_create) or described by b
 * (hk_backend_create). NULL on failure with errno EINVAL (no such backend, a
 * NULL region) or ENOMEM (len below the backend's min_region, or a region the
 * backend refused), and the reason in hk_last_error().
 */
hk_alloc_t *hk_create(const char *name, void *base, size_t len);
hk_alloc_t *hk_backend_create(const struct hk_backend *b, void *base, size_t len);
/*
 * Why the last hk_create / hk_backend_create that failed, in any thread,
 * failed: a static sentence ("no error" before any failure). Process-wide,
 * not per thread: with creations failing in several threads at once it names
 * one of them.
 */
const char *hk_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* HEAPKIT_H */
