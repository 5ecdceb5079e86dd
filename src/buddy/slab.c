// SPDX-License-Identifier: MIT
/*
 * buddy slabs: small requests (<= 3264 bytes) are objects of 32 size classes
 * carved from buddy blocks, so a 1-byte malloc costs 16 bytes, not a page.
 *
 * A slab is one page, or for the three largest classes a big slab of 4 pages
 * (16 KiB, aligned to its size): objects from offset 0 at multiples of the
 * class size, and a 32-byte header (struct slab) in the slab's last bytes.
 * The classes are 16..256 by 16 bytes, then for n = 14 down to 2 objects per
 * one-page slab the largest multiple of 16 that fits n times in its 4064
 * bytes (the larger classes leave at most 112 bytes of a slab unused), then
 * 7, 6 and 5 objects per big slab (2336, 2720, 3264 bytes).
 *
 * Finding p's slab without metadata per page: the header at the end of p's
 * page, if its tag is that page's, is a one-page slab's; else the header at
 * the end of p's 16 KiB-aligned group, if its tag is that group's, is a big
 * slab's. Tags encode the slab's address and size, and a slab's tag is
 * cleared when its pages go back, so no stale or moved copy matches.
 *
 * A slab that empties is kept as its class's spare, or goes back to the pages.
 */
#include "buddy/buddy.h"

/* --- Classes ---------------------------------------------------------------------- */

static const uint16_t class_sizes[SLAB_NR_CLASSES] = {
	16,  32,  48,  64,  80,  96,  112, 128, 144, 160,  176,  192,  208,  224, 240,
	256, 288, 304, 336, 368, 400, 448, 496, 576, 672, 800, 1008, 1344, 2032,
	2336, 2720, 3264, /* big slabs */
};
#define SLAB_FIRST_BIG 29  /* classes from here on use big slabs */


void _hk_buddy_slab_init(struct buddy *b)
{
	unsigned cls = 0;
	for (unsigned g = 0; g < SLAB_NR_GRANULES; g++) {
		size_t size = (size_t)(g + 1) << SLAB_GRANULE_SHIFT;
		while (class_sizes[cls] < size)
			cls++;
		b->class_of[g] = (uint8_t)cls;
	}
	for (unsigned i = 0; i < SLAB_NR_CLASSES; i++) {
		struct slab_class *c = &b->classes[i];
		link_init(&c->partial);
		link_init(&c->full);
		c->spare = NULL;
		c->size = class_sizes[i];
		c->shift = i >= SLAB_FIRST_BIG ? SLAB_BIG_SHIFT : 0;
		c->capacity = (uint16_t)((slab_bytes(c) - SLAB_HDR_SIZE) / class_sizes[i]);
	}
}

int _hk_buddy_slab_class_aligned(const struct buddy *b, size_t size, size_t align)
{
	for (unsigned i = slab_class_for(b, size); i < SLAB_NR_CLASSES; i++)
		if (class_sizes[i] % align == 0)
			return (int)i;
	return -1;
}

/* --- Allocation --------------------------------------------------------------------- */

/* A fresh slab of class cls on its partial list (the spare if any), or NULL without a free page. */
static hk_noinline struct slab *slab_new(struct buddy *b, unsigned cls)
{
	struct slab_class *c = &b->classes[cls];
	struct slab *s = c->spare;
	if (s) {
		c->spare = NULL;
		b->nr_spares--;
	} else {
		uintptr_t base = _hk_buddy_pages_alloc(b, (size_t)1 << c->shift, c->shift);
		if (!base)
			return NULL;
		s = (struct slab *)(base + slab_bytes(c) - SLAB_HDR_SIZE);
		s->tag = slab_tag(b, base, c->shift);
	}
	s->free_off = SLAB_NO_OBJECT;
	s->bump = 0;
	s->nr_used = 0;
	s->cls = (uint8_t)cls;
	s->full = 0;
	link_push(&b->classes[cls].partial, &s->link);
	return s;
}

void *_hk_buddy_slab_alloc(struct buddy *b, unsigned cls)
{
	struct slab_class *c = &b->classes[cls];
	struct slab *s = link_empty(&c->partial) ? slab_new(b, cls) : (struct slab *)c->partial.next;
	if (hk_unlikely(!s))
		return NULL;
	uintptr_t page = (uintptr_t)s + SLAB_HDR_SIZE - slab_bytes(c);
	uintptr_t off = s->free_off;
	if (off != SLAB_NO_OBJECT) {
		uint16_t next = *(uint16_t *)(page + off);
		if (hk_unlikely(next != SLAB_NO_OBJECT && (next >= s->bump || next % c->size)))
			_hk_fatal("buddy: slab free list corrupted (write after free?)", (void *)(page + off));
		s->free_off = next;
	} else {
		off = s->bump;
		s->bump = (uint16_t)(off + c->size);
	}
	if (++s->nr_used == c->capacity) {
		link_unlink(&s->link);
		link_push(&c->full, &s->link);
		s->full = 1;
	}
	return (void *)(page + off);
}

/* Give slab s's pages back to the buddy pages. */
static void slab_release(struct buddy *b, struct slab *s)
{
	uintptr_t base = slab_base(b, s);
	size_t pages = (size_t)1 << b->classes[s->cls].shift;
	s->tag = 0;
	_hk_buddy_pages_free(b, _hk_buddy_region_of(b, base), base, pages);
}

/* --- Free ------------------------------------------------------------------------------ */

/* Reads the end of p's page, which may lie inside a live object of a big slab. */
BUDDY_PROBE struct slab *_hk_buddy_slab_find(struct buddy *b, const struct buddy_region *r, uintptr_t p)
{
	uintptr_t base = hk_align_down(p, HK_PAGE_SIZE);
	struct slab *s = (struct slab *)(base + SLAB_AREA);
	if (s->tag == slab_tag(b, base, 0))
		return s->cls < SLAB_FIRST_BIG ? s : NULL;
	base = hk_align_down(p, SLAB_BIG_BYTES);
	if (base < r->start || r->end - base < SLAB_BIG_BYTES)
		return NULL;
	s = (struct slab *)(base + SLAB_BIG_AREA);
	if (s->tag == slab_tag(b, base, SLAB_BIG_SHIFT))
		return s->cls >= SLAB_FIRST_BIG && s->cls < SLAB_NR_CLASSES ? s : NULL;
	return NULL;
}

bool _hk_buddy_slab_is_object(struct buddy *b, const struct slab *s, uintptr_t p)
{
	uintptr_t off = p - slab_base(b, s);
	return off < s->bump && off % b->classes[s->cls].size == 0;
}

void _hk_buddy_slab_free(struct buddy *b, struct slab *s, uintptr_t p)
{
	struct slab_class *c = &b->classes[s->cls];
	uintptr_t off = p - slab_base(b, s);
	hk_assert(off % c->size == 0 && off < s->bump);
	if (hk_unlikely(off == s->free_off))
		_hk_fatal("buddy: double free of a small block", (void *)p);
	*(uint16_t *)p = s->free_off;
	s->free_off = (uint16_t)off;
	s->nr_used--;
	if (s->full) {
		link_unlink(&s->link);
		link_push(&c->partial, &s->link);
		s->full = 0;
	}
	if (!s->nr_used) {
		link_unlink(&s->link);
		s->bump = 0;
		s->free_off = SLAB_NO_OBJECT;
		if (!c->spare) {
			c->spare = s;
			b->nr_spares++;
		} else {
			slab_release(b, s);
		}
	}
}

size_t _hk_buddy_slab_flush(struct buddy *b)
{
	size_t n = 0;
	for (unsigned i = 0; i < SLAB_NR_CLASSES && b->nr_spares; i++) {
		struct slab *s = b->classes[i].spare;
		if (s) {
			b->classes[i].spare = NULL;
			b->nr_spares--;
			slab_release(b, s);
			n++;
		}
	}
	return n;
}

size_t _hk_buddy_slab_max_free(struct buddy *b)
{
	for (int i = SLAB_NR_CLASSES - 1; i >= 0; i--)
		if (!link_empty(&b->classes[i].partial))
			return b->classes[i].size;
	return 0;
}

/* --- Check ------------------------------------------------------------------------------ */

/* Walk one slab: header, free list, counts. */
static int slab_check_one(struct buddy *b, struct slab *s, unsigned cls, bool full, struct hk_check_report *rep)
{
	const struct slab_class *c = &b->classes[cls];
	uintptr_t page = (uintptr_t)s + SLAB_HDR_SIZE - slab_bytes(c);
	if ((page & (slab_bytes(c) - 1)) || !_hk_buddy_region_of(b, page))
		return _hk_check_fail(rep, s, "buddy: slab outside every region");
	if (s->tag != slab_tag(b, page, c->shift) || s->cls != cls || s->full != full)
		return _hk_check_fail(rep, s, "buddy: slab header overwritten");
	if (s->bump > slab_bytes(c) - SLAB_HDR_SIZE || s->bump % c->size || s->nr_used > s->bump / c->size ||
	    (full != (s->nr_used == c->capacity)) || !s->nr_used)
		return _hk_check_fail(rep, s, "buddy: slab counters inconsistent");
	unsigned nfree = 0;
	for (unsigned off = s->free_off; off != SLAB_NO_OBJECT; off = *(uint16_t *)(page + off)) {
		if (off >= s->bump || off % c->size)
			return _hk_check_fail(rep, (void *)(page + off), "buddy: slab free list link corrupted");
		if (++nfree > s->bump / c->size)
			return _hk_check_fail(rep, (void *)(page + off), "buddy: slab free list cycles (double free?)");
	}
	if (s->nr_used + nfree != s->bump / c->size)
		return _hk_check_fail(rep, s, "buddy: slab free list length disagrees with its use count");
	return 0;
}

int _hk_buddy_slab_check(struct buddy *b, struct hk_check_report *rep)
{
	size_t spares = 0;
	for (unsigned i = 0; i < SLAB_NR_CLASSES; i++) {
		struct slab *s = b->classes[i].spare;
		if (s) {
			uintptr_t page = (uintptr_t)s + SLAB_HDR_SIZE - slab_bytes(&b->classes[i]);
			spares++;
			if ((page & (slab_bytes(&b->classes[i]) - 1)) || !_hk_buddy_region_of(b, page) ||
			    s->tag != slab_tag(b, page, b->classes[i].shift) || s->cls != i || s->nr_used || s->bump ||
			    s->free_off != SLAB_NO_OBJECT)
				return _hk_check_fail(rep, s, "buddy: spare slab damaged");
		}
	}
	if (spares != b->nr_spares)
		return _hk_check_fail(rep, b, "buddy: spare slab count disagrees with the classes");
	for (unsigned i = 0; i < SLAB_NR_CLASSES; i++) {
		struct buddy_link *lists[2] = { &b->classes[i].partial, &b->classes[i].full };
		for (int f = 0; f < 2; f++) {
			size_t n = 0;
			for (struct buddy_link *l = lists[f]->next; l != lists[f]; l = l->next) {
				if (l->next->prev != l)
					return _hk_check_fail(rep, l, "buddy: slab list broken");
				int rc = slab_check_one(b, (struct slab *)l, i, f == 1, rep);
				if (rc)
					return rc;
				if (++n > b->counters.bytes_managed / HK_PAGE_SIZE)
					return _hk_check_fail(rep, l, "buddy: slab list cycles");
			}
		}
	}
	return 0;
}
