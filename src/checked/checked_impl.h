// SPDX-License-Identifier: MIT
/*
 * Inside the checked wrapper: its layout constants, structures and the
 * hosted helpers (src/checked/guard.c: guard pages, the no-access malloc(0)
 * arena, the fault handler, stacks, the exit check) that checked.c calls.
 *
 * A small block (under a page, or any block where there are no guard pages):
 *
 *   base (inner block)     p (user)          p + size            slot end
 *   | ...  | FRONT canary  | requested bytes | canary to the slot's end |
 *                 32 bytes                      >= 32 bytes
 *
 * A large block (a page and more, hosted builds):
 *
 *   base         p (page aligned)               p + size    data end
 *   | guard page | requested bytes ...          | canary    | guard page |
 *     PROT_NONE                                   < a page     PROT_NONE
 *
 * taken from the OS (mmap; the drop-in) or from the inner instance
 * (memalign; any other wrapper), whose own headers stay outside.
 */
#ifndef HK_CHECKED_IMPL_H
#define HK_CHECKED_IMPL_H

#include "core/internal.h"
#include "checked/checked.h"

/* --- Constants ------------------------------------------------------------ */
#define FRONT_BYTES 32u                    /* canary before every small block */
#define BACK_MIN 32u                       /* canary after it, at least (up to the slot's end) */
#define CANARY_BYTE 0xcbu                  /* their value */
#define FREED_BYTE 0x00u                   /* a small block in the quarantine reads as zeros */
#define QUARANTINE_DEFAULT 4096u           /* freed blocks held back, unless asked otherwise */
#define QUARANTINE_MAX (1u << 16)          /* at most this many */
#define QUARANTINE_BYTES ((size_t)8 << 20) /* 8 MiB: small blocks' bytes held at most */
#define QUARANTINE_LARGE ((size_t)1 << 30) /* 1 GiB: large blocks' address space held (no memory) */
#define GRAVE_SLOTS 65536u                 /* at most this many addresses remembered after they left the quarantine (512 KiB) */
#define GRAVE_WAYS 4u                      /* in buckets of this many, oldest replaced first */
#define TABLE_MIN 64u                      /* first size of the live table (slots) */
#define SLOT_EMPTY ((uintptr_t)0)          /* a never-used slot */
#define SLOT_GONE ((uintptr_t)1)           /* a slot whose block was freed (tombstone) */
_Static_assert(FRONT_BYTES % HK_MIN_ALIGN == 0, "the front canary keeps blocks aligned");

/* Block flags. */
#define BLK_LARGE 1u                       /* between guard pages */
#define BLK_OS 2u                          /* large, mapped from the OS (else from the inner instance) */
#define BLK_ZERO 4u                        /* malloc(0): an address in the no-access arena */

/* --- Structures ------------------------------------------------------------ */

/* A block, live (in the table) or held (in the quarantine). */
struct blk {
	uintptr_t p;          /* user address; SLOT_EMPTY / SLOT_GONE in a table slot */
	size_t size;          /* requested bytes */
	uintptr_t base;       /* inner block or mapping start (0 for BLK_ZERO) */
	uint16_t form;        /* HK_FORM_* */
	uint16_t flags;       /* BLK_* */
	uint32_t alloc_stack; /* stack id of its allocation (0: none) */
	uint32_t free_stack;  /* stack id of its free (held blocks) */
};

/*
 * The wrapper. Invariants (under lock): every live block is in table exactly
 * once and in no ring entry; a held block is in the ring and not in the
 * table; table_cap is a power of two and table_used (live + tombstones)
 * stays below 3/4 of it; ring holds ring_len entries starting at ring_head;
 * ring_bytes / ring_large sum the held small blocks' sizes / large blocks'
 * mappings.
 */
struct checked {
	struct hk_alloc base;            /* the common instance head */
	struct hk_backend record;        /* this instance's registry record: name, caps */
	hk_alloc_t *inner;               /* where the memory comes from */
	hk_lock_t lock;                  /* guards everything below */
	struct blk *table;               /* live blocks: open addressing, linear probing */
	size_t table_cap;                /* slots, a power of two */
	size_t table_used;               /* slots not SLOT_EMPTY */
	size_t nr_live;                  /* live blocks */
	struct blk *ring;                /* the quarantine: a ring of ring_cap */
	size_t ring_cap;                 /* entries */
	size_t ring_head;                /* oldest entry */
	size_t ring_len;                 /* entries in use */
	size_t ring_bytes;               /* requested bytes of held small blocks */
	size_t ring_large;               /* mapping bytes of held large blocks */
	uintptr_t *grave;                /* addresses freed and gone from the quarantine, by hash, GRAVE_WAYS a bucket */
	size_t grave_cap;                /* its slots, a power of two (GRAVE_SLOTS or fewer, 64 at least) */
	bool guards;                     /* large blocks between guard pages (hosted) */
	bool os_large;                   /* large blocks mapped from the OS (the drop-in) */
	bool stacks;                     /* record stacks (HEAPKIT_BACKTRACE=1) */
	struct hk_counters counters;     /* requested bytes of live blocks */
};

/* --- Hosted helpers (guard.c); stubs where there is no OS ---------------------- */
#if defined(HK_HOSTED) && HK_HOSTED
/* Map (or take from inner) a large block between guard pages; false if it cannot be had. */
bool _hk_ck_large_alloc(struct checked *c, size_t align, size_t size, struct blk *b);
/* A freed large block: no access, no memory (it stays reserved while held). */
void _hk_ck_large_retire(struct checked *c, const struct blk *b);
/* Give a held large block back (unmap, or unprotect and free to inner). */
void _hk_ck_large_release(struct checked *c, const struct blk *b);
/* Resize an OS-mapped large block to size without copying (mremap); false if it cannot. */
bool _hk_ck_large_resize(struct checked *c, struct blk *b, size_t size);
/* Give a live large block back at once (a realloc that moved it, destroy). */
void _hk_ck_large_drop(struct checked *c, const struct blk *b);
/* A unique address where no byte may be read or written (malloc(0), the platform's); 0 if none. */
static inline uintptr_t _hk_ck_zero_alloc(void) { return (uintptr_t)_hk_zero_alloc(); }
/* Record the calling stack; its id, or 0 (stacks off, depot full). */
uint32_t _hk_ck_stack_save(void);
/* Print a recorded stack (id != 0) or the current one (id 0) under a title. */
void _hk_ck_stack_print(const char *title, uint32_t id, bool current);
/* HEAPKIT_BACKTRACE=1 (reads the environment once; preloads backtrace()). */
bool _hk_ck_stacks_wanted(void);
#else
static inline bool _hk_ck_large_alloc(struct checked *c, size_t a, size_t s, struct blk *b) { return false; }
static inline void _hk_ck_large_retire(struct checked *c, const struct blk *b) {}
static inline void _hk_ck_large_release(struct checked *c, const struct blk *b) {}
static inline bool _hk_ck_large_resize(struct checked *c, struct blk *b, size_t s) { return false; }
static inline void _hk_ck_large_drop(struct checked *c, const struct blk *b) {}
static inline uintptr_t _hk_ck_zero_alloc(void) { return 0; }
static inline uint32_t _hk_ck_stack_save(void) { return 0; }
static inline void _hk_ck_stack_print(const char *t, uint32_t id, bool cur) {}
static inline bool _hk_ck_stacks_wanted(void) { return false; }
#endif

/* The first byte of a large block's mapping after its data (its back guard page). */
static inline uintptr_t blk_data_end(const struct blk *b)
{
	return b->p + hk_align_up(b->size, HK_PAGE_SIZE);
}

/* Bytes of a large block's mapping: front gap and guard, data, back guard. */
static inline size_t blk_map_len(const struct blk *b)
{
	return (size_t)(blk_data_end(b) - b->base) + HK_PAGE_SIZE;
}

static inline struct checked *to_checked(hk_alloc_t *a) { return (struct checked *)a; }

/* The wrapper's lock; the drop-in's string functions do not check while a thread holds one (_hk_ck_busy). */
#if defined(HK_DROPIN_CHECKED) && HK_DROPIN_CHECKED
#define BUSY_ENTER() (_hk_ck_busy++)
#define BUSY_LEAVE() (_hk_ck_busy--)
#else
#define BUSY_ENTER() ((void)0)
#define BUSY_LEAVE() ((void)0)
#endif

static inline void c_lock(struct checked *c)
{
	hk_lock(&c->lock);
	BUSY_ENTER();
}

static inline void c_unlock(struct checked *c)
{
	BUSY_LEAVE();
	hk_unlock(&c->lock);
}

/* checked.c, for dropin.c: a wrapper over inner holding back quarantine freed blocks (0: the default). */
hk_alloc_t *_hk_ck_new(hk_alloc_t *inner, size_t quarantine);
/* checked.c, for bounds.c: the live block at p, the held block at p (NULL: none); a block's end past its canary. */
struct blk *_hk_ck_table_find(struct checked *c, uintptr_t p);
const struct blk *_hk_ck_ring_find(struct checked *c, uintptr_t p);
uintptr_t _hk_ck_blk_end(struct checked *c, const struct blk *b);

/* Fault handler and exit check for the drop-in's instance (guard.c). */
void _hk_ck_dropin_hooks(struct checked *c);
/* Every live and held block of c checked; the first bad one reported (abort). */
void _hk_ck_exit_check(struct checked *c);

/* "heapkit: checked: <what> at 0x<addr> (block 0x<p>, <size> bytes, first bad byte at offset <off>)"
 * with stacks when recorded, then abort. b may be NULL; has_off false: no offset. */
__attribute__((noreturn, cold)) void _hk_ck_die(const char *what, const void *addr, const struct blk *b,
						  bool has_off, long off);

#endif /* HK_CHECKED_IMPL_H */
