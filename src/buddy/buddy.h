// SPDX-License-Identifier: MIT
/*
 * buddy: internal header shared by the buddy backend's files.
 *
 *   pages.c   regions, free lists, split and coalesce, page ranges
 *   table.c   the out-of-band record of live large blocks (address -> pages)
 *   slab.c    small size classes carved from single pages
 *   buddy.c   the operations table, create and addmem, the heap check
 *
 * Everything here runs under the instance's one lock (struct buddy.lock),
 * except what is said otherwise.
 */
#ifndef HK_BUDDY_H
#define HK_BUDDY_H

#include "core/internal.h"

/* --- Constants ---------------------------------------------------------------
 * A block of order k is 2^k pages, aligned to its size in absolute addresses. */
#define BUDDY_NR_ORDERS 48                        /* orders 0..47: 4 KiB .. 512 TiB */
#define BUDDY_MAX_ORDER (BUDDY_NR_ORDERS - 1)     /* 47 */
#define BUDDY_META_PAGES 2                        /* first region: instance + record table */
#define BUDDY_ADDMEM_META_PAGES 1                 /* every later region: its header */

/*
 * Slabs: objects from offset 0, a 32-byte header in the slab's last bytes.
 * Classes up to 2032 bytes use one-page slabs; the three above use big slabs
 * of 4 pages (16 KiB, aligned), so a 2048-byte request does not take a page.
 */
#define SLAB_HDR_SIZE 32u                                           /* sizeof(struct slab) */
#define SLAB_AREA (HK_PAGE_SIZE - SLAB_HDR_SIZE)                    /* 4064: one-page slab's objects */
#define SLAB_BIG_SHIFT 2                                            /* big slabs: 2^2 pages */
#define SLAB_BIG_BYTES ((uintptr_t)HK_PAGE_SIZE << SLAB_BIG_SHIFT)  /* 16384 */
#define SLAB_BIG_AREA (SLAB_BIG_BYTES - SLAB_HDR_SIZE)              /* 16352: big slab's objects */
#define SLAB_NR_CLASSES 32                                          /* 29 one-page, 3 big */
#define SLAB_MAX_SIZE 3264u                                         /* largest small request */
#define SLAB_GRANULE_SHIFT 4                                        /* class lookup by 16 bytes */
#define SLAB_NR_GRANULES (SLAB_MAX_SIZE >> SLAB_GRANULE_SHIFT)      /* 204 */
#define SLAB_NO_OBJECT 0xffffu                                      /* end of a free list */

/* The record table: 16-byte entries, the first 256 in the instance's second page. */
#define TABLE_BUILTIN_CAP (HK_PAGE_SIZE / 16)     /* 256 */

/*
 * Probing a buddy's header reads the first bytes of a block that may be in
 * use: held poisoned by a checker build's quarantine, or being written by the
 * thread that owns it. Such a read is the algorithm, not a use after free or
 * a race: whatever it sees, a block in use fails the tag or the neighbour
 * check, and a free block's header is only written under the lock. The
 * sanitizers are told not to watch these reads.
 */
#define BUDDY_PROBE __attribute__((no_sanitize_address, no_sanitize_thread))

/*
 * The smallest region the registry offers: four big slabs (64 KiB), so the
 * metadata pages and a big slab of each of the three largest classes fit
 * with room left (create itself takes anything with three whole pages).
 */
#define BUDDY_MIN_REGION (4 * (size_t)SLAB_BIG_BYTES) /* 65536 */
_Static_assert(BUDDY_MIN_REGION >= (BUDDY_META_PAGES + 1 + 3 * (1u << SLAB_BIG_SHIFT)) * HK_PAGE_SIZE,
	       "the smallest region holds the metadata, three big slabs and a page");

_Static_assert(SLAB_BIG_AREA / SLAB_MAX_SIZE == 5, "the largest class fits 5 times in a big slab");
_Static_assert(SLAB_BIG_AREA < SLAB_NO_OBJECT, "object offsets fit 16 bits");
_Static_assert(BUDDY_NR_ORDERS + HK_PAGE_SHIFT < 64, "block sizes fit a word");

/* --- Free lists ----------------------------------------------------------- */

/* A doubly linked, circular list node; a list's head is a node of its own. */
struct buddy_link {
	struct buddy_link *next;  /* next node, or the head */
	struct buddy_link *prev;  /* previous node, or the head */
};

/* Circular doubly linked lists with a head node (free lists, slab lists). */
static inline void link_init(struct buddy_link *h) { h->next = h->prev = h; }
static inline bool link_empty(const struct buddy_link *h) { return h->next == h; }

static inline void link_push(struct buddy_link *h, struct buddy_link *n)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

static inline void link_unlink(struct buddy_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

/*
 * The header a free block carries in its first bytes. Invariant: a block is
 * free iff its tag is free_tag(addr, order) AND the node before it on its list
 * points back at it (only real free blocks and list heads are ever linked, so
 * user data that happens to match the tag fails the back-pointer check). The
 * tag is cleared on allocation.
 */
struct buddy_free {
	struct buddy_link link;   /* on its region's heads[order] */
	uintptr_t tag;            /* free_tag(this, order) while free, 0 once taken */
};

/*
 * One region handed to the instance. Its header lives in the region's own
 * metadata page(s), outside [start, end).
 * Invariants: start and end are page aligned; every free block lies in
 * [start, end), is aligned to its size and is on heads[order]; bit k of
 * nonempty is set iff heads[k] is not empty; free_pages is the sum of the
 * free blocks' sizes; no two free buddies of the same order exist (coalesced).
 */
struct buddy_region {
	uintptr_t start;                           /* first managed page */
	uintptr_t end;                             /* one past the last managed page */
	struct buddy_region *next;                 /* next region of the instance, or NULL */
	size_t free_pages;                         /* pages in free blocks here */
	uint64_t nonempty;                         /* bit k: heads[k] has a block */
	uintptr_t span_lo, span_hi;                /* the whole range handed over, metadata included */
	uintptr_t tag;                             /* region_tag(this): the check finds overwrites */
	struct buddy_link heads[BUDDY_NR_ORDERS];  /* free blocks by order */
};

/* --- Record table ---------------------------------------------------------- */

/* One live large block: the address it was handed out at, and its pages. */
struct table_entry {
	uintptr_t addr;           /* page-aligned block start; 0: empty slot */
	size_t npages;            /* pages the block covers */
};

/*
 * Open addressing with linear probing, deletion by backward shift (no
 * tombstones). Invariants: cap is a power of two >= TABLE_BUILTIN_CAP;
 * count < cap (one empty slot at least, so probes stop); slots is the
 * built-in page iff cap == TABLE_BUILTIN_CAP, else a buddy block of its own.
 */
struct buddy_table {
	struct table_entry *slots;   /* cap entries */
	struct table_entry *builtin; /* the instance's second metadata page */
	size_t cap;                  /* number of slots */
	size_t count;                /* live entries */
	unsigned shift;              /* 64 - log2(cap): hash to slot */
};

/* --- Slabs ------------------------------------------------------------------ */

/*
 * The header in a slab's last 32 bytes. Objects lie at offsets i * size
 * from the slab's first byte for i < capacity; those below bump were handed out at least once,
 * and of those, the free ones form a list threaded through their first two
 * bytes (page offsets, SLAB_NO_OBJECT ends it).
 * Invariant: tag == slab_tag(first byte, shift) while a slab, 0 after;
 * on its class's full list iff nr_used == capacity, else on partial.
 */
struct slab {
	struct buddy_link link;   /* on its class's partial or full list */
	uintptr_t tag;            /* slab_tag(first byte, class shift) while a slab */
	uint16_t free_off;        /* first free object's offset, or SLAB_NO_OBJECT */
	uint16_t bump;            /* offset of the first never-used object */
	uint16_t nr_used;         /* objects handed out */
	uint8_t cls;              /* size class index */
	uint8_t full;             /* 1 while on the full list */
};
_Static_assert(sizeof(struct slab) == SLAB_HDR_SIZE, "slab header size");

/*
 * A size class: its slabs with room (partial) and without (full), and at
 * most one emptied slab kept back (spare) so that a malloc/free pair on an
 * otherwise empty class does not split and merge a page each time. A spare
 * is on no list, has bump 0 (so no pointer into it is a live object), and is
 * given back to the pages whenever free memory is asked about (availmem,
 * maxalloc) or a page allocation would fail.
 */
struct slab_class {
	struct buddy_link partial;  /* slabs with a free object; newest first */
	struct buddy_link full;     /* slabs with none */
	struct slab *spare;         /* an empty slab kept back, or NULL */
	uint16_t size;              /* object size */
	uint16_t capacity;          /* objects per slab: (slab bytes - 32) / size */
	uint8_t shift;              /* a slab is 2^shift pages: 0, or SLAB_BIG_SHIFT */
};

/* --- The instance ------------------------------------------------------------ */

/*
 * Lives in the first metadata page of the region handed to create(); the
 * record table's first 256 slots in the second. Everything below base is
 * guarded by lock.
 */
struct buddy {
	struct hk_alloc base;                  /* must be first */
	hk_lock_t lock;                        /* one lock for the whole instance */
	struct buddy_region *regions;          /* newest first */
	size_t free_pages;                     /* over all regions */
	size_t nr_spares;                      /* empty slabs kept back (slab_class.spare) */
	uintptr_t secret;                      /* mixed into tags */
	struct buddy_table table;              /* live large blocks */
	struct hk_counters counters;           /* allocations, bytes, managed */
	struct slab_class classes[SLAB_NR_CLASSES];
	uint8_t class_of[SLAB_NR_GRANULES];    /* granule (size-1)>>4 -> class */
	struct buddy_region first;             /* the region create() was given */
};

static inline struct buddy *to_buddy(hk_alloc_t *a) { return (struct buddy *)a; }
static inline uintptr_t order_bytes(unsigned k) { return (uintptr_t)HK_PAGE_SIZE << k; }

static inline uintptr_t free_tag(const struct buddy *b, uintptr_t addr, unsigned order)
{
	return (addr ^ b->secret) + order + 1;
}
/* A slab's tag: its first byte's address and its size (shift), mixed with the secret. */
static inline uintptr_t slab_tag(const struct buddy *b, uintptr_t base, unsigned shift)
{
	return (((base ^ b->secret) * 0x9e3779b97f4a7c15ull) | 1) ^ ((uintptr_t)shift << 1);
}
static inline uintptr_t slab_bytes(const struct slab_class *c) { return (uintptr_t)HK_PAGE_SIZE << c->shift; }
/* A slab's first byte; s->cls is trusted (the tag was checked). */
static inline uintptr_t slab_base(const struct buddy *b, const struct slab *s)
{
	return (uintptr_t)s + SLAB_HDR_SIZE - slab_bytes(&b->classes[s->cls]);
}

/* --- pages.c --------------------------------------------------------------- */

/* Fill region header r (span_* aside) and put [start, end) on its free lists. */
void _hk_buddy_region_init(struct buddy *b, struct buddy_region *r, uintptr_t start, uintptr_t end);
/* The region whose managed pages hold addr, or NULL. */
struct buddy_region *_hk_buddy_region_of(struct buddy *b, uintptr_t addr);
/*
 * npages pages aligned to 2^align_order pages, from one block of order
 * max(log2_up(npages), align_order) whose unused tail goes back to the free
 * lists; failing that, from a run of adjacent free blocks (slow path).
 * 0 when no run is long enough.
 */
uintptr_t _hk_buddy_pages_alloc(struct buddy *b, size_t npages, unsigned align_order);
/* Give back pages [addr, addr + npages) of region r, coalescing. */
void _hk_buddy_pages_free(struct buddy *b, struct buddy_region *r, uintptr_t addr, size_t npages);
/* Take the free pages [addr, addr + npages) of r; false (nothing taken) if any is in use. */
bool _hk_buddy_pages_claim(struct buddy *b, struct buddy_region *r, uintptr_t addr, size_t npages);
/* Is the block at addr of the given order free? addr lies in r. */
bool _hk_buddy_block_is_free(const struct buddy *b, const struct buddy_region *r, uintptr_t addr, unsigned order);
/* Bytes of the longest run of free pages in one region, 0 if none. */
size_t _hk_buddy_max_run(struct buddy *b);
/* Walk r's free lists; 0 or _hk_check_fail's -1. */
int _hk_buddy_region_check(struct buddy *b, struct buddy_region *r, struct hk_check_report *rep);

/* --- table.c ---------------------------------------------------------------- */

void _hk_buddy_table_init(struct buddy *b, struct table_entry *builtin);
/* The entry for addr, or NULL. */
struct table_entry *_hk_buddy_table_find(struct buddy *b, uintptr_t addr);
/*
 * Record addr (absent) with npages, growing the table when it can; false
 * only when the table is full and no memory is left to grow it.
 */
bool _hk_buddy_table_insert(struct buddy *b, uintptr_t addr, size_t npages);
/* Remove entry e (from _hk_buddy_table_find); may shrink the table. */
void _hk_buddy_table_remove(struct buddy *b, struct table_entry *e);
int _hk_buddy_table_check(struct buddy *b, struct hk_check_report *rep);

/* --- slab.c ---------------------------------------------------------------- */

void _hk_buddy_slab_init(struct buddy *b);
/* Class index for a small request of size bytes (1 <= size <= SLAB_MAX_SIZE). */
static inline unsigned slab_class_for(const struct buddy *b, size_t size)
{
	return b->class_of[(size - 1) >> SLAB_GRANULE_SHIFT];
}
/* The smallest class >= size whose objects are aligned to align; -1 if none. */
int _hk_buddy_slab_class_aligned(const struct buddy *b, size_t size, size_t align);
/* An object of class cls, or NULL when no page is left. */
void *_hk_buddy_slab_alloc(struct buddy *b, unsigned cls);
/* The slab holding p, a pointer in region r that is not a large block; NULL if p is in no slab. */
struct slab *_hk_buddy_slab_find(struct buddy *b, const struct buddy_region *r, uintptr_t p);
/* Is p the start of an object of slab s that was handed out (maybe since freed)? */
bool _hk_buddy_slab_is_object(struct buddy *b, const struct slab *s, uintptr_t p);
/* Free p, an object of slab s; fatal on an immediately repeated free. */
void _hk_buddy_slab_free(struct buddy *b, struct slab *s, uintptr_t p);
/* Give every class's spare slab back to the pages; how many slabs that was. */
size_t _hk_buddy_slab_flush(struct buddy *b);
/* Largest class with a free object in some slab, 0 if none. */
size_t _hk_buddy_slab_max_free(struct buddy *b);
int _hk_buddy_slab_check(struct buddy *b, struct hk_check_report *rep);

#endif /* HK_BUDDY_H */
