// SPDX-License-Identifier: MIT
/*
 * tlsf: two-level segregated fit (Masmano, Ripoll, Crespo, Real; ECRTS 2004).
 *
 * Shared by the tlsf sources: the constants, the block and control layouts,
 * the block primitives (boundary tags, split, merge), the size mapping, and
 * the free lists with their two bitmaps. Everything here is O(1).
 *
 * Free blocks are kept in FL_COUNT x SL_COUNT segregated lists. The first
 * level is the index of the highest set bit of a block's span, the second
 * level the SL_LOG2 bits below it; spans under SMALL_SPAN are split linearly
 * in ALIGN steps instead. A bit in fl_bitmap says "this first-level row has
 * a non-empty list", a bit in sl_bitmap[fl] says "this list is non-empty",
 * so a fitting list is found with two find-first-set instructions.
 */
#ifndef HK_TLSF_INTERNAL_H
#define HK_TLSF_INTERNAL_H

#include "core/internal.h"

/* --- Constants -----------------------------------------------------------
 * Three base shifts; everything else derives from them. */
#define ALIGN_SHIFT 4                              /* blocks and spans: 16-byte units */
#define SL_LOG2 4                                  /* 16 second-level lists per row */
#if UINTPTR_MAX == UINT64_MAX
#define FL_INDEX_MAX 38                            /* largest span < 2^39 = 512 GiB */
#else
#define FL_INDEX_MAX 30                            /* 32-bit: largest span < 2^31 */
#endif

#define ALIGN_SIZE ((size_t)1 << ALIGN_SHIFT)      /* 16 */
#define SL_COUNT (1u << SL_LOG2)                   /* 16 */
#define FL_INDEX_SHIFT (SL_LOG2 + ALIGN_SHIFT)     /* 8: rows start at 2^8 */
#define SMALL_SPAN ((size_t)1 << FL_INDEX_SHIFT)   /* 256: below, row 0 is linear */
#define FL_COUNT (FL_INDEX_MAX - FL_INDEX_SHIFT + 2) /* 32 rows: row 0 + rows for bits 8..38 (24 on 32-bit) */
#define SPAN_LIMIT ((size_t)1 << (FL_INDEX_MAX + 1)) /* 2^39: every span is below */
#define SPAN_MAX (SPAN_LIMIT - ALIGN_SIZE)         /* 2^39 - 16: the largest block */

#define WORD ((size_t)sizeof(size_t))              /* 8: the one word a used block costs */
#define BLOCK_PAYLOAD_OFFSET (2 * WORD)            /* 16: prev_phys and header precede it */
#define BLOCK_SPAN_MIN (4 * WORD)                  /* 32: header, two links, next's prev_phys */
#define SENTINEL_SPACE (2 * WORD)                  /* 16: a sentinel's prev_phys and header */

/* Header flags, in the low bits a span (a multiple of ALIGN_SIZE) leaves free. */
#define BLOCK_FREE ((size_t)1 << 0)                /* this block is free */
#define BLOCK_PREV_FREE ((size_t)1 << 1)           /* the block physically before is free */
#define BLOCK_FLAGS (ALIGN_SIZE - 1)               /* 0xf: all flag bits, 2 and 3 always 0 */

_Static_assert(ALIGN_SIZE == HK_MIN_ALIGN, "a block payload is aligned like any malloc block");
_Static_assert(SL_COUNT <= 32 && FL_COUNT <= 32, "each bitmap fits a uint32_t");
_Static_assert(SMALL_SPAN / ALIGN_SIZE == SL_COUNT, "row 0 has one list per ALIGN step");
_Static_assert(BLOCK_SPAN_MIN % ALIGN_SIZE == 0 && BLOCK_SPAN_MIN >= ALIGN_SIZE, "minimum span is a unit");
_Static_assert(BLOCK_PAYLOAD_OFFSET % ALIGN_SIZE == 0, "aligned block => aligned payload");
_Static_assert(SENTINEL_SPACE % ALIGN_SIZE == 0, "the sentinel keeps alignment");
_Static_assert(SPAN_MAX < HK_MAX_REQUEST, "spans fit the request range");
_Static_assert((BLOCK_FREE | BLOCK_PREV_FREE) < ALIGN_SIZE, "flags fit under the span");

/* --- Blocks --------------------------------------------------------------
 * A block at address b (16-aligned) reaches to the next block at b + span.
 * Its payload is [b + 16, b + span + 8): the word at b + span is the next
 * block's prev_phys, which a used block lends to its payload. So a used block
 * costs exactly its header word; usable size = span - WORD.
 *
 * Invariants:
 *  - span is a multiple of ALIGN_SIZE, BLOCK_SPAN_MIN <= span <= SPAN_MAX,
 *    except an area's sentinel (span 0, used) which ends the block chain;
 *  - BLOCK_PREV_FREE in a header equals BLOCK_FREE of the block before;
 *  - prev_phys is valid exactly when BLOCK_PREV_FREE is set;
 *  - no two free blocks are neighbours (free merges at once);
 *  - a free block is in the list mapping_insert(span) names, and nowhere else.
 */
struct tlsf_block {
	struct tlsf_block *prev_phys;  /* the block before (only while it is free) */
	size_t header;                 /* span | BLOCK_FREE | BLOCK_PREV_FREE */
	struct tlsf_block *next_free;  /* free only: next in its list, or NULL */
	struct tlsf_block *prev_free;  /* free only: previous in its list, or NULL */
};
_Static_assert(sizeof(struct tlsf_block) == BLOCK_SPAN_MIN, "a minimum block holds the free-block fields");

/*
 * An area: one region handed to the instance (create or addmem), laid out as
 * [struct tlsf_area][block][block]...[sentinel]. Areas are never merged with
 * each other, even when adjacent. Invariant: first..sentinel is a chain of
 * blocks whose spans add up to sentinel - first.
 */
struct tlsf_area {
	struct tlsf_area *next;        /* the area added before this one, or NULL */
	struct tlsf_block *first;      /* the first block, right after this record */
	struct tlsf_block *sentinel;   /* the span-0 used block that ends the chain */
	size_t len;                    /* bytes of the region this area covers */
};
_Static_assert(sizeof(struct tlsf_area) % ALIGN_SIZE == 0, "the first block stays aligned");
/* The smallest region an area fits in, whatever its alignment: 112. */
#define AREA_MIN (sizeof(struct tlsf_area) + BLOCK_SPAN_MIN + SENTINEL_SPACE + 2 * ALIGN_SIZE)
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(WORD == 8 && BLOCK_SPAN_MIN == 32 && sizeof(struct tlsf_area) == 32 && AREA_MIN == 112 &&
		       FL_COUNT == 32 && SPAN_MAX == 0x7ffffffff0, "64-bit values as documented");
#endif

/*
 * The instance, at the start of the region given to create.
 * Invariants (all under lock): bit fl of fl_bitmap is set iff sl_bitmap[fl]
 * is non-zero; bit sl of sl_bitmap[fl] is set iff heads[fl][sl] != NULL;
 * free_span is the sum of the spans of all free blocks; every block of every
 * area lies in [lo, hi).
 */
struct tlsf_control {
	struct hk_alloc base;                      /* the common instance head */
	hk_lock_t lock;                            /* guards everything below and every block */
	uint32_t fl_bitmap;                        /* rows with a non-empty list */
	uint32_t sl_bitmap[FL_COUNT];              /* per row: its non-empty lists */
	struct tlsf_block *heads[FL_COUNT][SL_COUNT]; /* the segregated free lists */
	size_t free_span;                          /* sum of free blocks' spans: availmem */
	struct tlsf_area *areas;                   /* newest first */
	uintptr_t lo, hi;                          /* bounds of all areas: a cheap free() check */
	struct hk_counters counters;               /* allocs, frees, bytes in use (usable sizes) */
};

/*
 * The control is about 4.3 KiB on 64-bit (the 512 list heads are 4 KiB), so
 * the smallest region the registry offers, 8 KiB, leaves at least 3.5 KiB of
 * heap (create itself takes the control and one AREA_MIN).
 */
#define TLSF_CONTROL_MAX ((size_t)4608)            /* 4.5 KiB */
#define TLSF_HEAP_MIN ((size_t)3584)               /* 3.5 KiB: the least heap that region leaves */
#define TLSF_MIN_REGION (TLSF_CONTROL_MAX + TLSF_HEAP_MIN) /* 8192 */
_Static_assert(sizeof(struct tlsf_control) <= TLSF_CONTROL_MAX, "the control fits the smallest region's budget");
_Static_assert(TLSF_MIN_REGION == 8192 && TLSF_HEAP_MIN >= AREA_MIN, "8 KiB holds the control and an area");

static inline struct tlsf_control *to_control(hk_alloc_t *a) { return (struct tlsf_control *)a; }

/* The heap check (tlsf_check.c), the instance's check operation. */
int _hk_tlsf_check(hk_alloc_t *a, struct hk_check_report *r);

/* --- Block primitives ---------------------------------------------------- */

static inline size_t block_span(const struct tlsf_block *b) { return b->header & ~BLOCK_FLAGS; }
static inline size_t block_usable(const struct tlsf_block *b) { return block_span(b) - WORD; }
static inline bool block_is_free(const struct tlsf_block *b) { return b->header & BLOCK_FREE; }
static inline bool block_is_prev_free(const struct tlsf_block *b) { return b->header & BLOCK_PREV_FREE; }
static inline void block_set_span(struct tlsf_block *b, size_t span) { b->header = span | (b->header & BLOCK_FLAGS); }

static inline void *block_to_payload(struct tlsf_block *b) { return (char *)b + BLOCK_PAYLOAD_OFFSET; }
static inline struct tlsf_block *block_from_payload(void *p)
{
	return (struct tlsf_block *)((char *)p - BLOCK_PAYLOAD_OFFSET);
}
static inline struct tlsf_block *block_at(struct tlsf_block *b, size_t off)
{
	return (struct tlsf_block *)((char *)b + off);
}
static inline struct tlsf_block *block_next(struct tlsf_block *b) { return block_at(b, block_span(b)); }

/* Tell b's physical successor that b is its predecessor; returns it. */
static inline struct tlsf_block *block_link_next(struct tlsf_block *b)
{
	struct tlsf_block *next = block_next(b);
	next->prev_phys = b;
	return next;
}

/* Boundary tags: b becomes free (its successor learns it) or used. */
static inline void block_mark_free(struct tlsf_block *b)
{
	struct tlsf_block *next = block_link_next(b);
	next->header |= BLOCK_PREV_FREE;
	b->header |= BLOCK_FREE;
}

static inline void block_mark_used(struct tlsf_block *b)
{
	block_next(b)->header &= ~BLOCK_PREV_FREE;
	b->header &= ~BLOCK_FREE;
}

/*
 * Cut b (span >= span + BLOCK_SPAN_MIN) after span bytes: returns the
 * remainder, a free block whose predecessor is b, with its successor's tags
 * updated. b keeps its flags; the remainder is in no list.
 */
static inline struct tlsf_block *block_split(struct tlsf_block *b, size_t span)
{
	struct tlsf_block *rest = block_at(b, span);
	size_t rest_span = block_span(b) - span;
	hk_assert_internal(block_span(b) >= span + BLOCK_SPAN_MIN);
	rest->header = rest_span | (block_is_free(b) ? BLOCK_PREV_FREE : 0);
	block_set_span(b, span);
	if (block_is_free(b))
		rest->prev_phys = b;
	block_mark_free(rest);
	return rest;
}

/* Absorb b's successor next (free, in no list) into b. */
static inline void block_absorb(struct tlsf_block *b, struct tlsf_block *next)
{
	hk_assert_internal(block_next(b) == next && block_span(next) != 0);
	block_set_span(b, block_span(b) + block_span(next));
	block_link_next(b);
}

/* --- Mapping: span -> (first level, second level) ----------------------- */

/* The list a free block of this span belongs in. */
static inline void mapping_insert(size_t span, unsigned *fl, unsigned *sl)
{
	if (span < SMALL_SPAN) {
		*fl = 0;
		*sl = (unsigned)(span >> ALIGN_SHIFT);
	} else {
		unsigned bit = hk_log2(span);
		*sl = (unsigned)(span >> (bit - SL_LOG2)) ^ SL_COUNT;
		*fl = bit - FL_INDEX_SHIFT + 1;
	}
}

/*
 * The first list whose every block is >= span: round span up to the next
 * list boundary, then map. (fl may come out as FL_COUNT: no such list.)
 */
static inline void mapping_search(size_t span, unsigned *fl, unsigned *sl)
{
	if (span >= SMALL_SPAN)
		span += ((size_t)1 << (hk_log2(span) - SL_LOG2)) - 1;
	mapping_insert(span, fl, sl);
}

/* The smallest span list (fl, sl) holds. */
static inline size_t mapping_list_floor(unsigned fl, unsigned sl)
{
	if (fl == 0)
		return (size_t)sl << ALIGN_SHIFT;
	unsigned bit = fl + FL_INDEX_SHIFT - 1;
	return ((size_t)1 << bit) + ((size_t)sl << (bit - SL_LOG2));
}

/* --- Free lists and bitmaps ----------------------------------------------- */

static inline void list_insert(struct tlsf_control *c, struct tlsf_block *b)
{
	unsigned fl, sl;
	mapping_insert(block_span(b), &fl, &sl);
	struct tlsf_block *head = c->heads[fl][sl];
	b->next_free = head;
	b->prev_free = NULL;
	if (head)
		head->prev_free = b;
	c->heads[fl][sl] = b;
	c->fl_bitmap |= 1u << fl;
	c->sl_bitmap[fl] |= 1u << sl;
	c->free_span += block_span(b);
}

static inline void list_remove(struct tlsf_control *c, struct tlsf_block *b)
{
	unsigned fl, sl;
	mapping_insert(block_span(b), &fl, &sl);
	struct tlsf_block *next = b->next_free, *prev = b->prev_free;
	if (next)
		next->prev_free = prev;
	if (prev) {
		prev->next_free = next;
	} else {
		hk_assert_internal(c->heads[fl][sl] == b);
		c->heads[fl][sl] = next;
		if (!next) {
			c->sl_bitmap[fl] &= ~(1u << sl);
			if (!c->sl_bitmap[fl])
				c->fl_bitmap &= ~(1u << fl);
		}
	}
	c->free_span -= block_span(b);
}

/*
 * The first non-empty list at or after (fl, sl), without searching: mask
 * the row's bitmap, else take the next non-empty row. Updates fl and sl.
 */
static inline struct tlsf_block *search_suitable_block(struct tlsf_control *c, unsigned *fl, unsigned *sl)
{
	uint32_t sl_map = *fl < FL_COUNT ? c->sl_bitmap[*fl] & (uint32_t)(~(uint64_t)0 << *sl) : 0;
	if (!sl_map) {
		uint32_t fl_map = (uint32_t)(c->fl_bitmap & (~(uint64_t)0 << (*fl + 1)));
		if (!fl_map)
			return NULL;
		*fl = hk_ctz(fl_map);
		sl_map = c->sl_bitmap[*fl];
	}
	*sl = hk_ctz(sl_map);
	return c->heads[*fl][*sl];
}

#endif /* HK_TLSF_INTERNAL_H */
