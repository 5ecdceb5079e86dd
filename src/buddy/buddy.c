// SPDX-License-Identifier: MIT
/*
 * buddy: a binary buddy page allocator over one or more regions, with small
 * size classes carved from pages (the design of Unikraft's ukallocbbuddy,
 * without its costs: no header before a block, no page per small request).
 *
 * Requests:
 *   - small (<= 3264 bytes, alignment a class can give): an object of a slab
 *     (slab.c): 16..3264 bytes, no header;
 *   - large and palloc: a run of whole pages from one naturally aligned buddy
 *     block of the smallest order covering size and alignment, whose unused
 *     tail goes straight back to the free lists (pages.c); the page count is
 *     kept out of band in the record table (table.c), so the block starts at
 *     the caller's first byte and a 1 GiB request takes one 1 GiB block.
 *
 * free(p) tells the kinds apart without metadata per page: a large block
 * always starts a page and is in the record table; anything else must be a
 * slab object, whose slab header (at its page's end) is validated by a tag.
 * One lock guards the instance. Metadata: two pages in the first region
 * (instance, record table), one page in every region added later.
 */
#include "buddy/buddy.h"

_Static_assert(sizeof(struct buddy) <= HK_PAGE_SIZE, "the instance fits its metadata page");
_Static_assert(sizeof(struct buddy_region) <= HK_PAGE_SIZE, "a region header fits a page");
_Static_assert(TABLE_BUILTIN_CAP * sizeof(struct table_entry) == HK_PAGE_SIZE, "built-in table is one page");

static const struct hk_alloc_ops buddy_ops;

static inline size_t pages_for(size_t size) { return (size + HK_PAGE_SIZE - 1) >> HK_PAGE_SHIFT; }

/* --- Finding what a pointer is ------------------------------------------------- */

/* What a pointer handed back to us is: a large block or a slab object. */
struct block_ref {
	struct buddy_region *region;  /* the region holding it */
	struct table_entry *large;    /* its record, for a large block */
	struct slab *slab;            /* its slab, for a small object */
};

static hk_noinline void invalid_pointer(struct buddy *b, const char *what, uintptr_t p)
{
	hk_unlock(&b->lock);
	_hk_fatal(what, (void *)p);
}

/* Identify p, or stop the program with what is wrong with it. Lock held. */
static inline struct block_ref block_identify(struct buddy *b, uintptr_t p)
{
	struct block_ref ref = { _hk_buddy_region_of(b, p), NULL, NULL };
	if (hk_unlikely(!ref.region))
		invalid_pointer(b, "buddy: invalid pointer: outside every region of the instance", p);
	if (hk_unlikely(p & (HK_MIN_ALIGN - 1)))
		invalid_pointer(b, "buddy: invalid pointer: misaligned for any block", p);
	if (!(p & (HK_PAGE_SIZE - 1)))
		ref.large = _hk_buddy_table_find(b, p);
	if (!ref.large) {
		ref.slab = _hk_buddy_slab_find(b, ref.region, p);
		if (hk_unlikely(!ref.slab))
			invalid_pointer(b, "buddy: invalid pointer: not a live block (double free?)", p);
		if (hk_unlikely(!_hk_buddy_slab_is_object(b, ref.slab, p)))
			invalid_pointer(b, "buddy: invalid pointer: not at the start of a live small block", p);
	}
	return ref;
}

/* --- Allocation ------------------------------------------------------------------ */

static inline void *small_alloc(struct buddy *b, unsigned cls)
{
	hk_lock(&b->lock);
	void *p = _hk_buddy_slab_alloc(b, cls);
	if (hk_likely(p != NULL))
		_hk_count_alloc(&b->counters, b->classes[cls].size);
	hk_unlock(&b->lock);
	return p;
}

/* npages whole pages aligned to 2^align_order pages, recorded in the table. */
static hk_noinline void *large_alloc(struct buddy *b, size_t npages, unsigned align_order)
{
	hk_lock(&b->lock);
	uintptr_t addr = _hk_buddy_pages_alloc(b, npages, align_order);
	if (addr) {
		if (hk_likely(_hk_buddy_table_insert(b, addr, npages))) {
			_hk_count_alloc(&b->counters, npages * HK_PAGE_SIZE);
		} else {
			_hk_buddy_pages_free(b, _hk_buddy_region_of(b, addr), addr, npages);
			addr = 0;
		}
	}
	hk_unlock(&b->lock);
	return (void *)addr;
}

static void *buddy_malloc(hk_alloc_t *a, size_t size)
{
	struct buddy *b = to_buddy(a);
	if (hk_likely(size <= SLAB_MAX_SIZE))
		return small_alloc(b, slab_class_for(b, size));
	return large_alloc(b, pages_for(size), 0);
}

static void *buddy_memalign(hk_alloc_t *a, size_t align, size_t size)
{
	struct buddy *b = to_buddy(a);
	if (align <= HK_MIN_ALIGN)
		return buddy_malloc(a, size);
	if (size <= SLAB_MAX_SIZE && align < HK_PAGE_SIZE) {
		int cls = _hk_buddy_slab_class_aligned(b, size, align);
		if (cls >= 0)
			return small_alloc(b, (unsigned)cls);
	}
	unsigned align_order = align > HK_PAGE_SIZE ? hk_log2(align) - HK_PAGE_SHIFT : 0;
	if (align_order > BUDDY_MAX_ORDER)
		return NULL;
	return large_alloc(b, pages_for(size), align_order);
}

static void *buddy_palloc(hk_alloc_t *a, size_t npages)
{
	return large_alloc(to_buddy(a), npages, 0);
}

/* --- Free -------------------------------------------------------------------------- */

/* Free the block ref names. Lock held. */
static inline void block_free(struct buddy *b, struct block_ref ref, uintptr_t p)
{
	if (ref.slab) {
		_hk_count_free(&b->counters, b->classes[ref.slab->cls].size);
		_hk_buddy_slab_free(b, ref.slab, p);
	} else {
		size_t npages = ref.large->npages;
		_hk_count_free(&b->counters, npages * HK_PAGE_SIZE);
		_hk_buddy_pages_free(b, ref.region, p, npages);
		_hk_buddy_table_remove(b, ref.large);
	}
}

static void buddy_free(hk_alloc_t *a, void *p)
{
	struct buddy *b = to_buddy(a);
	hk_lock(&b->lock);
	block_free(b, block_identify(b, (uintptr_t)p), (uintptr_t)p);
	hk_unlock(&b->lock);
}

static void buddy_pfree(hk_alloc_t *a, void *p, size_t npages)
{
	struct buddy *b = to_buddy(a);
	uintptr_t x = (uintptr_t)p;
	hk_lock(&b->lock);
	struct block_ref ref = block_identify(b, x);
	if (hk_unlikely(!ref.large))
		invalid_pointer(b, "buddy: pfree of a pointer that palloc did not return", x);
	if (hk_unlikely(ref.large->npages != npages))
		invalid_pointer(b, "buddy: pfree with a page count other than palloc's", x);
	block_free(b, ref, x);
	hk_unlock(&b->lock);
}

static size_t buddy_usable_size(hk_alloc_t *a, void *p)
{
	struct buddy *b = to_buddy(a);
	hk_lock(&b->lock);
	struct block_ref ref = block_identify(b, (uintptr_t)p);
	size_t n = ref.slab ? b->classes[ref.slab->cls].size : ref.large->npages * HK_PAGE_SIZE;
	hk_unlock(&b->lock);
	return n;
}

/* --- realloc: in place when the block's class or pages allow ----------------------- */

/* Resize large block ref to npages where it lies; false if the pages after it are taken. */
static bool large_resize_in_place(struct buddy *b, struct block_ref ref, uintptr_t p, size_t npages)
{
	size_t old = ref.large->npages;
	if (npages < old) {
		_hk_buddy_pages_free(b, ref.region, p + npages * HK_PAGE_SIZE, old - npages);
		b->counters.bytes_in_use -= (old - npages) * HK_PAGE_SIZE;
	} else if (npages > old) {
		if (!_hk_buddy_pages_claim(b, ref.region, p + old * HK_PAGE_SIZE, npages - old))
			return false;
		b->counters.bytes_in_use += (npages - old) * HK_PAGE_SIZE;
		if (b->counters.bytes_in_use > b->counters.peak_bytes)
			b->counters.peak_bytes = b->counters.bytes_in_use;
	}
	ref.large->npages = npages;
	return true;
}

static void *buddy_realloc(hk_alloc_t *a, void *p, size_t size)
{
	struct buddy *b = to_buddy(a);
	uintptr_t x = (uintptr_t)p;
	bool in_place;
	hk_lock(&b->lock);
	struct block_ref ref = block_identify(b, x);
	if (ref.slab)
		in_place = size <= b->classes[ref.slab->cls].size;
	else
		in_place = size > SLAB_MAX_SIZE && large_resize_in_place(b, ref, x, pages_for(size));
	hk_unlock(&b->lock);
	return in_place ? p : _hk_compat_realloc(a, p, size);
}

/* --- Regions -------------------------------------------------------------------------- */

/* 1 + the order of the largest aligned block in [a, e), 0 if none. */
static unsigned largest_piece(uintptr_t a, uintptr_t e)
{
	unsigned best = 0;
	while (a < e) {
		unsigned k = hk_ctz(a) - HK_PAGE_SHIFT, fit = hk_log2(e - a) - HK_PAGE_SHIFT;
		if (fit < k)
			k = fit;
		if (k > BUDDY_MAX_ORDER)
			k = BUDDY_MAX_ORDER;
		if (k + 1 > best)
			best = k + 1;
		a += order_bytes(k);
	}
	return best;
}

/*
 * Where metadata of m pages goes in [base, base + len): at the start or at the
 * end of its pages, whichever leaves the larger largest block (so a region
 * aligned at either end keeps its big aligned block). false if no page would
 * be left to manage.
 */
static bool region_place(void *base, size_t len, size_t m, uintptr_t *meta, uintptr_t *start, uintptr_t *end)
{
	uintptr_t b0 = (uintptr_t)base, e0 = b0 + len;
	if (!base || e0 < b0 || b0 > UINTPTR_MAX - HK_PAGE_SIZE)
		return false;
	uintptr_t lo = hk_align_up(b0, HK_PAGE_SIZE), hi = hk_align_down(e0, HK_PAGE_SIZE);
	if (hi <= lo || (hi - lo) / HK_PAGE_SIZE <= m)
		return false;
	uintptr_t mb = m * HK_PAGE_SIZE;
	if (largest_piece(lo, hi - mb) > largest_piece(lo + mb, hi)) {
		*meta = hi - mb;
		*start = lo;
		*end = hi - mb;
	} else {
		*meta = lo;
		*start = lo + mb;
		*end = hi;
	}
	return true;
}

static int buddy_addmem(hk_alloc_t *a, void *base, size_t len)
{
	struct buddy *b = to_buddy(a);
	uintptr_t meta, start, end, lo = (uintptr_t)base, hi = lo + len;
	if (!region_place(base, len, BUDDY_ADDMEM_META_PAGES, &meta, &start, &end))
		return -HK_EINVAL;
	hk_lock(&b->lock);
	for (struct buddy_region *r = b->regions; r; r = r->next)
		if (lo < r->span_hi && r->span_lo < hi) {
			hk_unlock(&b->lock);
			return -HK_EINVAL; /* overlaps memory the instance has */
		}
	struct buddy_region *r = (struct buddy_region *)meta;
	_hk_buddy_region_init(b, r, start, end);
	r->span_lo = lo;
	r->span_hi = hi;
	r->next = b->regions;
	b->regions = r;
	b->counters.bytes_managed += len;
	hk_unlock(&b->lock);
	return 0;
}

/* --- Introspection ---------------------------------------------------------------------- */

static size_t buddy_availmem(hk_alloc_t *a)
{
	struct buddy *b = to_buddy(a);
	hk_lock(&b->lock);
	_hk_buddy_slab_flush(b);
	size_t n = b->free_pages * HK_PAGE_SIZE;
	hk_unlock(&b->lock);
	return n;
}

static size_t buddy_maxalloc(hk_alloc_t *a)
{
	struct buddy *b = to_buddy(a);
	hk_lock(&b->lock);
	_hk_buddy_slab_flush(b);
	size_t n = _hk_buddy_max_run(b);
	if (!n)
		n = _hk_buddy_slab_max_free(b);
	hk_unlock(&b->lock);
	return n;
}

static void buddy_stats(hk_alloc_t *a, struct hk_stats *out)
{
	struct buddy *b = to_buddy(a);
	hk_lock(&b->lock);
	_hk_counters_to_stats(&b->counters, out);
	hk_unlock(&b->lock);
}

static int buddy_check(hk_alloc_t *a, struct hk_check_report *rep)
{
	struct buddy *b = to_buddy(a);
	int rc = 0;
	size_t free_pages = 0, nr_regions = 0, limit = b->counters.bytes_managed / HK_PAGE_SIZE + 1;
	hk_lock(&b->lock);
	for (struct buddy_region *r = b->regions; r && !rc; r = r->next) {
		if (++nr_regions > limit)
			rc = _hk_check_fail(rep, r, "buddy: region list cycles");
		else
			rc = _hk_buddy_region_check(b, r, rep);
		free_pages += r->free_pages;
	}
	if (!rc && free_pages != b->free_pages)
		rc = _hk_check_fail(rep, b, "buddy: instance free page count disagrees with its regions");
	if (!rc && b->counters.nr_frees > b->counters.nr_allocs)
		rc = _hk_check_fail(rep, b, "buddy: more frees than allocations");
	if (!rc)
		rc = _hk_buddy_table_check(b, rep);
	if (!rc)
		rc = _hk_buddy_slab_check(b, rep);
	hk_unlock(&b->lock);
	return rc;
}

static const struct hk_alloc_ops buddy_ops = {
	.malloc = buddy_malloc,
	.realloc = buddy_realloc,
	.memalign = buddy_memalign,
	.free = buddy_free,
	.usable_size = buddy_usable_size,
	.palloc = buddy_palloc,
	.pfree = buddy_pfree,
	.addmem = buddy_addmem,
	.maxalloc = buddy_maxalloc,
	.availmem = buddy_availmem,
	.stats = buddy_stats,
	.check = buddy_check,
};

hk_alloc_t *hk_buddy_create(void *base, size_t len)
{
	uintptr_t meta, start, end;
	if (!region_place(base, len, BUDDY_META_PAGES, &meta, &start, &end))
		return NULL;
	struct buddy *b = (struct buddy *)meta;
	/*
	 * Tags mix in a secret no earlier instance at this place used, so the
	 * headers they left in this memory match nothing now. The word there
	 * alone is not enough (another user of the memory may have put back
	 * what it held before an earlier instance: test/buddy.c
	 * recreate-restored); a count of the instances made in this process is
	 * unique, and the earlier word and the address still separate instances
	 * of other processes over memory that outlives them.
	 */
	static uint64_t nr_created;
	uint64_t nth = __atomic_add_fetch(&nr_created, 1, __ATOMIC_RELAXED);
	uintptr_t earlier = *(volatile uintptr_t *)&b->secret;
	memset(b, 0, sizeof *b);
	_hk_alloc_init(&b->base, &buddy_ops, &_hk_buddy_backend);
	b->secret = ((earlier + nth * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull) ^ (meta * 0x94d049bb133111ebull);
	_hk_buddy_table_init(b, (struct table_entry *)(meta + HK_PAGE_SIZE));
	_hk_buddy_slab_init(b);
	struct buddy_region *r = &b->first;
	_hk_buddy_region_init(b, r, start, end);
	r->span_lo = (uintptr_t)base;
	r->span_hi = (uintptr_t)base + len;
	b->regions = r;
	b->counters.bytes_managed = len;
	return &b->base;
}

const struct hk_backend _hk_buddy_backend = {
	.name = "buddy",
	.summary = "binary buddy page allocator: O(log n), coalescing, small blocks in slabs",
	.create = hk_buddy_create,
	.caps = HK_CAP_FREE | HK_CAP_THREADS | HK_CAP_ADDMEM | HK_CAP_PAGES | HK_CAP_EXACT_AVAIL | HK_CAP_RELEASE,
	.min_region = BUDDY_MIN_REGION,
};
