// SPDX-License-Identifier: MIT
/*
 * region: a bump allocator for boot time.
 *
 * Memory is a chain of regions; each hands out blocks from a cursor that only
 * moves up. A block is preceded by one header word holding its usable size,
 * so usable_size and realloc work. free() is counted but reclaims nothing,
 * except that freeing the newest block of the current region moves the cursor
 * back (a cheap win for boot-time alloc/free pairs).
 *
 * Invariants: every block start is HK_MIN_ALIGN aligned; cursor <= end;
 * regions are linked newest first and the newest is the one bumped.
 */
#include "core/internal.h"

/* One region handed to the instance. Lives at the start of that region. */
struct region_chunk {
	struct region_chunk *next;   /* older region, or NULL */
	uintptr_t cursor;            /* next free byte (block headers included) */
	uintptr_t end;               /* one past the last usable byte */
	uintptr_t start;             /* first byte blocks may use */
};

/* A block's header: the word just before the block. */
#define BLOCK_HDR sizeof(size_t)

struct region {
	struct hk_alloc base;
	hk_lock_t lock;
	struct region_chunk *chunks;    /* newest first; the one bumped */
	void *last;                     /* newest block (free of it rolls back), or NULL */
	struct hk_counters counters;
};

static const struct hk_alloc_ops region_ops;

/* The smallest region the registry offers: the instance and a chunk header, and blocks after them. */
#define REGION_MIN_REGION ((size_t)256)
_Static_assert(sizeof(struct region) + sizeof(struct region_chunk) + 4 * HK_MIN_ALIGN <= REGION_MIN_REGION,
	       "the smallest region holds the headers and a few blocks");

static inline struct region *to_region(hk_alloc_t *a) { return (struct region *)a; }
static inline size_t *block_size_word(void *p) { return (size_t *)((char *)p - BLOCK_HDR); }

/* Lay a chunk header at the start of [base, base+len); NULL if too small. */
static struct region_chunk *chunk_init(void *base, size_t len)
{
	uintptr_t b = hk_align_up((uintptr_t)base, _Alignof(struct region_chunk));
	uintptr_t e = (uintptr_t)base + len;
	if (e < (uintptr_t)base || b + sizeof(struct region_chunk) + HK_MIN_ALIGN >= e)
		return NULL;
	struct region_chunk *c = (struct region_chunk *)b;
	c->next = NULL;
	c->start = c->cursor = b + sizeof *c;
	c->end = e;
	return c;
}

/* Carve size bytes aligned to align from chunk c, or NULL. Lock held. */
static void *chunk_bump(struct region_chunk *c, size_t align, size_t size)
{
	uintptr_t p = hk_align_up(c->cursor + BLOCK_HDR, align);
	if (p < c->cursor || p > c->end || c->end - p < size)
		return NULL;
	size_t usable = hk_align_up(size, HK_MIN_ALIGN);
	if (usable > c->end - p)
		usable = c->end - p;
	*block_size_word((void *)p) = usable;
	c->cursor = p + usable;
	return (void *)p;
}

static void *region_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	struct region *r = to_region(a);
	if (align < HK_MIN_ALIGN)
		align = HK_MIN_ALIGN;
	void *p = NULL;
	hk_lock(&r->lock);
	for (struct region_chunk *c = r->chunks; c && !p; c = c->next)
		p = chunk_bump(c, align, size);
	if (p) {
		r->last = p;
		_hk_count_alloc(&r->counters, *block_size_word(p));
	}
	hk_unlock(&r->lock);
	return p;
}

static void *region_malloc(hk_alloc_t *a, size_t size)
{
	return region_memalign(a, HK_MIN_ALIGN, size);
}

/* The chunk holding p, or NULL. Lock held. */
static struct region_chunk *chunk_of(struct region *r, void *p)
{
	for (struct region_chunk *c = r->chunks; c; c = c->next)
		if ((uintptr_t)p >= c->start && (uintptr_t)p < c->cursor)
			return c;
	return NULL;
}

static void region_free(hk_alloc_t *a, void *p)
{
	struct region *r = to_region(a);
	hk_lock(&r->lock);
	struct region_chunk *c = chunk_of(r, p);
	if (hk_unlikely(!c)) {
		hk_unlock(&r->lock);
		_hk_fatal("region: free of a pointer this instance never returned", p);
	}
	size_t usable = *block_size_word(p);
	_hk_count_free(&r->counters, usable);
	/* Roll back only the newest block, and only if nothing came after it. */
	if (p == r->last && (uintptr_t)p + usable == c->cursor) {
		c->cursor = (uintptr_t)p - BLOCK_HDR;
		r->last = NULL;
	}
	hk_unlock(&r->lock);
}

static size_t region_usable_size(hk_alloc_t *a, void *p)
{
	return *block_size_word(p);
}

/* Grow in place when p is the newest block and its chunk has room. */
static void *region_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct region *r = to_region(a);
	size_t *sz = block_size_word(p);
	if (size <= *sz)
		return p;
	hk_lock(&r->lock);
	struct region_chunk *c = r->chunks;
	uintptr_t want = hk_align_up(size, HK_MIN_ALIGN);
	if (p == r->last && (uintptr_t)p + *sz == c->cursor && c->end - (uintptr_t)p >= want) {
		r->counters.bytes_in_use += want - *sz;
		if (r->counters.bytes_in_use > r->counters.peak_bytes)
			r->counters.peak_bytes = r->counters.bytes_in_use;
		*sz = want;
		c->cursor = (uintptr_t)p + want;
		hk_unlock(&r->lock);
		return p;
	}
	hk_unlock(&r->lock);
	return _hk_compat_realloc(a, p, size);
}

static int region_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct region *r = to_region(a);
	struct region_chunk *c = chunk_init(base, len);
	if (!c)
		return -HK_EINVAL;
	hk_lock(&r->lock);
	c->next = r->chunks;
	r->chunks = c;
	r->counters.bytes_managed += len;
	hk_unlock(&r->lock);
	return 0;
}

static size_t region_availmem(hk_alloc_t *a)
{
	struct region *r = to_region(a);
	size_t n = 0;
	hk_lock(&r->lock);
	for (struct region_chunk *c = r->chunks; c; c = c->next)
		n += c->end - c->cursor;
	hk_unlock(&r->lock);
	return n;
}

static size_t region_maxalloc(hk_alloc_t *a)
{
	struct region *r = to_region(a);
	size_t best = 0;
	hk_lock(&r->lock);
	for (struct region_chunk *c = r->chunks; c; c = c->next) {
		uintptr_t p = hk_align_up(c->cursor + BLOCK_HDR, HK_MIN_ALIGN);
		if (p < c->end && c->end - p > best)
			best = c->end - p;
	}
	hk_unlock(&r->lock);
	return best;
}

static void region_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct region *r = to_region(a);
	hk_lock(&r->lock);
	_hk_counters_to_stats(&r->counters, out);
	hk_unlock(&r->lock);
}

static int region_check(hk_alloc_t *a, struct hk_check_report *rep)
{
	struct region *r = to_region(a);
	int rc = 0;
	hk_lock(&r->lock);
	for (struct region_chunk *c = r->chunks; c && !rc; c = c->next) {
		if (c->cursor < c->start || c->cursor > c->end)
			rc = _hk_check_fail(rep, c, "region: chunk cursor outside its chunk");
		else if (c->start != (uintptr_t)(c + 1))
			rc = _hk_check_fail(rep, c, "region: chunk header overwritten");
	}
	if (!rc && r->counters.nr_frees > r->counters.nr_allocs)
		rc = _hk_check_fail(rep, r, "region: more frees than allocations");
	hk_unlock(&r->lock);
	return rc;
}

static const struct hk_alloc_ops region_ops = {
	.malloc = region_malloc,
	.realloc = region_realloc,
	.memalign = region_memalign,
	.free = region_free,
	.usable_size = region_usable_size,
	.addmem = region_addmem,
	.maxalloc = region_maxalloc,
	.availmem = region_availmem,
	.stats = region_stats,
	.check = region_check,
};

hk_alloc_t *hk_region_create(void *base, size_t len)
{
	uintptr_t b = hk_align_up((uintptr_t)base, _Alignof(struct region));
	if (!base || b + sizeof(struct region) < b || b + sizeof(struct region) > (uintptr_t)base + len)
		return NULL;
	struct region *r = (struct region *)b;
	size_t used = b + sizeof *r - (uintptr_t)base;
	memset(r, 0, sizeof *r);
	_hk_alloc_init(&r->base, &region_ops, &_hk_region_backend);
	r->chunks = chunk_init((char *)base + used, len - used);
	if (!r->chunks)
		return NULL;
	r->counters.bytes_managed = len;
	return &r->base;
}

const struct hk_backend _hk_region_backend = {
	.name = "region",
	.summary = "bump allocator for boot time: free reclaims nothing",
	.create = hk_region_create,
	.caps = HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_RELEASE,
	.min_region = REGION_MIN_REGION,
};
