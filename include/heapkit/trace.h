// SPDX-License-Identifier: MIT
/*
 * The heapkit trace format (version 1): what libheapkit-trace.so records of
 * a program's malloc-family calls, and what `hkbench` reads to look at and
 * replay it. Little-endian, as written by x86-64 and arm64.
 *
 *   file    := header chunk*
 *   header  := magic "HKTRACE\0" (8) | u32 version | u32 header_bytes (40)
 *              | u64 start_ns | u64 start_ticks | u32 pid | u32 flags
 *   chunk   := u32 magic HK_TRACE_CHUNK_MAGIC | u32 thread | u32 payload_bytes
 *              | u32 nr_events | u64 base_ticks | u64 base_ns | u32 checksum
 *              | u32 reserved | payload (payload_bytes)
 *   payload := event*
 *   event   := u8 op | varint dt | operands (by op, below)
 *
 * One chunk holds events of one thread in call order; a thread's chunks
 * appear in order in the file. Times are in ticks of one clock for the whole
 * process: the CPU's invariant time-stamp counter where there is one (flag
 * HK_TRACE_TICKS_TSC), else CLOCK_MONOTONIC nanoseconds. dt is the ticks
 * since the previous event of the chunk (the first: since base_ticks). The
 * (ticks, ns) pairs of the header and of every chunk let a reader turn ticks
 * into nanoseconds. An allocation is stamped after the underlying call
 * returned and a free before it is made, so ordering all events by time puts
 * each free after the allocation it frees, across threads. Addresses are the
 * real ones; a reader turns them into stable object ids by that ordering.
 * checksum is FNV-1a (32 bit) over the payload: a truncated or corrupt
 * chunk is refused.
 *
 *   op        operands
 *   MALLOC    varint size, varint result
 *   CALLOC    varint bytes (n * size), varint result
 *   REALLOC   varint old, varint size, varint result, varint call_ns
 *   MEMALIGN  varint align, varint size, varint result
 *   FREE      varint address
 *   (result 0 means the call failed; old 0 is realloc(NULL, n); a realloc
 *   of size 0 that returns 0 frees old. A realloc's old block counts as
 *   freed call_ns before the event's time, when the call began, and its
 *   result as allocated at the event's time, when the call returned.)
 *
 * A varint is 7 bits a byte, low first, high bit set on all but the last.
 * Operands that are addresses (hk_trace_addr_mask) are written as the
 * zigzag-encoded difference from the chunk's previous address operand (0 at
 * the chunk's start): a thread's blocks lie close together, so most take 2
 * or 3 bytes instead of 6.
 */
#ifndef HEAPKIT_TRACE_H
#define HEAPKIT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define HK_TRACE_MAGIC "HKTRACE"          /* 8 bytes with its NUL */
#define HK_TRACE_VERSION 1u
#define HK_TRACE_CHUNK_MAGIC 0x4843484bu  /* "KHCH" read as bytes */
#define HK_TRACE_TICKS_TSC 1u             /* header flag: times are TSC ticks, not ns */

enum hk_trace_op {
	HK_TRACE_MALLOC = 1,
	HK_TRACE_CALLOC = 2,
	HK_TRACE_REALLOC = 3,
	HK_TRACE_MEMALIGN = 4,
	HK_TRACE_FREE = 5,
};

struct hk_trace_header {
	char magic[8];
	uint32_t version;
	uint32_t header_bytes;
	uint64_t start_ns;      /* CLOCK_MONOTONIC when recording began */
	uint64_t start_ticks;   /* the event clock then */
	uint32_t pid;
	uint32_t flags;         /* HK_TRACE_TICKS_TSC */
};

struct hk_trace_chunk {
	uint32_t magic;
	uint32_t thread;        /* 0 for the first thread that called, then 1, 2, ... */
	uint32_t payload_bytes;
	uint32_t nr_events;
	uint64_t base_ticks;    /* the event clock at the chunk's start */
	uint64_t base_ns;       /* CLOCK_MONOTONIC then */
	uint32_t checksum;      /* FNV-1a over the payload */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hk_trace_header) == 40, "header is 40 bytes");
_Static_assert(sizeof(struct hk_trace_chunk) == 40, "chunk header is 40 bytes");

/* Bit i set: operand i of op is an address. */
static inline unsigned hk_trace_addr_mask(unsigned op)
{
	switch (op) {
	case HK_TRACE_MALLOC:
	case HK_TRACE_CALLOC: return 2u;
	case HK_TRACE_REALLOC: return 5u;
	case HK_TRACE_MEMALIGN: return 4u;
	case HK_TRACE_FREE: return 1u;
	default: return 0;
	}
}

static inline uint64_t hk_trace_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t hk_trace_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* The longest event: op, then dt and four operands, 64-bit varints of up to 10 bytes. */
#define HK_TRACE_EVENT_MAX (1 + 5 * 10)

static inline uint8_t *hk_trace_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Reads a varint from [*p, end); 0 and *p unchanged past the end or too long. */
static inline int hk_trace_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	const uint8_t *q = *p;
	for (unsigned shift = 0; q < end && shift < 64; shift += 7) {
		uint8_t b = *q++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*out = v;
			return 1;
		}
	}
	return 0;
}

static inline uint32_t hk_trace_checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#endif /* HEAPKIT_TRACE_H */

/* --- Reading a trace ----------------------------------------------------------
 * hk_trace_load turns a whole trace file in memory into per-thread event
 * sequences with stable object ids: each allocation gets the next id, and a
 * free or realloc names the id of the block it gives back. It needs no OS:
 * memory comes from the callbacks, so it runs inside a unikernel too. */

#ifndef HEAPKIT_TRACE_READER
#define HEAPKIT_TRACE_READER

/* One call as replayed. */
struct hk_trace_event {
	uint8_t op;            /* enum hk_trace_op */
	uint32_t align;        /* MEMALIGN: the alignment */
	uint64_t size;         /* bytes asked for (MALLOC, CALLOC, REALLOC, MEMALIGN) */
	uint64_t time_ns;      /* since the trace's first event */
	uint32_t id;           /* the block made (allocations, REALLOC), or UINT32_MAX if the call failed */
	uint32_t old_id;       /* the block given back (FREE, REALLOC), or UINT32_MAX for none */
};

struct hk_trace_thread {
	uint32_t nr_events;
	struct hk_trace_event *events;  /* in call order */
};

struct hk_trace {
	uint32_t nr_threads;
	struct hk_trace_thread *threads;
	uint32_t nr_objects;           /* ids are 0 .. nr_objects-1 */
	uint32_t *object_thread;       /* the thread that allocated each object */
	uint64_t *object_size;         /* the bytes asked for each object */
	uint64_t peak_live_bytes;      /* most bytes asked for and not yet freed, over time */
	uint64_t nr_events;
	uint64_t nr_untracked_frees;   /* frees of blocks allocated before recording began (dropped) */
	uint64_t duration_ns;
	uint32_t pid;
};

struct hk_trace_mem {
	void *(*alloc)(void *ctx, size_t n);   /* NULL when out of memory */
	void (*free)(void *ctx, void *p);
	void *ctx;
};

/* 0, or -1 with a sentence in *err: not a trace, a newer version, truncated, corrupt. */
int hk_trace_load(const uint8_t *data, size_t len, const struct hk_trace_mem *mem, struct hk_trace *out,
		  const char **err);
void hk_trace_release(struct hk_trace *t, const struct hk_trace_mem *mem);

#endif /* HEAPKIT_TRACE_READER */
