// SPDX-License-Identifier: MIT
/*
 * tlsf: two-level segregated fit, O(1) malloc and free.
 *
 * malloc rounds the request to a span, finds a list whose every block fits
 * (mapping_search), takes the first block of the first non-empty list at or
 * above it (search_suitable_block), and splits off what it does not need.
 * free marks the block free in its boundary tags, merges it with a free
 * neighbour on either side (block_merge_prev, block_merge_next) and puts the
 * result in its list. Neither loops over blocks or lists. One lock guards an
 * instance. See tlsf_internal.h for the layouts and constants.
 */
#include "tlsf/tlsf_internal.h"

static const struct hk_alloc_ops tlsf_ops;

/* --- Requests ---------------------------------------------------------------- */

/* The span a request of size bytes needs, or 0 if no block can be that big. */
static inline size_t adjust_request_size(size_t size)
{
	if (hk_unlikely(size > SPAN_MAX - WORD))
		return 0;
	size_t span = hk_align_up(size + WORD, ALIGN_SIZE);
	return span < BLOCK_SPAN_MIN ? BLOCK_SPAN_MIN : span;
}

/* --- Finding and carving a free block --------------------------------------- */

/*
 * Take a free block of at least span out of its list, or NULL. First the
 * head of the list span itself maps to, when it fits (its blocks straddle
 * span: a freed block of the same size is reused at once, and the largest
 * free block can be handed out whole); then good fit: the first block of the
 * first non-empty list at or above the one mapping_search names, all of
 * whose blocks fit. Two looks, no loop.
 */
static inline struct tlsf_block *block_locate_free(struct tlsf_control *c, size_t span)
{
	unsigned fl, sl;
	mapping_insert(span, &fl, &sl);
	struct tlsf_block *b = c->heads[fl][sl];
	if (!b || block_span(b) < span) {
		mapping_search(span, &fl, &sl);
		b = search_suitable_block(c, &fl, &sl);
		if (hk_unlikely(!b))
			return NULL;
	}
	hk_assert_internal(block_is_free(b) && block_span(b) >= span);
	list_remove(c, b);
	return b;
}

/* Give back b's tail past span as a free block, if it is big enough to be one. */
static inline void block_trim_free(struct tlsf_control *c, struct tlsf_block *b, size_t span)
{
	if (block_span(b) - span >= BLOCK_SPAN_MIN)
		list_insert(c, block_split(b, span));
}

/* A free block out of its list becomes used, trimmed to span; its payload. */
static inline void *block_prepare_used(struct tlsf_control *c, struct tlsf_block *b, size_t span)
{
	block_trim_free(c, b, span);
	block_mark_used(b);
	_hk_count_alloc(&c->counters, block_usable(b));
	return block_to_payload(b);
}

/*
 * Split off the first gap bytes of free block b (out of its list) as a free
 * block of their own, in its list; returns the rest, free, out of any list.
 */
static struct tlsf_block *block_trim_free_leading(struct tlsf_control *c, struct tlsf_block *b, size_t gap)
{
	struct tlsf_block *rest = block_split(b, gap);
	list_insert(c, b);
	return rest;
}

/* --- Merging ---------------------------------------------------------------- */

/* b (free, in no list) swallows its predecessor if that is free; the result. */
static inline struct tlsf_block *block_merge_prev(struct tlsf_control *c, struct tlsf_block *b)
{
	if (block_is_prev_free(b)) {
		struct tlsf_block *prev = b->prev_phys;
		hk_assert_internal(block_is_free(prev) && block_next(prev) == b);
		list_remove(c, prev);
		block_absorb(prev, b);
		b = prev;
	}
	return b;
}

/* b (free or used, in no list) swallows its successor if that is free. */
static inline struct tlsf_block *block_merge_next(struct tlsf_control *c, struct tlsf_block *b)
{
	struct tlsf_block *next = block_next(b);
	if (block_is_free(next)) {
		list_remove(c, next);
		block_absorb(b, next);
	}
	return b;
}

/* --- Checks on a pointer handed back ---------------------------------------- */

__attribute__((noreturn, cold)) static hk_noinline void block_invalid(struct tlsf_control *c, const char *what, void *p)
{
	hk_unlock(&c->lock);
	_hk_fatal(what, p);
}

/*
 * The used block of payload p, after the checks that cost nothing: inside
 * the instance's areas, aligned, a sane header, not already free, and the
 * successor's tag agreeing. Lock held; fatal on failure.
 */
static inline struct tlsf_block *block_from_user(struct tlsf_control *c, void *p)
{
	uintptr_t u = (uintptr_t)p;
	if (hk_unlikely(u % ALIGN_SIZE || u < c->lo + sizeof(struct tlsf_area) + BLOCK_PAYLOAD_OFFSET || u >= c->hi))
		block_invalid(c, "tlsf: free/realloc of a pointer this instance never returned", p);
	struct tlsf_block *b = block_from_payload(p);
	size_t span = block_span(b);
	if (hk_unlikely(block_is_free(b)))
		block_invalid(c, "tlsf: double free (block is already free)", p);
	if (hk_unlikely((b->header & BLOCK_FLAGS & ~(BLOCK_FREE | BLOCK_PREV_FREE)) || span < BLOCK_SPAN_MIN ||
			span > c->hi - SENTINEL_SPACE - (uintptr_t)b || block_is_prev_free(block_at(b, span))))
		block_invalid(c, "tlsf: invalid free/realloc (no block header there, or it is corrupted)", p);
	return b;
}

/* --- The operations ------------------------------------------------------------ */

static void *tlsf_malloc(hk_alloc_t *a, size_t size)
{
	struct tlsf_control *c = to_control(a);
	size_t span = adjust_request_size(size);
	if (hk_unlikely(!span))
		return NULL;
	void *p = NULL;
	hk_lock(&c->lock);
	struct tlsf_block *b = block_locate_free(c, span);
	if (hk_likely(b != NULL))
		p = block_prepare_used(c, b, span);
	hk_unlock(&c->lock);
	return p;
}

/* A block whose payload is a multiple of align (> ALIGN_SIZE). */
static hk_noinline void *tlsf_memalign_slow(struct tlsf_control *c, size_t align, size_t size)
{
	size_t span = adjust_request_size(size);
	/* Room for the span, an alignment step, and a leading gap big enough to be a block. */
	if (!span || align > SPAN_MAX || span + BLOCK_SPAN_MIN > SPAN_MAX - align)
		return NULL;
	size_t need = span + align + BLOCK_SPAN_MIN;
	void *p = NULL;
	hk_lock(&c->lock);
	struct tlsf_block *b = block_locate_free(c, need);
	if (b) {
		uintptr_t payload = (uintptr_t)block_to_payload(b);
		size_t gap = hk_align_up(payload, align) - payload;
		if (gap && gap < BLOCK_SPAN_MIN)
			gap += align;
		if (gap)
			b = block_trim_free_leading(c, b, gap);
		hk_assert_internal(block_span(b) >= span);
		p = block_prepare_used(c, b, span);
	}
	hk_unlock(&c->lock);
	return p;
}

static void *tlsf_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	if (align <= ALIGN_SIZE)
		return tlsf_malloc(a, size);
	return tlsf_memalign_slow(to_control(a), align, size);
}

/* Lock held: b (used) becomes free, merged with its neighbours, and listed. */
static inline void block_release(struct tlsf_control *c, struct tlsf_block *b)
{
	_hk_count_free(&c->counters, block_usable(b));
	block_mark_free(b);
	b = block_merge_prev(c, b);
	b = block_merge_next(c, b);
	list_insert(c, b);
}

static void tlsf_free(hk_alloc_t *a, void *p)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	block_release(c, block_from_user(c, p));
	hk_unlock(&c->lock);
}

static size_t tlsf_usable_size(hk_alloc_t *a, void *p)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	size_t n = block_usable(block_from_user(c, p));
	hk_unlock(&c->lock);
	return n;
}

/*
 * Lock held: used block b keeps only span; the tail, if it can be a block,
 * is freed (merged with a free successor, listed).
 */
static void block_trim_used(struct tlsf_control *c, struct tlsf_block *b, size_t span)
{
	if (block_span(b) - span < BLOCK_SPAN_MIN)
		return;
	struct tlsf_block *rest = block_split(b, span);
	list_insert(c, block_merge_next(c, rest));
}

/*
 * Lock held: resize used block b to span without moving it, when it can be:
 * shrink by trimming the tail, grow by absorbing a free successor first.
 */
static bool block_resize_in_place(struct tlsf_control *c, struct tlsf_block *b, size_t span)
{
	size_t old_usable = block_usable(b);
	if (span > block_span(b)) {
		struct tlsf_block *next = block_next(b);
		if (!block_is_free(next) || block_span(b) + block_span(next) < span)
			return false;
		list_remove(c, next);
		block_absorb(b, next);
		block_mark_used(b);
	}
	block_trim_used(c, b, span);
	struct hk_counters *k = &c->counters;
	k->bytes_in_use = k->bytes_in_use - old_usable + block_usable(b);
	if (k->bytes_in_use > k->peak_bytes)
		k->peak_bytes = k->bytes_in_use;
	return true;
}

/* In place when it can be; otherwise allocate, copy, free. */
static void *tlsf_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct tlsf_control *c = to_control(a);
	size_t span = adjust_request_size(size);
	if (!span)
		return NULL;
	hk_lock(&c->lock);
	struct tlsf_block *b = block_from_user(c, p);
	size_t old_usable = block_usable(b);
	bool done = block_resize_in_place(c, b, span);
	hk_unlock(&c->lock);
	if (done)
		return p;
	void *q = tlsf_malloc(a, size);
	if (q) {
		memcpy(q, p, old_usable);
		tlsf_free(a, p);
	}
	return q;
}

static void *tlsf_palloc(hk_alloc_t *a, size_t npages)
{
	return tlsf_memalign_slow(to_control(a), HK_PAGE_SIZE, npages * HK_PAGE_SIZE);
}

static void tlsf_pfree(hk_alloc_t *a, void *p, size_t npages)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	struct tlsf_block *b = block_from_user(c, p);
	if (hk_unlikely((uintptr_t)p % HK_PAGE_SIZE || block_usable(b) / HK_PAGE_SIZE < npages))
		block_invalid(c, "tlsf: pfree of pages palloc did not return (wrong address or count)", p);
	block_release(c, b);
	hk_unlock(&c->lock);
}

/* --- Areas: create and addmem -------------------------------------------------- */

/*
 * Lay out [base, base+len) as an area: record, one free block, sentinel.
 * Lock held (or the instance not yet published). -HK_EINVAL if too small
 * or overlapping an area already there. Regions past SPAN_MAX are cut into
 * several areas.
 */
static int area_add(struct tlsf_control *c, void *base, size_t len)
{
	uintptr_t start = (uintptr_t)base, end = start + len;
	if (end < start || len < AREA_MIN)
		return -HK_EINVAL;
	if (start < (uintptr_t)(c + 1) && (uintptr_t)c < end)
		return -HK_EINVAL;
	for (struct tlsf_area *o = c->areas; o; o = o->next) {
		uintptr_t ob = (uintptr_t)o, oe = (uintptr_t)o->sentinel + SENTINEL_SPACE;
		if (start < oe && ob < end)
			return -HK_EINVAL;
	}
	int added = 0;
	while (end - start >= AREA_MIN) {
		uintptr_t rec = hk_align_up(start, ALIGN_SIZE);
		uintptr_t first = rec + sizeof(struct tlsf_area);
		uintptr_t stop = end - first > SPAN_MAX + SENTINEL_SPACE ? first + SPAN_MAX + SENTINEL_SPACE : end;
		uintptr_t sentinel = hk_align_down(stop - SENTINEL_SPACE, ALIGN_SIZE);
		if (sentinel < first + BLOCK_SPAN_MIN)
			break;
		struct tlsf_area *ar = (struct tlsf_area *)rec;
		ar->first = (struct tlsf_block *)first;
		ar->sentinel = (struct tlsf_block *)sentinel;
		ar->len = stop - start;
		ar->first->header = (sentinel - first) | BLOCK_FREE;
		ar->sentinel->header = 0;
		block_mark_free(ar->first);
		list_insert(c, ar->first);
		ar->next = c->areas;
		c->areas = ar;
		if (!c->lo || rec < c->lo)
			c->lo = rec;
		if (sentinel + SENTINEL_SPACE > c->hi)
			c->hi = sentinel + SENTINEL_SPACE;
		start = stop;
		added++;
	}
	if (!added)
		return -HK_EINVAL;
	c->counters.bytes_managed += len;
	return 0;
}

static int tlsf_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	int rc = area_add(c, base, len);
	hk_unlock(&c->lock);
	return rc;
}

hk_alloc_t *hk_tlsf_create(void *base, size_t len)
{
	uintptr_t b = hk_align_up((uintptr_t)base, _Alignof(struct tlsf_control));
	uintptr_t end = (uintptr_t)base + len;
	if (!base || end < (uintptr_t)base || b > end || end - b < sizeof(struct tlsf_control) + AREA_MIN)
		return NULL;
	struct tlsf_control *c = (struct tlsf_control *)b;
	memset(c, 0, sizeof *c);
	_hk_alloc_init(&c->base, &tlsf_ops, &_hk_tlsf_backend);
	if (area_add(c, c + 1, end - (uintptr_t)(c + 1)))
		return NULL;
	c->counters.bytes_managed = len;
	return &c->base;
}

/* --- Introspection ---------------------------------------------------------------- */

static size_t tlsf_availmem(hk_alloc_t *a)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	size_t n = c->free_span;
	hk_unlock(&c->lock);
	return n;
}

/*
 * The largest request malloc grants now: the head of the highest non-empty
 * list. Its own span maps to that list, whose head is looked at first; any
 * bigger span either maps there too (and the head is too small, and the
 * search starts above) or maps above it, where every list is empty.
 */
static size_t tlsf_maxalloc(hk_alloc_t *a)
{
	struct tlsf_control *c = to_control(a);
	size_t n = 0;
	hk_lock(&c->lock);
	if (c->fl_bitmap) {
		unsigned fl = hk_log2(c->fl_bitmap);
		unsigned sl = hk_log2(c->sl_bitmap[fl]);
		n = block_usable(c->heads[fl][sl]);
	}
	hk_unlock(&c->lock);
	return n;
}

static void tlsf_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct tlsf_control *c = to_control(a);
	hk_lock(&c->lock);
	_hk_counters_to_stats(&c->counters, out);
	hk_unlock(&c->lock);
}

static const struct hk_alloc_ops tlsf_ops = {
	.malloc = tlsf_malloc,
	.realloc = tlsf_realloc,
	.memalign = tlsf_memalign,
	.free = tlsf_free,
	.usable_size = tlsf_usable_size,
	.palloc = tlsf_palloc,
	.pfree = tlsf_pfree,
	.addmem = tlsf_addmem,
	.maxalloc = tlsf_maxalloc,
	.availmem = tlsf_availmem,
	.stats = tlsf_stats,
	.check = _hk_tlsf_check,
};

const struct hk_backend _hk_tlsf_backend = {
	.name = "tlsf",
	.summary = "two-level segregated fit: O(1) malloc and free, bounded latency",
	.create = hk_tlsf_create,
	.caps = HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	.min_region = TLSF_MIN_REGION,
};
