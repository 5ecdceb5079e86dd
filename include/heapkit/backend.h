// SPDX-License-Identifier: MIT
/*
 * For implementers of a heapkit backend: the operations table, the instance
 * header every backend embeds, registration, and compat helpers.
 *
 * The public calls in <heapkit.h> check arguments and handle the cases every
 * malloc must (zero sizes, overflow, bad alignment, realloc to 0, errno), so
 * an operation is only ever called with:
 *   - malloc:   1 <= size <= HK_MAX_REQUEST (0 too with HK_CAP_ZERO_SIZE)
 *   - memalign: align a power of two, sizeof(void *) <= align, size as malloc
 *   - realloc:  p != NULL, size as malloc
 *   - free, usable_size: p != NULL
 *   - palloc:   1 <= npages, npages * HK_PAGE_SIZE <= HK_MAX_REQUEST
 * and counts failed requests itself. A backend fills in stats' other fields.
 */
#ifndef HEAPKIT_BACKEND_H
#define HEAPKIT_BACKEND_H

#include <heapkit.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest size any request may have: PTRDIFF_MAX, as glibc. */
#define HK_MAX_REQUEST ((size_t)PTRDIFF_MAX)

struct hk_alloc_ops {
	void *(*malloc)(hk_alloc_t *a, size_t size);
	/* NULL: hk_calloc uses malloc + memset (see _hk_compat_calloc). */
	void *(*calloc)(hk_alloc_t *a, size_t size);
	/* NULL: _hk_compat_realloc (malloc, copy, free). */
	void *(*realloc)(hk_alloc_t *a, void *p, size_t size);
	/*
	 * Required (no compat helper): a backend whose blocks are only aligned
	 * naturally over-allocates and returns an aligned pointer inside, with
	 * its own block header (region_memalign in src/region/region.c).
	 */
	void *(*memalign)(hk_alloc_t *a, size_t align, size_t size);
	void (*free)(hk_alloc_t *a, void *p);
	size_t (*usable_size)(hk_alloc_t *a, void *p);
	/* NULL: palloc is memalign(HK_PAGE_SIZE, ...) and pfree is free. */
	void *(*palloc)(hk_alloc_t *a, size_t npages);
	void (*pfree)(hk_alloc_t *a, void *p, size_t npages);
	/* NULL: addmem is refused with -HK_EINVAL. */
	int (*addmem)(hk_alloc_t *a, void *base, size_t len);
	size_t (*maxalloc)(hk_alloc_t *a);
	size_t (*availmem)(hk_alloc_t *a);
	void (*stats)(hk_alloc_t *a, struct hk_stats *out);
	int (*check)(hk_alloc_t *a, struct hk_check_report *r);
	/* NULL: nothing to release. */
	void (*destroy)(hk_alloc_t *a);
};

/*
 * Blocks freed but held back from the backend in checker builds (HK_ASAN,
 * HK_VALGRIND), so a use after free is reported; see src/core/annotate.c.
 * All zero and unused in other builds. Touched only under lock.
 */
struct hk_quarantine {
	void *head;                        /* oldest held block; a block's first word links to the next */
	void *tail;                        /* newest held block */
	size_t bytes;                      /* usable bytes held */
	unsigned count;                    /* blocks held */
	unsigned lock;                     /* spin lock word, zero when free */
};

/*
 * The head of every instance. A backend's own instance struct starts with
 * it, so hk_alloc_t * converts to the backend's type by a cast.
 * Invariant: ops and backend never change after create; nr_failed is only
 * touched atomically (by the public calls).
 */
struct hk_alloc {
	const struct hk_alloc_ops *ops;    /* the backend's operations */
	const struct hk_backend *backend;  /* registry entry: name, caps */
	uint64_t nr_failed;                /* failed requests (atomic) */
	struct hk_quarantine quarantine;   /* checker builds only (see above) */
};

/* Fill the head of a new instance of backend (its descriptor; NULL for a wrapper that sets its own). */
void _hk_alloc_init(hk_alloc_t *a, const struct hk_alloc_ops *ops, const struct hk_backend *backend);

/*
 * The built-in backends' descriptors, each defined next to its create (e.g.
 * src/tlsf/tlsf.c), its min_region derived from the backend's constants;
 * src/core/registry.c lists the ones compiled in.
 */
extern const struct hk_backend _hk_buddy_backend;
extern const struct hk_backend _hk_shard_backend;
extern const struct hk_backend _hk_tlsf_backend;
extern const struct hk_backend _hk_region_backend;
extern const struct hk_backend _hk_mimalloc_backend;

/*
 * Register a backend from outside the built-in table (an optional backend,
 * a test double). 0, or -1 if the table is full or the name is taken.
 * The entry must outlive the process's use of the registry.
 */
int hk_backend_register(const struct hk_backend *b);

/* --- Compat helpers: build an operation from the others ------------------ */

/* malloc(size) then zero it. */
void *_hk_compat_calloc(hk_alloc_t *a, size_t size);
/*
 * malloc(size), copy min(old usable size, size) bytes, free(p): never reads
 * past the old block. On failure p is untouched.
 */
void *_hk_compat_realloc(hk_alloc_t *a, void *p, size_t size);

/* --- Statistics kept under a backend's lock ------------------------------ */

/* Counters a lock-protected backend keeps; hk_stats minus nr_failed. */
struct hk_counters {
	uint64_t nr_allocs;
	uint64_t nr_frees;
	size_t bytes_in_use;
	size_t peak_bytes;
	size_t bytes_managed;
};

static inline void _hk_count_alloc(struct hk_counters *c, size_t bytes)
{
	c->nr_allocs++;
	c->bytes_in_use += bytes;
	if (c->bytes_in_use > c->peak_bytes)
		c->peak_bytes = c->bytes_in_use;
}

static inline void _hk_count_free(struct hk_counters *c, size_t bytes)
{
	c->nr_frees++;
	c->bytes_in_use -= bytes;
}

static inline void _hk_counters_to_stats(const struct hk_counters *c, struct hk_stats *out)
{
	out->nr_allocs = c->nr_allocs;
	out->nr_frees = c->nr_frees;
	out->bytes_in_use = c->bytes_in_use;
	out->peak_bytes = c->peak_bytes;
	out->bytes_managed = c->bytes_managed;
}

/* Report an inconsistency from a check op: fills r (if any), returns -1. */
static inline int _hk_check_fail(struct hk_check_report *r, const void *addr, const char *what)
{
	if (r) {
		r->addr = addr;
		r->what = what;
	}
	return -1;
}

#ifdef __cplusplus
}
#endif
#endif /* HEAPKIT_BACKEND_H */
