// SPDX-License-Identifier: MIT
/*
 * The instance API in checker builds (HK_ASAN, HK_VALGRIND; see
 * core/annotate.h): every block handed out is announced, every block freed is
 * poisoned and held in a per-instance quarantine before the backend gets it
 * back, so a use after free or a double free is reported by the checker
 * while the block is held, and the backend never touches poisoned memory.
 *
 * The quarantine is a FIFO linked through the held blocks' first words
 * (a block is at least HK_MIN_ALIGN bytes). It is emptied when it holds more
 * than QUARANTINE_BYTES or QUARANTINE_BLOCKS, when an allocation fails (then
 * the allocation is retried), and before anything that reports on free
 * memory (availmem, maxalloc, stats, destroy).
 *
 * Backends that cannot free (no HK_CAP_FREE) get the free at once and the
 * block is not poisoned (region may hand the same bytes out again). Checked instances (src/checked/checked.c) are
 * left alone: they fill and inspect freed blocks themselves.
 *
 * This file is core's, not checked's, because every build of api.c needs it
 * (the drop-in links core without src/checked).
 */
#include "core/internal.h"
#include "core/annotate.h"

#if HK_ANNOTATE_ON

/* The checked instances' operations (src/checked); weak: absent when checked is not linked. */
extern const struct hk_alloc_ops _hk_checked_ops __attribute__((weak));


/* --- Limits ------------------------------------------------------------- */
#define QUARANTINE_BYTES (1u << 20)   /* 1 MiB of freed blocks held at most */
#define QUARANTINE_BLOCKS 1024u       /* blocks held at most */

static inline hk_lock_t *quarantine_lock(hk_alloc_t *a) { return (hk_lock_t *)&a->quarantine.lock; }

/* --- The quarantine ------------------------------------------------------ */

/* Give the oldest held block to the backend. Lock held, quarantine not empty. */
static void quarantine_evict_one(hk_alloc_t *a)
{
	struct hk_quarantine *q = &a->quarantine;
	void **b = q->head;
	HK_ANNOTATE_REUSE(b, sizeof(void *));
	q->head = *b;
	size_t usable = HK_ANNOTATE_BACKEND(a->ops->usable_size(a, b));
	HK_ANNOTATE_REUSE(b, usable);
	q->bytes -= usable < q->bytes ? usable : q->bytes;
	q->count -= q->count > 0;
	if (!q->head) {
		q->tail = NULL;
		q->bytes = 0;
		q->count = 0;
	}
	HK_ANNOTATE_BACKEND_VOID(a->ops->free(a, b));
}

/* Hold p, poisoned; evict the oldest blocks past the limits. */
static void quarantine_put(hk_alloc_t *a, void *p, size_t usable)
{
	struct hk_quarantine *q = &a->quarantine;
	/* A double free writes into a poisoned block here: the checker reports it. */
	*(void **)p = NULL;
	HK_ANNOTATE_FREE(p, usable);
	hk_lock(quarantine_lock(a));
	if (q->tail) {
		HK_ANNOTATE_REUSE(q->tail, sizeof(void *));
		*(void **)q->tail = p;
		hk_asan_poison(q->tail, sizeof(void *));
	} else {
		q->head = p;
	}
	q->tail = p;
	q->bytes += usable;
	q->count++;
	while (q->head && (q->bytes > QUARANTINE_BYTES || q->count > QUARANTINE_BLOCKS))
		quarantine_evict_one(a);
	hk_unlock(quarantine_lock(a));
}

void _hk_annot_flush(hk_alloc_t *a)
{
	if (!__atomic_load_n(&a->quarantine.count, __ATOMIC_RELAXED))
		return;
	hk_lock(quarantine_lock(a));
	while (a->quarantine.head)
		quarantine_evict_one(a);
	hk_unlock(quarantine_lock(a));
}

/* --- Announced calls ----------------------------------------------------- */

/* Checked instances do their own checking. */
static inline bool announced(hk_alloc_t *a) { return a->ops != &_hk_checked_ops; }

void *_hk_annot_alloc(hk_alloc_t *a, size_t align, size_t size, bool zero)
{
	void *p = HK_ANNOTATE_BACKEND(align ? a->ops->memalign(a, align, size) : a->ops->malloc(a, size));
	if (!p && __atomic_load_n(&a->quarantine.count, __ATOMIC_RELAXED)) {
		_hk_annot_flush(a);
		p = HK_ANNOTATE_BACKEND(align ? a->ops->memalign(a, align, size) : a->ops->malloc(a, size));
	}
	if (!p)
		return NULL;
	if (announced(a))
		HK_ANNOTATE_MALLOC(p, HK_ANNOTATE_BACKEND(a->ops->usable_size(a, p)), 0);
	if (zero)
		memset(p, 0, size);
	return p;
}

void _hk_annot_free(hk_alloc_t *a, void *p)
{
	if (!announced(a)) {
		a->ops->free(a, p);
		return;
	}
	size_t usable = HK_ANNOTATE_BACKEND(a->ops->usable_size(a, p));
	if (!(hk_caps(a) & HK_CAP_FREE) || usable < sizeof(void *)) {
		/* The backend may hand this memory out again at once (region rolls back): no poison. */
		HK_ANNOTATE_BACKEND_VOID(a->ops->free(a, p));
		HK_ANNOTATE_FREE(p);
		HK_ANNOTATE_REUSE(p, usable);
		return;
	}
	quarantine_put(a, p, usable);
}

/* Grow by moving (the copy stays in announced memory); shrink in place. */
void *_hk_annot_realloc(hk_alloc_t *a, void *p, size_t size)
{
	if (!announced(a))
		return a->ops->realloc(a, p, size);
	size_t old = HK_ANNOTATE_BACKEND(a->ops->usable_size(a, p));
	if (size <= old)
		return p;
	void *q = _hk_annot_alloc(a, 0, size, false);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	_hk_annot_free(a, p);
	return q;
}

#endif /* HK_ANNOTATE_ON */
