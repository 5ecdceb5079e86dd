// SPDX-License-Identifier: MIT
/*
 * buddy pages: regions carved into maximal naturally aligned blocks, one
 * free list per order and region, split on allocation, coalesce on free.
 *
 * A free block carries its header (struct buddy_free) in its first bytes;
 * there is no per-page metadata. Whether a buddy is free is decided from its
 * header: the tag must match its address and order, and the node before it on
 * its list must point back at it. That node is dereferenced only after checking it
 * is the list head or a page of the same region aligned to the order, so a
 * probe never leaves memory the instance owns.
 */
#include "buddy/buddy.h"

/* --- Lists -------------------------------------------------------------------- */


/* May l be followed from a free block of this order in r? */
static inline bool link_is_plausible(const struct buddy_region *r, const struct buddy_link *l, unsigned order)
{
	uintptr_t x = (uintptr_t)l;
	if (l == &r->heads[order])
		return true;
	return x >= r->start && x < r->end && !(x & (order_bytes(order) - 1));
}

/* --- Free blocks ---------------------------------------------------------------- */

static inline void free_push(struct buddy *b, struct buddy_region *r, uintptr_t addr, unsigned order)
{
	struct buddy_free *f = (struct buddy_free *)addr;
	hk_assert_internal(!(addr & (order_bytes(order) - 1)) && addr >= r->start && r->end - addr >= order_bytes(order));
	f->tag = free_tag(b, addr, order);
	link_push(&r->heads[order], &f->link);
	r->nonempty |= (uint64_t)1 << order;
}

static inline void free_unlink(struct buddy *b, struct buddy_region *r, uintptr_t addr, unsigned order)
{
	struct buddy_free *f = (struct buddy_free *)addr;
	link_unlink(&f->link);
	f->tag = 0;
	if (link_empty(&r->heads[order]))
		r->nonempty &= ~((uint64_t)1 << order);
}

/*
 * free_push and free_unlink move blocks between lists; the free page counts
 * change only when pages really leave or enter the free lists, once per
 * operation, here.
 */
static inline void count_taken(struct buddy *b, struct buddy_region *r, size_t pages)
{
	r->free_pages -= pages;
	b->free_pages -= pages;
}

static inline void count_given(struct buddy *b, struct buddy_region *r, size_t pages)
{
	r->free_pages += pages;
	b->free_pages += pages;
}

/*
 * The membership test: the tag matches, and the previous node (the list head
 * or an aligned page of this region, checked before it is read) points back.
 * One neighbour suffices: only real free blocks and heads are ever linked, so
 * a real node pointing at addr means addr is linked, hence free.
 */
BUDDY_PROBE static inline bool block_is_free(const struct buddy *b, const struct buddy_region *r, uintptr_t addr,
					     unsigned order)
{
	const struct buddy_free *f = (const struct buddy_free *)addr;
	if (f->tag != free_tag(b, addr, order))
		return false;
	const struct buddy_link *p = f->link.prev;
	return link_is_plausible(r, p, order) && p->next == &f->link;
}

bool _hk_buddy_block_is_free(const struct buddy *b, const struct buddy_region *r, uintptr_t addr, unsigned order)
{
	return block_is_free(b, r, addr, order);
}

/* The buddy of the order-k block at addr, if it lies wholly in r; else 0. */
static inline uintptr_t buddy_of(const struct buddy_region *r, uintptr_t addr, unsigned k)
{
	uintptr_t other = addr ^ order_bytes(k);
	if (other < r->start || other >= r->end || r->end - other < order_bytes(k))
		return 0;
	return other;
}

/* --- Split and coalesce ----------------------------------------------------------- */

/*
 * Take a free block of order k: from the region whose smallest fitting block
 * is smallest (best fit across regions), splitting it down to k and putting
 * the upper halves back. 0 if none; *out is the block's region.
 */
static uintptr_t block_take(struct buddy *b, unsigned k, struct buddy_region **out)
{
	struct buddy_region *best = NULL;
	unsigned best_order = BUDDY_NR_ORDERS;
	for (struct buddy_region *r = b->regions; r; r = r->next) {
		uint64_t fits = r->nonempty >> k;
		if (!fits)
			continue;
		unsigned j = k + (unsigned)__builtin_ctzll(fits);
		if (j < best_order) {
			best = r;
			best_order = j;
			if (j == k)
				break;
		}
	}
	if (!best)
		return 0;
	uintptr_t addr = (uintptr_t)best->heads[best_order].next;
	free_unlink(b, best, addr, best_order);
	while (best_order > k) {
		best_order--;
		free_push(b, best, addr + order_bytes(best_order), best_order);
	}
	count_taken(b, best, (size_t)1 << k);
	*out = best;
	return addr;
}

static bool block_containing(const struct buddy *b, const struct buddy_region *r, uintptr_t addr, uintptr_t *block,
			     unsigned *order);

/* Is any page of [addr, addr + 2^k pages) in a free block? (For expensive assertions.) */
static bool block_overlaps_free(const struct buddy *b, const struct buddy_region *r, uintptr_t addr, unsigned k)
{
	uintptr_t f;
	unsigned o;
	if (block_containing(b, r, addr, &f, &o))
		return true;
	for (uintptr_t x = addr + HK_PAGE_SIZE; x < addr + order_bytes(k); x += HK_PAGE_SIZE)
		if (block_containing(b, r, x, &f, &o))
			return true;
	return false;
}

/* Give back the order-k block at addr, merging with free buddies upward. */
static void block_release(struct buddy *b, struct buddy_region *r, uintptr_t addr, unsigned k)
{
	if (hk_unlikely(block_is_free(b, r, addr, k)))
		_hk_fatal("buddy: double free of a page block", (void *)addr);
	hk_assert_expensive(!block_overlaps_free(b, r, addr, k));
	count_given(b, r, (size_t)1 << k);
	while (k < BUDDY_MAX_ORDER) {
		uintptr_t other = buddy_of(r, addr, k);
		if (!other || !block_is_free(b, r, other, k))
			break;
		free_unlink(b, r, other, k);
		addr &= ~order_bytes(k);
		k++;
	}
	free_push(b, r, addr, k);
}

/* --- Page ranges -------------------------------------------------------------------- */

/* Order of the largest aligned block that starts at addr and ends by end. */
static inline unsigned piece_order(uintptr_t addr, uintptr_t end)
{
	unsigned align = hk_ctz(addr) - HK_PAGE_SHIFT;
	unsigned fit = hk_log2(end - addr) - HK_PAGE_SHIFT;
	unsigned k = align < fit ? align : fit;
	return k < BUDDY_MAX_ORDER ? k : BUDDY_MAX_ORDER;
}

/*
 * Put [a, e) on the free lists as maximal aligned blocks, without merging:
 * for a fresh region, and for pieces whose buddies are known to be in use.
 */
static void range_push(struct buddy *b, struct buddy_region *r, uintptr_t a, uintptr_t e)
{
	if (a < e)
		count_given(b, r, (e - a) / HK_PAGE_SIZE);
	while (a < e) {
		unsigned k = piece_order(a, e);
		free_push(b, r, a, k);
		a += order_bytes(k);
	}
}

/* Release [a, e) as maximal aligned blocks, merging each with free buddies. */
static void range_release(struct buddy *b, struct buddy_region *r, uintptr_t a, uintptr_t e)
{
	while (a < e) {
		unsigned k = piece_order(a, e);
		block_release(b, r, a, k);
		a += order_bytes(k);
	}
}

/* --- Runs: free pages that span several blocks -------------------------------------- */

/* The free block that holds page addr of r, as (*block, *order); false if none. */
static bool block_containing(const struct buddy *b, const struct buddy_region *r, uintptr_t addr, uintptr_t *block,
			     unsigned *order)
{
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		uintptr_t c = addr & ~(order_bytes(k) - 1);
		if (c < r->start || r->end - c < order_bytes(k))
			return false;
		if (block_is_free(b, r, c, k)) {
			*block = c;
			*order = k;
			return true;
		}
	}
	return false;
}

/* The run of free pages around the free block [blk, blk + 2^k pages) of r: [*lo, *hi). */
static void run_around(const struct buddy *b, const struct buddy_region *r, uintptr_t blk, unsigned k,
		       uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t s = blk, e = blk + order_bytes(k), f;
	unsigned o;
	while (s > r->start && block_containing(b, r, s - HK_PAGE_SIZE, &f, &o))
		s = f;
	while (e < r->end && block_containing(b, r, e, &f, &o))
		e = f + order_bytes(o);
	*lo = s;
	*hi = e;
}

/*
 * Visit the free runs that could hold n contiguous pages: any range of n
 * pages holds an aligned block of 2^(log2(n) - 1) pages, so every such run
 * contains a free block of at least that order; start from those. fn returns
 * nonzero to stop, and that value is returned.
 */
static uintptr_t runs_visit(struct buddy *b, size_t npages,
			    uintptr_t (*fn)(struct buddy *b, struct buddy_region *r, uintptr_t lo, uintptr_t hi, void *arg),
			    void *arg)
{
	unsigned min_k = npages >= 2 ? hk_log2(npages) - 1 : 0;
	for (struct buddy_region *r = b->regions; r; r = r->next) {
		if (r->free_pages < npages)
			continue;
		for (unsigned k = BUDDY_MAX_ORDER + 1; k-- > min_k;) {
			if (!(r->nonempty >> k & 1))
				continue;
			for (struct buddy_link *l = r->heads[k].next; l != &r->heads[k]; l = l->next) {
				uintptr_t lo, hi, got;
				run_around(b, r, (uintptr_t)l, k, &lo, &hi);
				if ((got = fn(b, r, lo, hi, arg)) != 0)
					return got;
			}
		}
	}
	return 0;
}

struct run_request {
	size_t npages;        /* pages wanted */
	uintptr_t align;      /* start alignment in bytes */
};

/* Take the request's pages from [lo, hi) if they fit there. */
static uintptr_t run_take_from(struct buddy *b, struct buddy_region *r, uintptr_t lo, uintptr_t hi, void *arg)
{
	const struct run_request *q = arg;
	uintptr_t start = hk_align_up(lo, q->align);
	if (start < lo || start >= hi || (hi - start) / HK_PAGE_SIZE < q->npages)
		return 0;
	bool ok = _hk_buddy_pages_claim(b, r, start, q->npages);
	hk_assert_internal(ok);
	return ok ? start : 0;
}

/*
 * The slow path when no single block is large enough: npages from a run of
 * adjacent free blocks (a region's memory need not be aligned to serve a
 * request as large as the region). Costs a walk of the larger free blocks.
 */
static hk_noinline uintptr_t run_take(struct buddy *b, size_t npages, unsigned align_order)
{
	if (b->free_pages < npages)
		return 0;
	struct run_request q = { npages, order_bytes(align_order) };
	return runs_visit(b, npages, run_take_from, &q);
}

/* Remember the longest run seen. */
static uintptr_t run_measure(struct buddy *b, struct buddy_region *r, uintptr_t lo, uintptr_t hi, void *arg)
{
	size_t *best = arg;
	if (hi - lo > *best)
		*best = hi - lo;
	return 0;
}

size_t _hk_buddy_max_run(struct buddy *b)
{
	size_t best = 0;
	for (struct buddy_region *r = b->regions; r; r = r->next)
		if (r->nonempty) {
			size_t s = order_bytes(63u - (unsigned)__builtin_clzll(r->nonempty));
			if (s > best)
				best = s;
		}
	if (best)
		runs_visit(b, best / HK_PAGE_SIZE, run_measure, &best);
	return best;
}

/* --- Page blocks ---------------------------------------------------------------------- */

uintptr_t _hk_buddy_pages_alloc(struct buddy *b, size_t npages, unsigned align_order)
{
	unsigned k = hk_log2_up(npages);
	if (k < align_order)
		k = align_order;
	if (k > BUDDY_MAX_ORDER)
		return 0;
	struct buddy_region *r;
	uintptr_t addr = block_take(b, k, &r);
	if (hk_unlikely(!addr)) {
		/* Short of memory: empty slabs kept back go first, then runs. */
		if (b->nr_spares && _hk_buddy_slab_flush(b))
			return _hk_buddy_pages_alloc(b, npages, align_order);
		/* 2^a pages aligned to 2^a: free, they would be one block (all is merged). */
		if (npages == (size_t)1 << align_order)
			return 0;
		return run_take(b, npages, align_order);
	}
	/* Trim: the tail's buddies are all in the part kept, so no merging. */
	if (npages < (size_t)1 << k)
		range_push(b, r, addr + npages * HK_PAGE_SIZE, addr + order_bytes(k));
	return addr;
}

void _hk_buddy_pages_free(struct buddy *b, struct buddy_region *r, uintptr_t addr, size_t npages)
{
	range_release(b, r, addr, addr + npages * HK_PAGE_SIZE);
}

bool _hk_buddy_pages_claim(struct buddy *b, struct buddy_region *r, uintptr_t addr, size_t npages)
{
	uintptr_t e = addr + npages * HK_PAGE_SIZE, pos = addr;
	if (e < addr || addr < r->start || e > r->end)
		return false;
	while (pos < e) {
		uintptr_t blk;
		unsigned k;
		if (!block_containing(b, r, pos, &blk, &k)) {
			range_release(b, r, addr, pos); /* undo: what was taken merges back */
			return false;
		}
		uintptr_t blk_end = blk + order_bytes(k);
		free_unlink(b, r, blk, k);
		count_taken(b, r, (size_t)1 << k);
		range_push(b, r, blk, pos);
		if (blk_end > e)
			range_push(b, r, e, blk_end);
		pos = blk_end;
	}
	return true;
}

/* --- Regions ---------------------------------------------------------------------- */

void _hk_buddy_region_init(struct buddy *b, struct buddy_region *r, uintptr_t start, uintptr_t end)
{
	r->start = start;
	r->end = end;
	r->next = NULL;
	r->free_pages = 0;
	r->nonempty = 0;
	r->tag = (uintptr_t)r ^ b->secret;
	for (unsigned k = 0; k < BUDDY_NR_ORDERS; k++)
		link_init(&r->heads[k]);
	range_push(b, r, start, end);
}

struct buddy_region *_hk_buddy_region_of(struct buddy *b, uintptr_t addr)
{
	for (struct buddy_region *r = b->regions; r; r = r->next)
		if (addr >= r->start && addr < r->end)
			return r;
	return NULL;
}

/* --- Check -------------------------------------------------------------------------- */

int _hk_buddy_region_check(struct buddy *b, struct buddy_region *r, struct hk_check_report *rep)
{
	if (r->tag != ((uintptr_t)r ^ b->secret))
		return _hk_check_fail(rep, r, "buddy: region header overwritten");
	if ((r->start | r->end) & (HK_PAGE_SIZE - 1) || r->start >= r->end)
		return _hk_check_fail(rep, r, "buddy: region bounds not page aligned");
	size_t pages = 0, limit = (r->end - r->start) / HK_PAGE_SIZE;
	for (unsigned k = 0; k < BUDDY_NR_ORDERS; k++) {
		const struct buddy_link *h = &r->heads[k];
		if (link_empty(h) != !(r->nonempty >> k & 1))
			return _hk_check_fail(rep, h, "buddy: nonempty bit disagrees with its free list");
		for (const struct buddy_link *l = h->next; l != h; l = l->next) {
			uintptr_t x = (uintptr_t)l;
			if (!link_is_plausible(r, l, k) || r->end - x < order_bytes(k))
				return _hk_check_fail(rep, l, "buddy: free list link outside its region or misaligned");
			if (((const struct buddy_free *)l)->tag != free_tag(b, x, k))
				return _hk_check_fail(rep, l, "buddy: free block header overwritten (use after free?)");
			if (!link_is_plausible(r, l->next, k) || l->next->prev != l)
				return _hk_check_fail(rep, l, "buddy: free list broken after this block");
			uintptr_t other = buddy_of(r, x, k);
			if (k < BUDDY_MAX_ORDER && other && block_is_free(b, r, other, k))
				return _hk_check_fail(rep, l, "buddy: free block and its free buddy not merged");
			pages += (size_t)1 << k;
			if (pages > limit)
				return _hk_check_fail(rep, l, "buddy: free lists hold more pages than the region (cycle?)");
		}
	}
	if (pages != r->free_pages)
		return _hk_check_fail(rep, r, "buddy: region free page count disagrees with its lists");
	return 0;
}
