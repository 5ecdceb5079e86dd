// SPDX-License-Identifier: MIT
/*
 * shard: a mimalloc-class allocator with free-list sharding.
 *
 *   shard.h   constants, the core structs and their invariants, the fast paths
 *   page.c    size classes, pages and segments, the malloc/free slow paths
 *   huge.c    huge blocks straight from the page source
 *   heap.c    thread records, per-thread heaps, thread exit, abandon/reclaim
 *   shard.c   the instance: page sources, create, the operations, stats, check
 *
 * Memory comes in segments: 2^seg_shift bytes aligned to their size, taken
 * from a page source (a buddy instance over the region, or the OS). A small
 * segment is cut into page slots: a small class's page takes one slot, a
 * medium class's page a run of them; a large segment is a single page of
 * big blocks; a huge block is its own page-source block and
 * is the only kind of block whose address is segment aligned. So for any
 * block p: seg = p & ~(seg_size - 1) finds the segment header unless p is
 * segment aligned (huge), and the page is seg->pages[(p - seg) >> page_shift].
 *
 * Each page has three free lists: free (malloc pops it, owner only),
 * local_free (the owner's frees) and xthread_free (an atomic stack other
 * threads push on). The owner's fast paths use no atomic operation.
 *
 * Each thread has one record (found through the platform's 8-byte thread
 * slot) and one heap per instance it uses; the record caches the heap of
 * the last instance used. The slot holds the record's offset from the
 * static empty record, so a thread that never allocated (slot NULL) reads
 * the empty record, whose empty heap matches no instance and whose direct
 * slots all hold the empty page: the fast path falls into the slow path
 * with no initialisation test.
 */
#ifndef HK_SHARD_H
#define HK_SHARD_H

#include "core/internal.h"

/* --- Constants ---------------------------------------------------------------
 * Base shifts; everything else derives from them. */
#define SHARD_TINY 8u                                         /* bin 1: requests of 1..8 B, 8-byte aligned */
#define SHARD_GRANULE_SHIFT 4                                 /* block sizes step 16 B above it: max_align_t */
#define SHARD_GRANULE (1u << SHARD_GRANULE_SHIFT)             /* 16 */
#define SHARD_LINEAR_SHIFT 7                                  /* linear classes up to 128 B */
#define SHARD_LINEAR_MAX (1u << SHARD_LINEAR_SHIFT)           /* 128 */
#define SHARD_NR_LINEAR (SHARD_LINEAR_MAX / SHARD_GRANULE)    /* 8: bins 2..9 = 16..128 */
#define SHARD_STEP_SHIFT 3                                    /* 8 classes per doubling above */
#define SHARD_STEPS (1u << SHARD_STEP_SHIFT)                  /* 8: waste < 1/8 = 12.5% */
#define SHARD_DIRECT_SHIFT 10                                 /* fast-path sizes up to 1 KiB */
#define SHARD_DIRECT_MAX (1u << SHARD_DIRECT_SHIFT)           /* 1024 */
#define SHARD_DIRECT_STEP_SHIFT 3                             /* direct slots by 8 bytes */
#define SHARD_DIRECT_SLOTS ((SHARD_DIRECT_MAX >> SHARD_DIRECT_STEP_SHIFT) + 1) /* 129 */

#define SHARD_SEG_SHIFT_MIN 14                                /* 16 KiB: fits a 64 KiB region */
#define SHARD_SEG_SHIFT_MAX 22                                /* 4 MiB */
#define SHARD_SEG_SHIFT_OS SHARD_SEG_SHIFT_MAX                /* 4 MiB over the OS */
#define SHARD_SEG_SHIFT_REGION_MAX 20                         /* 1 MiB over a fixed region */
#define SHARD_REGION_SEGS_SHIFT 5                             /* region >= 32 segments when it can */
#define SHARD_PAGE_SHIFT_MIN 11                               /* small pages 2 KiB .. */
#define SHARD_PAGE_SHIFT_MAX 16                               /* .. 64 KiB */
#define SHARD_SEG_PAGES_SHIFT 4                               /* a segment is 16 pages when it can */
#define SHARD_MAX_PAGES (1u << (SHARD_SEG_SHIFT_MAX - SHARD_PAGE_SHIFT_MAX)) /* 64 page slots */
#define SHARD_SMALL_FRAC_SHIFT 2                              /* small classes <= page / 4 */
#define SHARD_MEDIUM_FRAC_SHIFT 3                             /* medium classes <= segment / 8 */
#define SHARD_MEDIUM_BLOCKS_SHIFT 2                           /* a medium page holds >= 4 blocks */
#define SHARD_LARGE_FRAC_SHIFT 2                              /* large classes <= segment / 4 */
#define SHARD_LARGE_MAX_MAX (1u << (SHARD_SEG_SHIFT_MAX - SHARD_LARGE_FRAC_SHIFT)) /* 1 MiB */
#define SHARD_EXTEND_BYTES 4096u                              /* free list grows 4 KiB at a time */
#define SHARD_OPEN_STEP ((size_t)256 << 10)                   /* a protected segment opens 256 KiB at a time */
#define SHARD_PURGE_DELAY_MS 25                               /* a free page slot's memory goes back 25-50 ms after */
#define SHARD_CACHE_OS 8                                      /* empty segments kept over the OS .. */
#define SHARD_CACHE_DELAY_MS 100                              /* .. for 100-125 ms */
#define SHARD_RECLAIM_TRIES 8                                 /* abandoned segments taken over per fresh page at most */
#define SHARD_HUGE_HDR 64u                                    /* header before an OS huge block */
#define SHARD_HUGE_CACHE 16                                   /* freed OS huge mappings kept .. */
#define SHARD_HUGE_CACHE_BYTES ((size_t)128 << 20)            /* .. up to 128 MiB in all, for cache_delay */
#define SHARD_HUGE_SLACK 8                                    /* a reused mapping is trimmed over 8x the request */
#define SHARD_RANGES 16                                       /* addmem regions a region instance judges by */

/* Bin of a size: 1 for 8 B, 2..9 linear, then SHARD_STEPS per doubling. Size >= 1. */
static inline unsigned shard_bin_of(size_t size)
{
	if (size <= SHARD_TINY)
		return 1;
	if (size <= SHARD_LINEAR_MAX)
		return 1 + (unsigned)((size + SHARD_GRANULE - 1) >> SHARD_GRANULE_SHIFT);
	unsigned k = hk_log2(size - 1);
	return 1 + SHARD_NR_LINEAR + (k - SHARD_LINEAR_SHIFT) * SHARD_STEPS +
	       (unsigned)(((size - 1) >> (k - SHARD_STEP_SHIFT)) & (SHARD_STEPS - 1)) + 1;
}

/* Block size of bin b >= 1: the largest size with shard_bin_of(size) == b. */
static inline size_t shard_bin_size(unsigned b)
{
	if (b == 1)
		return SHARD_TINY;
	if (b <= 1 + SHARD_NR_LINEAR)
		return (size_t)(b - 1) << SHARD_GRANULE_SHIFT;
	unsigned j = b - SHARD_NR_LINEAR - 2, k = SHARD_LINEAR_SHIFT + j / SHARD_STEPS;
	return ((size_t)1 << k) + ((size_t)(j % SHARD_STEPS + 1) << (k - SHARD_STEP_SHIFT));
}

/*
 * The direct slots of bin b (block size at most SHARD_DIRECT_MAX): sizes up
 * to slot * 8 land in [*lo, *hi]. Slot 0 (malloc(0)) always holds the empty
 * page: size 0 takes the slow path, which may hand out an address nothing
 * may touch (zero_trap).
 */
static inline void shard_direct_slots(unsigned b, size_t *lo, size_t *hi)
{
	*lo = b == 1 ? 1 : (shard_bin_size(b - 1) >> SHARD_DIRECT_STEP_SHIFT) + 1;
	*hi = shard_bin_size(b) >> SHARD_DIRECT_STEP_SHIFT;
}

#define SHARD_NR_BINS 114   /* bins 0..113; bin 0 unused, 1 = 8 B, 113 = 1 MiB */
_Static_assert(SHARD_LINEAR_MAX == SHARD_NR_LINEAR * SHARD_GRANULE, "linear classes step by a granule");
_Static_assert(SHARD_LARGE_MAX_MAX == 1u << 20, "largest class 1 MiB");
_Static_assert(SHARD_NR_BINS == 1 + SHARD_NR_LINEAR + (20 - SHARD_LINEAR_SHIFT) * SHARD_STEPS + 1,
	       "bins cover up to SHARD_LARGE_MAX_MAX");
_Static_assert(SHARD_MAX_PAGES <= 64, "page slots fit a 64-bit mask");
_Static_assert(SHARD_DIRECT_SLOTS == 129, "direct slots: 8-byte steps 0..128");
_Static_assert(SHARD_TINY == 1u << SHARD_DIRECT_STEP_SHIFT && SHARD_GRANULE % SHARD_TINY == 0,
	       "the tiny class is one direct step; the granule a multiple of it");
_Static_assert(SHARD_SEG_SHIFT_MIN - SHARD_PAGE_SHIFT_MIN >= 2, "a small segment has 4 pages at least");

/* --- Blocks and pages ------------------------------------------------------ */

/* --- Hardening ------------------------------------------------------------------
 * HK_HARDEN (CMake -DHK_HARDEN=0|1, default 1) says what the release build
 * checks (docs/safety.md, "The release build"):
 *   0  nothing on the fast paths: a bad pointer may fault inside free
 *   1  every pointer judged by heapkit's metadata before anything is read
 *      through it: the segment map (over the OS) or the instance's ranges and
 *      segment stamps (over a region); on every path, a pointer that is not
 *      the start of a carved block (interior, unaligned, past the carved
 *      ones: shard_block_starts, a multiplication) and a double free of a
 *      block still free (its first word decodes as a link: malloc clears it;
 *      confirmed on the page's lists); free lists whose links are encoded
 *      (next ^ a per-process key ^ the block's address) and checked when
 *      popped, so a write after free cannot become a write anywhere
 * (2, the old level with the boundary test, is level 1.)
 */
#ifndef HK_HARDEN
#define HK_HARDEN 1
#endif

/*
 * Per-process secrets, drawn once before the first segment exists and never
 * changed (encoded links and stamps depend on them).
 */
struct shard_keys {
	uintptr_t link_key;   /* HK_HARDEN >= 1: mixed into every free-list link */
	uintptr_t stamp_key;  /* segment stamps (region instances) */
};
extern struct shard_keys _hk_shard_keys __attribute__((visibility("hidden")));
void _hk_shard_keys_init(void);

/*
 * The segment map: one byte per 4 MiB (2^SHARD_MAP_SHIFT) of the 47-bit
 * address space, saying what heapkit mapped there from the OS. Reserved
 * (32 MiB, untouched parts cost nothing) when the OS instance starts; until
 * then bytes points at a zero byte and mask is 0, so every lookup says
 * "nothing". Set when the page source maps a segment or a huge block,
 * cleared before it unmaps one. A pointer of 2^47 and more aliases a lower
 * entry in the fast path's lookup; the slow path refuses it first.
 */
#define SHARD_MAP_SHIFT SHARD_SEG_SHIFT_OS                       /* 22: a granule is an OS segment */
#define SHARD_MAP_VA_BITS 47                                     /* user address space */
#define SHARD_MAP_ENTRIES ((uintptr_t)1 << (SHARD_MAP_VA_BITS - SHARD_MAP_SHIFT)) /* 2^25: 32 MiB */
#define SHARD_MAP_NONE 0     /* not heapkit's */
#define SHARD_MAP_SEG 1      /* a segment of the OS instance (live or cached) */
#define SHARD_MAP_HUGE 2     /* part of a huge block's mapping (live or cached) */
/* (hidden: the fast path reads them straight, not through the GOT) */
extern const uint8_t *_hk_shard_map_bytes __attribute__((visibility("hidden")));   /* a zero byte until reserved */
extern uintptr_t _hk_shard_map_mask __attribute__((visibility("hidden")));         /* SHARD_MAP_ENTRIES - 1, 0 before */
struct hk_page_source *_hk_shard_map_source(struct hk_page_source *os);

/* (Plain loads: both words are written once, table first; TSan builds say so.) */
hk_inline unsigned shard_map_get(const void *p)
{
#if defined(HK_TSAN) && HK_TSAN
	return __atomic_load_n(&_hk_shard_map_bytes, __ATOMIC_ACQUIRE)
		[((uintptr_t)p >> SHARD_MAP_SHIFT) & __atomic_load_n(&_hk_shard_map_mask, __ATOMIC_ACQUIRE)];
#else
	return _hk_shard_map_bytes[((uintptr_t)p >> SHARD_MAP_SHIFT) & _hk_shard_map_mask];
#endif
}

/* --- Blocks and pages ------------------------------------------------------ */

/*
 * A free block: its one word links the list it is on (encoded with
 * HK_HARDEN >= 1: shard_link_get and shard_link_set(_mixed) are the only
 * readers and writers). Blocks are 8 bytes at least.
 */
struct shard_block {
	struct shard_block *next;
};

#if HK_HARDEN >= 1
hk_inline struct shard_block *shard_link_get(const struct shard_block *b)
{
	return (struct shard_block *)((uintptr_t)b->next ^ _hk_shard_keys.link_key ^ (uintptr_t)b);
}
/* What a link stored in b is mixed with (taken once for a store that may repeat: free_remote's loop). */
hk_inline uintptr_t shard_link_mix(const struct shard_block *b) { return _hk_shard_keys.link_key ^ (uintptr_t)b; }

/*
 * Whether a block whose first word is w looks free (HK_HARDEN >= 1): w
 * decodes to a link inside the block's 4 MiB-aligned span (every link stays
 * in its page) or to the end of a list. malloc clears that word, so a block
 * in use looks free only when the program stored in it a value that matches
 * the secret: a hint, confirmed on the page's lists before anything is named.
 */
hk_inline bool shard_word_looks_free(uintptr_t w, const void *b)
{
	uintptr_t x = w ^ _hk_shard_keys.link_key;   /* next ^ b */
	return (x < ((uintptr_t)1 << SHARD_SEG_SHIFT_MAX)) | (x == (uintptr_t)b);   /* (one branch) */
}

/*
 * Whether next, the link that follows b, leaves b's segment (seg_mask): a
 * write after free (HK_HARDEN >= 1). The end of a list (NULL) does not. No
 * branch on NULL, which mispredicts on short lists (measured: 13 % of
 * glibc-thread's single-thread rate): the test takes the smaller of next ^ b
 * and next, which for NULL is 0. A link that decodes to a non-NULL address
 * below 2^22 passes too: it cannot be aimed there without the key (with the
 * key, a link into the segment passes anyway), and it points at no mapping
 * of the program's (the first 4 MiB).
 */
hk_inline bool shard_link_strays(const struct shard_block *b, const struct shard_block *next, uintptr_t seg_mask)
{
	uintptr_t x = (uintptr_t)next ^ (uintptr_t)b, n = (uintptr_t)next;
	return ((x < n ? x : n) & seg_mask) != 0;
}
#else
hk_inline struct shard_block *shard_link_get(const struct shard_block *b) { return b->next; }
hk_inline uintptr_t shard_link_mix(const struct shard_block *b)
{
	(void)b;
	return 0;
}
#endif
/* b's link to next, with b's mix in hand. */
hk_inline void shard_link_set_mixed(struct shard_block *b, struct shard_block *next, uintptr_t mix)
{
	b->next = (struct shard_block *)((uintptr_t)next ^ mix);
}
hk_inline void shard_link_set(struct shard_block *b, struct shard_block *next)
{
	shard_link_set_mixed(b, next, shard_link_mix(b));
}

#define PAGE_IN_FULL 1u      /* found without a free block: at the back of its bin's queue */
#define PAGE_HAS_ALIGNED 2u  /* an aligned block inside: free finds the block start */
#define PAGE_CONT 4u         /* a continuation slot of a medium page: the head is slots back */
#define PAGE_COUNTED 8u      /* the instance's count_slow: the owner's free goes slow too, which counts */

/*
 * A page: one size class's blocks in [start, start + reserved * block_size).
 * A medium page spans several slots; the headers of the slots after the
 * first say PAGE_CONT and how far back the head is (so free goes slow).
 * Invariants: a block is on at most one of free, local_free, xthread_free;
 * used = capacity - (blocks on free + local_free); blocks on xthread_free
 * still count as used until the owner collects them. free, local_free, used,
 * capacity, flags, next/prev are touched only by the owning thread (or under
 * the instance lock while the segment is abandoned); others only push on
 * xthread_free. bin == 0 iff the page slot is unused; an unused slot's
 * capacity and block_size say what memory it last carved (capacity 0 once
 * purged) and used is 1 if it was so at its segment's last abandon.
 */
struct shard_page {
	struct shard_block *free;        /* malloc pops here; NULL sends it to the slow path */
	struct shard_block *local_free;  /* the owner's frees */
	uintptr_t xthread_free;          /* other threads' frees: atomic stack of blocks (shard_xt_*) */
	uint64_t block_magic;            /* shard_block_magic(block_size): division by a multiplication */
	uint32_t block_size;             /* bytes per block */
	uint16_t used;                   /* blocks handed out and not back on free/local_free */
	uint16_t capacity;               /* blocks carved so far (lists grow lazily) */
	uint16_t reserved;               /* blocks that fit */
	uint16_t area_at;                /* where its first block is, from the segment's start, in 64 bytes */
	uint8_t flags;                   /* PAGE_IN_FULL | PAGE_HAS_ALIGNED: free goes slow */
	uint8_t bin;                     /* size class; 0 while the slot is unused */
	uint8_t index;                   /* slot in its segment */
	uint8_t slots;                   /* head: slots it spans; continuation: distance to the head */
	struct shard_page *next;         /* its bin's queue */
	struct shard_page *prev;
};
_Static_assert(sizeof(struct shard_page) == 64, "a page header is one cache line");
#define SHARD_AREA_SHIFT 6   /* a page's blocks start 64-byte aligned in their segment (the header is rounded up) */
/* (the most blocks a page holds: a small page of 8-byte blocks; medium and large pages hold fewer) */
_Static_assert(((1u << SHARD_PAGE_SHIFT_MAX) >> 3) <= UINT16_MAX, "block counts fit 16 bits");

/* A page's block_magic: 2^64 / block_size, rounded up (block_size >= 2). */
hk_inline uint64_t shard_block_magic(uint32_t block_size) { return UINT64_MAX / block_size + 1; }

/*
 * Whether x, an offset from pg's first block, starts one of its first n
 * blocks: x divisible by the block size (x * magic wraps below magic) and
 * the quotient (the high half of the product) below n. Exact for every
 * 32-bit x (Lemire, Kaser and Kurz, "Faster remainder by direct
 * computation", 2019; test-shard block-starts checks it against the
 * division); an offset before the first block wraps to a quotient far above
 * any count.
 */
hk_inline bool shard_block_starts(const struct shard_page *pg, uint32_t x, uint32_t n)
{
	unsigned __int128 m = (unsigned __int128)pg->block_magic * x;
	return ((uint64_t)m < pg->block_magic) & ((uint64_t)(m >> 64) < n);
}

/* flags change only by the owner, but others read them: relaxed atomics. */
hk_inline unsigned page_flags(const struct shard_page *pg) { return __atomic_load_n(&pg->flags, __ATOMIC_RELAXED); }
hk_inline void page_flags_set(struct shard_page *pg, unsigned f)
{
	__atomic_store_n(&pg->flags, (uint8_t)f, __ATOMIC_RELAXED);
}

/* --- Segments ---------------------------------------------------------------- */

#define SEG_SMALL 1     /* nr_pages pages of 2^page_shift */
#define SEG_LARGE 2     /* one page spanning the segment */
#define SEG_ABANDONED ((uintptr_t)1)   /* owner of a segment no thread owns */

/*
 * A segment's header, at its (segment-aligned) start; page 0's blocks begin
 * after it. Invariants: owner == heap->thread's encoding, or SEG_ABANDONED
 * with heap == NULL and the segment on the instance's abandoned list;
 * free_mask has bit i iff pages[i].bin == 0; a small segment is on its heap's
 * small_segs list iff free_mask != 0. Fields other than owner change only
 * by the owner or under the instance lock while abandoned.
 */
struct shard_segment {
	uintptr_t owner;                 /* owning thread's encoding; SEG_ABANDONED */
	struct shard_heap *heap;         /* owning heap, NULL while abandoned */
	uint8_t kind;                    /* SEG_SMALL or SEG_LARGE */
	uint8_t page_shift;              /* log2 of a page: small pages, or the segment */
	uint16_t nr_pages;               /* page slots */
	uint32_t open_end;               /* bytes from its start open to access; 0: all (page sources with protect) */
	uint64_t free_mask;              /* bit i: page slot i unused */
	struct shard_segment *next;      /* heap's small_segs, or the abandoned list */
	struct shard_segment *prev;
	struct shard_segment *all_next;  /* every segment of the instance (lock) */
	struct shard_segment *all_prev;
	uint64_t purge_new;              /* free slots still holding memory, released since the last scan (purge_lock) */
	uint64_t purge_old;              /* the same, pending a whole scan period: purged at the next scan */
	hk_lock_t purge_lock;            /* guards purge_new/old and the madvise of their slots */
	uint32_t pad2;
	uint64_t cached_at;              /* while in the instance's cache: when it went there (ms) */
	uintptr_t stamp;                 /* shard_seg_stamp(seg) while live (region instances judge by it) */
	uint64_t pad3[3];
	struct shard_page pages[];       /* nr_pages page headers */
};
_Static_assert(sizeof(struct shard_segment) == 128, "page headers stay cache aligned");

/* --- Heaps and thread records ---------------------------------------------- */

/* A doubly linked queue of pages. */
struct shard_pq {
	struct shard_page *first;
	struct shard_page *last;
	struct shard_page *room_last;   /* last page with room, before the full ones (page.c); NULL: none */
};

/*
 * One thread's heap in one instance. Only its thread touches it, except
 * the instance's lists (inst_next) under the instance lock and the
 * read-only counters stats reads. direct[g] is the first page of the bin of
 * size g * 8 (or the empty page); bins[b] holds the pages of bin b: those
 * with room (perhaps) first, then the nr_full[b] found without a free block.
 */
struct shard_heap {
	struct shard *inst;                       /* the instance; NULL in the empty heap */
	uint64_t nr_allocs;                       /* blocks handed out from pages */
	size_t peak_bytes;                        /* highest bytes of the blocks on its pages (used x size) */
	intptr_t peak_slack;                      /* peak_bytes less those bytes now (shard_heap_live) */
	struct shard_page *direct[SHARD_DIRECT_SLOTS]; /* fast path: (size + 7) / 8 -> page */
	struct shard_thread *thread;              /* owning thread record */
	uintptr_t owner;                          /* that record's encoding, stamped on segments */
	struct shard_heap *thread_next;           /* the thread's other heaps (record lock) */
	struct shard_heap *inst_next;             /* the instance's heaps (instance lock) */
	struct shard_segment *small_segs;         /* owned small segments with a free slot */
	struct shard_pq bins[SHARD_NR_BINS];      /* pages by size class */
	uint32_t nr_full[SHARD_NR_BINS];          /* full pages at the back of each queue */
	uint32_t fresh[SHARD_NR_BINS];            /* pages made since the bin's full ones were rescanned */
	uint8_t rescan_wait[SHARD_NR_BINS];       /* log2 of the fresh pages before the next rescan (page.c) */
	uint64_t xthread_collected;               /* blocks other threads freed, as it collected them */
};

/*
 * The bytes of the blocks on h's pages, and its peak: adopting a segment's
 * blocks may leave the slack below 0 until the next malloc raises the peak.
 */
hk_inline size_t shard_heap_live(const struct shard_heap *h) { return h->peak_bytes - (size_t)h->peak_slack; }
hk_inline size_t shard_heap_peak(const struct shard_heap *h)
{
	return h->peak_slack < 0 ? shard_heap_live(h) : h->peak_bytes;
}

/*
 * A thread's record: lives outside every instance (a process-wide pool) so
 * a destroyed instance leaves no dangling pointer in any thread. heap is
 * read by the fast path (relaxed) and reset by hk_destroy; heaps is the
 * chain through heap->thread_next, guarded by lock.
 */
struct shard_thread {
	struct shard_heap *heap;                  /* heap of the last instance used; never NULL */
	struct shard_heap *heaps;                 /* all this thread's heaps */
	hk_lock_t lock;                           /* guards heaps, against hk_destroy */
	uint32_t armed;                           /* exit notification armed */
	uintptr_t slot;                           /* what the thread's slot holds (0: not set) */
	struct shard_thread *pool_next;           /* free records */
};

extern const struct shard_thread _hk_shard_empty_thread;
extern const struct shard_heap _hk_shard_empty_heap;     /* its thread: the empty record */
extern const struct shard_page _hk_shard_empty_page;

/*
 * What the thread slot holds: the offset of the thread's record from the
 * empty record, so NULL means the empty record. In a single-instance build
 * (HK_SHARD_SINGLE: the drop-in, where only the OS instance exists) it is
 * the address of the thread's one heap instead, saving the fast path a load
 * and the instance test: there a new thread's slot starts at the empty heap
 * (the slot's initial value, defined in shard.c) and SHARD_SLOT_EMPTY is
 * what a thread that gave its heap up goes back to. Segments are stamped
 * with the owner's slot value, so free tests ownership against the slot
 * directly.
 */
hk_inline uintptr_t shard_thread_self(void) { return (uintptr_t)_hk_thread_slot_get(); }

#if defined(HK_SHARD_SINGLE) && HK_SHARD_SINGLE
hk_inline struct shard_heap *shard_heap_current(void) { return (struct shard_heap *)shard_thread_self(); }
hk_inline struct shard_thread *shard_thread_current(void) { return shard_heap_current()->thread; }
hk_inline uintptr_t shard_slot_value(struct shard_thread *t, struct shard_heap *h)
{
	(void)t;
	return (uintptr_t)h;
}
#define SHARD_SLOT_EMPTY ((void *)&_hk_shard_empty_heap)
#define SHARD_HEAP_MATCHES(h, sh) ((void)(sh), 1)
#else
hk_inline struct shard_thread *shard_thread_current(void)
{
	return (struct shard_thread *)((uintptr_t)&_hk_shard_empty_thread + shard_thread_self());
}
hk_inline struct shard_heap *shard_heap_current(void)
{
	return __atomic_load_n(&shard_thread_current()->heap, __ATOMIC_RELAXED);
}
hk_inline uintptr_t shard_slot_value(struct shard_thread *t, struct shard_heap *h)
{
	(void)h;
	return (uintptr_t)t - (uintptr_t)&_hk_shard_empty_thread;
}
#define SHARD_SLOT_EMPTY NULL
#define SHARD_HEAP_MATCHES(h, sh) ((h)->inst == (sh))
#endif

/* --- The instance ---------------------------------------------------------- */

/*
 * Geometry is fixed at create: seg_shift, page_shift and the class limits.
 * Everything from lock down is guarded by it; the rest never changes.
 */
struct shard {
	struct hk_alloc base;                /* must be first */
	uintptr_t seg_mask;                  /* ~(seg_size - 1) */
	size_t seg_size;                     /* 2^seg_shift */
	size_t seg_header;                   /* bytes of page 0 the header takes */
	size_t small_max;                    /* largest class in one-slot pages */
	size_t medium_max;                   /* largest class in multi-slot pages */
	size_t large_max;                    /* largest class in large segments */
	unsigned seg_shift;                  /* log2 seg_size */
	unsigned page_shift;                 /* log2 of a small page */
	unsigned nr_pages;                   /* small pages per segment */
	unsigned large_bin;                  /* bin of large_max: last bin used */
	struct hk_page_source *src;          /* where segments and huge blocks come from */
	struct hk_page_source region_src;    /* the buddy as a page source (fixed region) */
	hk_alloc_t *buddy;                   /* fixed region: the buddy instance; NULL: OS */
	size_t cache_max;                    /* empty segments kept for reuse (for cache_delay) */
	size_t cache_reserved;               /* and kept for good (HEAPKIT_RESERVE) */
	/*
	 * Purge policy (the OS instance, once the drop-in gives it a clock): a
	 * page slot released while its segment lives is marked in purge_new;
	 * each scan (at most every purge_delay ms, by whichever thread's slow
	 * path sees the deadline pass, or the drop-in's purge thread) gives back
	 * the slots still marked since the scan before (purge_old) and unmaps
	 * cached segments older than cache_delay. clock_ms NULL: no scans.
	 */
	uint64_t (*clock_ms)(void);          /* monotonic milliseconds */
	void (*purge_wake)(void);            /* called when purge work appears and purge_armed was 0 */
	uint32_t purge_delay_ms;
	uint32_t purge_never;                /* keep free pages' memory (HEAPKIT_PURGE_DELAY=-1) */
	uint32_t cache_delay_ms;
	uint32_t purge_armed;                /* work may be pending (atomic) */
	uint32_t purge_kick;                 /* purge_wake is due at the next safe point (atomic) */
	uint64_t purge_next;                 /* earliest time of the next scan (atomic) */
	struct shard_counters {
		uint64_t seg_maps, seg_unmaps, cache_hits;   /* segments from/to the page source, from the cache */
		uint64_t purge_scans, purge_calls, purged_bytes;
		uint64_t huge_maps, huge_cache_hits;
		uint64_t abandons, reclaims;                  /* segments left by exiting threads, taken over */
	} ctr;                               /* statistics (relaxed atomics) */
	hk_lock_t lock;
	struct shard_segment *segments;      /* every segment (all_next) */
	struct shard_segment *abandoned;     /* segments of exited threads (next) */
	struct shard_segment *cache;         /* empty segments kept (next) */
	size_t nr_cached;
	struct shard_heap *heaps;            /* live heaps (inst_next) */
	struct shard_heap *heap_pool;        /* free heap structs (inst_next) */
	struct shard_heap *first_heap;       /* the heap carved with the instance */
	uint64_t gone_allocs;                /* nr_allocs of heaps that are gone */
	size_t bytes_managed;                /* create + addmem */
	size_t peak_bytes;                   /* highest of gone heaps' peaks, huge allocations, stats (lock) */
	size_t huge_live, huge_bytes;        /* live huge blocks and their bytes (atomic) */
	uint64_t huge_allocs;                /* huge blocks ever handed out (atomic) */
	bool os_zero;                        /* fresh page-source memory is zero */
	bool zero_trap;                      /* malloc(0) hands out addresses nothing may touch (the drop-in) */
	/*
	 * Statistics wanted from an instance whose fast paths do not count (the
	 * drop-in's, HEAPKIT_SHOW_STATS): no direct slot points at a page, so
	 * every malloc takes the slow path, and every page says PAGE_COUNTED, so
	 * every free does; the slow paths count (_hk_shard_count_all).
	 */
	bool count_slow;
	unsigned nr_huge_cached;             /* entries in huge_cache (lock) */
	size_t huge_cached_bytes;            /* their bytes (lock) */
	struct shard_huge_span {
		void *base;                  /* what map returned */
		size_t map_len;              /* its length */
		size_t align;                /* its alignment */
		uint64_t cached_at;          /* when it was freed (ms) */
	} huge_cache[SHARD_HUGE_CACHE];      /* freed OS huge mappings (lock) */
	size_t huge_cache_max;               /* bytes huge_cache may hold */
	/*
	 * Judging a pointer before reading through it (HK_HARDEN >= 1): the
	 * OS instance asks the segment map; a region instance checks that the
	 * segment base lies in one of its regions and carries its stamp.
	 */
	unsigned judge;                      /* SHARD_JUDGE_* */
	uintptr_t region_lo;                 /* the region given at create .. */
	uintptr_t region_span;               /* .. where a segment may start: [lo, lo + span] */
	unsigned nr_ranges;                  /* regions given by addmem (lock to write) */
	struct shard_range {
		uintptr_t lo, hi;
	} ranges[SHARD_RANGES];
};
#define SHARD_JUDGE_TRUST 0     /* segments from the OS at a size the map does not cover: not judged */
#define SHARD_JUDGE_MAP 1       /* the OS instance: the segment map */
#define SHARD_JUDGE_REGION 2    /* over a region: ranges and segment stamps */

/* Where page slot i of seg starts holding blocks: the slot itself, past the segment header for slot 0. */
hk_inline uintptr_t shard_slot_area(const struct shard *sh, const struct shard_segment *seg, unsigned i)
{
	return (uintptr_t)seg + ((uintptr_t)i << seg->page_shift) + (i ? 0 : sh->seg_header);
}

/* Where page pg's blocks start (a page in use: a head, bin != 0); page_init sets area_at from shard_slot_area. */
hk_inline uintptr_t shard_page_area(const struct shard_segment *seg, const struct shard_page *pg)
{
	return (uintptr_t)seg + ((uintptr_t)pg->area_at << SHARD_AREA_SHIFT);
}

/* The segment whose header holds page header pg. */
hk_inline struct shard_segment *shard_page_segment(struct shard_page *pg)
{
	return hk_container_of(pg - pg->index, struct shard_segment, pages);
}

/*
 * A page's xthread_free word: how many blocks the stack holds (the low
 * SHARD_XT_COUNT_BITS) and, above them, the newest block's offset from its
 * segment (a block is never at offset 0). The owner takes a stack and knows
 * its length without walking it: each block's line is still in the freeing
 * core's cache, and a walk would fetch every one of them before malloc does.
 */
#define SHARD_XT_COUNT_BITS 16
_Static_assert(((1u << SHARD_PAGE_SHIFT_MAX) >> 3) < (1u << SHARD_XT_COUNT_BITS), "a page's blocks fit the stack's count");
hk_inline struct shard_block *shard_xt_head(const struct shard_segment *seg, uintptr_t w)
{
	uintptr_t off = w >> SHARD_XT_COUNT_BITS;
	return off ? (struct shard_block *)((uintptr_t)seg + off) : NULL;
}
hk_inline uint32_t shard_xt_count(uintptr_t w) { return (uint32_t)(w & ((1u << SHARD_XT_COUNT_BITS) - 1)); }
/* The offset part of a word for a block at off from its segment. */
hk_inline uintptr_t shard_xt_top(uintptr_t off) { return off << SHARD_XT_COUNT_BITS; }
/* The word after pushing the block whose shard_xt_top is top on the stack w. */
hk_inline uintptr_t shard_xt_push(uintptr_t w, uintptr_t top) { return top | (shard_xt_count(w) + 1u); }

/*
 * Where a lies among pg's first carved blocks: false outside them; else
 * *off is its offset into its block (0: a block's start). Offsets in a
 * segment and block sizes fit 32 bits: the cheaper division.
 */
hk_inline bool shard_block_offset(const struct shard_segment *seg, const struct shard_page *pg, uintptr_t a,
				  uint32_t carved, uint32_t *off)
{
	_Static_assert(SHARD_SEG_SHIFT_MAX < 32, "offsets in a segment fit 32 bits");
	uintptr_t area = shard_page_area(seg, pg);
	if (a < area || a - area >= (uintptr_t)carved * pg->block_size)
		return false;
	uint32_t x = (uint32_t)(a - area);
	*off = x - (uint32_t)(((unsigned __int128)pg->block_magic * x) >> 64) * pg->block_size;
	return true;
}

hk_inline uintptr_t shard_seg_stamp(const struct shard_segment *seg)
{
	return (uintptr_t)seg ^ _hk_shard_keys.stamp_key;
}

/*
 * Whether base (p's segment base, p != base) is a segment of sh that may be
 * read: the fast paths' test, before anything is read through p.
 */
hk_inline bool shard_seg_known(struct shard *sh, const void *p, uintptr_t base)
{
#if HK_HARDEN == 0
	(void)sh, (void)p, (void)base;
	return true;
#elif defined(HK_SHARD_SINGLE) && HK_SHARD_SINGLE
	(void)sh, (void)base;
	return shard_map_get(p) == SHARD_MAP_SEG;
#else
	unsigned judge = __atomic_load_n(&sh->judge, __ATOMIC_RELAXED);   /* addmem may turn it to TRUST */
	if (judge == SHARD_JUDGE_MAP)
		return shard_map_get(p) == SHARD_MAP_SEG;
	if (judge == SHARD_JUDGE_REGION)
		return base - sh->region_lo <= sh->region_span &&
		       ((const struct shard_segment *)base)->stamp == shard_seg_stamp((const struct shard_segment *)base);
	return true;
#endif
}

/* --- Shared inside shard ------------------------------------------------------ */

/* What bin b's direct slots point at: its first page, or the empty page (none yet, or count_slow). */
hk_inline struct shard_page *shard_direct_page(const struct shard_heap *h, unsigned b)
{
	if (h->bins[b].first && !__atomic_load_n(&h->inst->count_slow, __ATOMIC_RELAXED))
		return h->bins[b].first;
	return (struct shard_page *)&_hk_shard_empty_page;
}

/* page.c */
/* Blocks freed by other threads, as their owners collected them: live heaps' counts and the rest (atomic). */
extern uint64_t _hk_shard_xthread_collected;
uint64_t _hk_shard_xthread_count(struct shard *sh);
hk_noinline void *_hk_shard_malloc_slow(struct shard *sh, size_t size);
hk_noinline void _hk_shard_free_slow(void *p, struct shard *sh);
hk_noinline void _hk_shard_free_other(struct shard *sh, struct shard_segment *seg, void *p);
hk_noinline void _hk_shard_page_emptied(struct shard_page *pg);
__attribute__((noreturn, cold)) void _hk_shard_list_corrupt(const struct shard_page *pg, const void *block);
void *_hk_shard_memalign(struct shard *sh, size_t align, size_t size);
size_t _hk_shard_usable(struct shard *sh, void *p);
size_t _hk_shard_usable_op(struct shard *sh, void *p, const char *op);
void *_hk_shard_realloc(struct shard *sh, void *p, size_t size);
void *_hk_shard_calloc(struct shard *sh, size_t size);
struct shard_segment *_hk_shard_segment_of(struct shard *sh, const void *p);
struct shard_page *_hk_shard_page_of(struct shard_segment *seg, const void *p);
void _hk_shard_segment_page_release(struct shard *sh, struct shard_heap *h, struct shard_segment *seg,
				    struct shard_page *pg);
void _hk_shard_page_collect(struct shard_page *pg);
void _hk_shard_heap_collect(struct shard_heap *h, bool all);
void _hk_shard_segment_release(struct shard *sh, struct shard_segment *seg);
/* purge.c */
bool _hk_shard_purge(struct shard *sh, bool force);
void _hk_shard_purge_tick(struct shard *sh);
bool _hk_shard_purge_due(struct shard *sh);
void _hk_shard_purge_arm(struct shard *sh);
/* Slots in bits of seg were released holding memory: mark them for a later scan. */
void _hk_shard_purge_mark(struct shard *sh, struct shard_segment *seg, uint64_t bits);
/* Slots idx..idx+span of seg are being taken: no scan may purge them any more. */
void _hk_shard_purge_unmark(struct shard_segment *seg, unsigned idx, unsigned span);

/* The bits of page slots idx..idx+span in a segment's 64-slot masks. */
hk_inline uint64_t shard_slot_bits(unsigned idx, unsigned span)
{
	return ((span < 64 ? (uint64_t)1 << span : 0) - 1) << idx;
}

/*
 * The end of a malloc or free slow path, where waking the drop-in's purge
 * thread may allocate: wake it if purge work appeared (_hk_shard_purge_arm).
 */
hk_inline void _hk_shard_purge_safe_point(struct shard *sh)
{
	if (hk_unlikely(__atomic_load_n(&sh->purge_kick, __ATOMIC_RELAXED))) {
		__atomic_store_n(&sh->purge_kick, 0, __ATOMIC_RELAXED);
		if (sh->purge_wake)
			sh->purge_wake();
	}
}
size_t _hk_shard_reserve(struct shard *sh, size_t n);
void _hk_shard_page_free(struct shard_heap *h, struct shard_page *pg);
void _hk_shard_pq_remove(struct shard_pq *q, struct shard_page *pg);
void _hk_shard_pq_push(struct shard_pq *q, struct shard_page *pg);

/* harden.c */
struct shard_found {
	struct shard_segment *seg;
	struct shard_page *pg;           /* the page's head */
	struct shard_block *block;       /* the block's start */
};
enum shard_judged {
	JUDGED_HUGE,                     /* a huge block: its header judges it */
	JUDGED_BLOCK,                    /* a block of a segment: *f says where */
	JUDGED_ZERO,                     /* a live malloc(0) address (zero_trap) */
};
enum shard_judged _hk_shard_judge(struct shard *sh, void *p, const char *op, struct shard_found *f);
/* free of a live malloc(0) address (JUDGED_ZERO): a second free that raced the first aborts. */
void _hk_shard_zero_free(void *p);
/* The drop-in's fault namer (hosted): a fault at a heapkit address is named and aborts. */
void _hk_shard_fault_name(uintptr_t a, unsigned access);
bool _hk_shard_block_is_free(struct shard *sh, const struct shard_found *f);
void _hk_shard_check_not_free(struct shard *sh, const struct shard_found *f, const char *op, const void *p);

/* huge.c */
void *_hk_shard_huge_alloc(struct shard *sh, size_t align, size_t size, bool *fresh);
size_t _hk_shard_huge_usable(struct shard *sh, void *p);
void *_hk_shard_huge_resize(struct shard *sh, void *p, size_t size);
void _hk_shard_huge_free(struct shard *sh, void *p);

/* heap.c */
hk_noinline struct shard_heap *_hk_shard_heap_get(struct shard *sh);
void _hk_shard_heap_abandon(struct shard_heap *h);
bool _hk_shard_reclaim_one(struct shard_heap *h);
/* Point every direct slot of h at shard_direct_page (after pages changed behind its back, or count_slow). */
void _hk_shard_direct_refresh(struct shard_heap *h);
void _hk_shard_abandoned_collect(struct shard *sh);
void _hk_shard_reclaim_all(struct shard *sh);
struct shard_heap *_hk_shard_heap_find(struct shard *sh);
void _hk_shard_heaps_detach(struct shard *sh);
void _hk_shard_records_lock(bool take);
struct shard_heap *_hk_shard_heap_alloc(struct shard *sh);
void _hk_shard_heap_init(struct shard_heap *h, struct shard *sh);

/* shard.c */
/* From now on every malloc of sh counts (count_slow); the heaps' counts restart from their live blocks. */
void _hk_shard_count_all(struct shard *sh);
void *_hk_shard_meta_alloc(struct shard *sh, size_t size);
void _hk_shard_meta_free(struct shard *sh, void *p, size_t size);
extern struct shard _hk_shard_os;          /* the instance over OS pages (drop-in) */
hk_noinline bool _hk_shard_os_ensure(void);
hk_alloc_t *_hk_shard_os_instance(void);
void _hk_shard_fork_prepare(void);
void _hk_shard_fork_parent(void);
void _hk_shard_fork_child(void);

/* --- Fast paths ------------------------------------------------------------------ */


/*
 * malloc's last step, fast or slow: b, popped off pg's free list (next is
 * what follows it), is in use. count: the heap's statistics follow (a
 * constant; the drop-in's fast path passes false, see shard.count_slow).
 */
hk_inline void *shard_block_take(struct shard_heap *h, struct shard_page *pg, struct shard_block *b,
				 struct shard_block *next, bool count)
{
#if HK_HARDEN >= 1
	b->next = NULL;   /* no longer looks free */
#endif
	pg->free = next;
	pg->used++;
	if (count) {
		h->nr_allocs++;
		/* one subtraction and its sign: the live bytes pass the peak when the slack goes below 0 */
		h->peak_slack -= (intptr_t)pg->block_size;
		if (hk_unlikely(h->peak_slack < 0)) {
			h->peak_bytes -= (size_t)h->peak_slack;
			h->peak_slack = 0;
		}
	}
	return b;
}

/*
 * malloc: pop the free list of the page for this size class (NULL from
 * _hk_shard_malloc_fast: the slow path is needed). seg_mask is
 * sh->seg_mask (a constant in the drop-in); count as in shard_block_take.
 * HK_HARDEN >= 1: a link that leaves its block's segment (a write after
 * free) goes to the slow path, whose stricter check names it.
 */
hk_inline void *_hk_shard_malloc_fast(struct shard *sh, size_t size, uintptr_t seg_mask, bool count)
{
	(void)seg_mask;
	struct shard_heap *h = shard_heap_current();
	if (hk_likely(size <= SHARD_DIRECT_MAX && SHARD_HEAP_MATCHES(h, sh))) {
		struct shard_page *pg = h->direct[(size + SHARD_TINY - 1) >> SHARD_DIRECT_STEP_SHIFT];
		struct shard_block *b = pg->free;
		if (hk_likely(b != NULL)) {
			struct shard_block *next = shard_link_get(b);
#if HK_HARDEN >= 1
			if (hk_likely(!shard_link_strays(b, next, seg_mask)))
#endif
				return shard_block_take(h, pg, b, next, count);
		}
	}
	return NULL;   /* the slow path's */
}

hk_inline void *_hk_shard_malloc(struct shard *sh, size_t size)
{
	void *p = _hk_shard_malloc_fast(sh, size, sh->seg_mask, true);
	return hk_likely(p != NULL) ? p : _hk_shard_malloc_slow(sh, size);
}

/*
 * free: the owner pushes on the page's local list; another thread's block
 * on a known segment goes to _hk_shard_free_other (page.c); everything
 * else (a huge block, NULL, a pointer heapkit does not know and, with
 * HK_HARDEN >= 1, a pointer that is not the start of a carved block or a
 * block that looks free) is slow. The segment is judged known before its
 * header is read. count as in shard_block_take.
 */
hk_inline void _hk_shard_free_masked(struct shard *sh, void *p, uintptr_t seg_mask, bool count)
{
	uintptr_t base = (uintptr_t)p & seg_mask;
	if (hk_likely(base != (uintptr_t)p && shard_seg_known(sh, p, base))) {
		struct shard_segment *seg = (struct shard_segment *)base;
		uintptr_t off = (uintptr_t)p - base;
		struct shard_page *pg = &seg->pages[off >> seg->page_shift];
		if (hk_likely(__atomic_load_n(&seg->owner, __ATOMIC_RELAXED) == shard_thread_self() &&
			      page_flags(pg) == 0)) {
			struct shard_block *b = p;
#if HK_HARDEN >= 1
			/* the start of a carved block (an unused slot has none: the slow path refuses it) */
			/* (p - shard_page_area(seg, pg), from the offset in hand: two instructions fewer) */
			if (hk_unlikely(!shard_block_starts(pg, (uint32_t)off - ((uint32_t)pg->area_at << SHARD_AREA_SHIFT),
							    pg->capacity)))
				goto slow;
			/* looks free already: the slow path confirms on the page's lists */
			if (hk_unlikely(shard_word_looks_free((uintptr_t)b->next, b)))
				goto slow;
#endif
			shard_link_set(b, pg->local_free);
			pg->local_free = b;
			if (count)
				seg->heap->peak_slack += (intptr_t)pg->block_size;
			if (hk_unlikely(--pg->used == 0))
				_hk_shard_page_emptied(pg);
			return;
		}
		/* another thread's block (or a full or aligned page): the segment is known, pass it on */
		_hk_shard_free_other(sh, seg, p);
		return;
	}
#if HK_HARDEN >= 1
slow:
#endif
	_hk_shard_free_slow(p, sh);
}

hk_inline void _hk_shard_free(struct shard *sh, void *p) { _hk_shard_free_masked(sh, p, sh->seg_mask, true); }

#endif /* HK_SHARD_H */
