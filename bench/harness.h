// SPDX-License-Identifier: MIT
/*
 * heapkit's benchmarks as a library: the contract between a workload, the
 * allocator it exercises and the host that runs it.
 *
 * A workload is a module (bench/wl_*.c) with a name, a one-line summary, its
 * typed parameters declared as data, and a run function. It receives:
 *   - the allocator to use (struct hkb_alloc: malloc/free/realloc/memalign/
 *     usable_size as function pointers over an opaque context), and
 *   - the host (struct hkb_env: a clock, threads, yield, memory held).
 * It includes nothing from the operating system, so the same objects link
 * into hkbench on Linux and into a Unikraft image.
 *
 * Every workload stamps the blocks it touches and checks the stamps before it
 * frees them (hkb_stamp/hkb_verify): a broken allocator fails the run with a
 * message instead of producing a fast number.
 */
#ifndef HK_BENCH_HARNESS_H
#define HK_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <heapkit.h>
#include <heapkit/trace.h>

/* --- The allocator under test -------------------------------------------- */

enum hkb_alloc_caps {
	HKB_CAN_FREE = 1u << 0,     /* free() gives memory back for reuse */
	HKB_THREAD_SAFE = 1u << 1,  /* callable from several threads at once */
};

/*
 * An allocator as a table of calls over ctx. All five calls are always set.
 * held_kb, if set, says how much memory the allocator holds now (for an
 * instance over a region: managed minus available); otherwise the host's
 * mem_held_kb (resident set) stands in.
 */
struct hkb_alloc {
	const char *name;                                  /* label in results */
	void *ctx;                                         /* passed to every call */
	unsigned caps;                                     /* enum hkb_alloc_caps */
	void *(*malloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void *(*realloc)(void *ctx, void *p, size_t size);
	void *(*memalign)(void *ctx, size_t align, size_t size);
	size_t (*usable_size)(void *ctx, void *p);
	long (*held_kb)(void *ctx);                        /* NULL: use the host's */
};

/* Wrap a heapkit instance (portable: uses only <heapkit.h>). */
void hkb_alloc_from_hk(struct hkb_alloc *out, hk_alloc_t *a);

/* --- The host ------------------------------------------------------------ */

typedef uintptr_t hkb_thread_t;

/* A recorded trace the host has loaded (see include/heapkit/trace.h). */
struct hkb_trace {
	const char *name;             /* as given: a file, or a built-in trace's name */
	struct hk_trace t;
};

/*
 * What the host provides. spawn starts fn(arg) on a new thread and returns 0
 * (or -1 when no thread could be made); join waits for it; sleep_ms blocks
 * the caller without spinning. mem_held_kb is the
 * memory the process holds now (resident set on Linux), or -1 if unknown.
 */
struct hkb_env {
	uint64_t (*now_ns)(void);
	int (*spawn)(hkb_thread_t *t, void (*fn)(void *arg), void *arg);
	void (*join)(hkb_thread_t t);
	void (*yield)(void);
	void (*sleep_ms)(unsigned ms);
	long (*mem_held_kb)(void);
	/*
	 * Traces, for the replay workload; both NULL on a host without any.
	 * trace_open loads (once) the trace called name and returns its index,
	 * or -1 with a sentence in *err; trace_get returns a loaded one.
	 */
	int (*trace_open)(const char *name, const char **err);
	const struct hkb_trace *(*trace_get)(int index);
};

/* --- Parameters ----------------------------------------------------------- */

enum hkb_ptype {
	HKB_INT,      /* a count; decimal */
	HKB_SIZE,     /* bytes; accepts k, m, g suffixes (powers of 1024) */
	HKB_MILLIS,   /* a duration given in seconds ("0.5"), kept in ms */
	HKB_TRACE,    /* a trace's name (a file on Linux), kept as the host's index for it */
};

/* One parameter: its name, type, default and accepted range (inclusive). */
struct hkb_param {
	const char *name;
	enum hkb_ptype type;
	long long def, min, max;
	const char *help;             /* one line */
};

#define HKB_MAX_PARAMS 10

/* --- Workloads ------------------------------------------------------------- */

enum hkb_needs {
	HKB_NEEDS_FREE = 1u << 0,     /* pointless on an allocator that cannot free */
	HKB_NEEDS_THREADS = 1u << 1,  /* uses two threads or more whatever its parameters */
};


struct hkb_run;

struct hkb_workload {
	const char *name;             /* "larson" */
	const char *summary;          /* one line */
	const struct hkb_param *params;
	unsigned nparams;
	unsigned needs;               /* enum hkb_needs */
	const char *unit;             /* unit of the throughput figure */
	bool lower_is_better;         /* the figure is a cost (memory), not a rate */
	const char *tiny;             /* key=value overrides for a sub-second smoke run */
	int (*run)(struct hkb_run *r);/* 0 ok; -1 failed (hkb_fail was called) */
};

/* The workloads compiled in, in listing order. */
size_t hkb_workload_count(void);
const struct hkb_workload *hkb_workload_at(size_t i);
const struct hkb_workload *hkb_workload_find(const char *name);
/* Index of the parameter called name, or -1. */
int hkb_param_index(const struct hkb_workload *w, const char *name);

/* --- One run ---------------------------------------------------------------- */

/*
 * One execution of a workload. The caller fills w, alloc, env and p (see
 * hkb_run_init/hkb_run_set); the workload fills the results.
 */
struct hkb_run {
	const struct hkb_workload *w;
	const struct hkb_alloc *alloc;
	const struct hkb_env *env;
	long long p[HKB_MAX_PARAMS];  /* parameter values, in w->params order */
	/* results */
	double seconds;               /* timed section */
	double throughput;            /* in w->unit */
	long held_kb;                 /* memory held at the end, when measured; else -1 */
	long live_kb;                 /* bytes live then, when the workload says; else -1 */
	/* first failure (set once) */
	int failed;                   /* atomic flag */
	const char *fail_what;        /* static sentence */
	const void *fail_addr;        /* the block concerned, or NULL */
	uint64_t fail_detail;         /* a value that helps (offset, size) */
};

/* Set every parameter to its default and clear the results. */
void hkb_run_init(struct hkb_run *r, const struct hkb_workload *w,
		  const struct hkb_alloc *alloc, const struct hkb_env *env);
/*
 * Set "key=value" (or key and value apart). 0, or -1 with a static message
 * in *err when the key is unknown, the value malformed or out of range.
 */
int hkb_run_set(struct hkb_run *r, const char *key, const char *value, const char **err);
/* Apply "k=v k=v" (space separated); 0 or -1 as hkb_run_set. */
int hkb_run_set_list(struct hkb_run *r, const char *list, const char **err);
/* Threads a run uses at once: its threads parameter, at least 2 if it always needs threads. */
unsigned hkb_run_nthreads(const struct hkb_run *r);
/* Run the workload and return its verdict (0 ok, -1 failed). */
int hkb_run_exec(struct hkb_run *r);
/* Format p as "k=v;k=v" into buf (at most len bytes, NUL-terminated). */
void hkb_run_params_str(const struct hkb_run *r, char *buf, size_t len);
/* The value of a parameter by name (must exist). */
long long hkb_get(const struct hkb_run *r, const char *name);

/* Record the first failure; later ones are dropped. Returns -1. */
int hkb_fail(struct hkb_run *r, const char *what, const void *addr, uint64_t detail);
static inline bool hkb_failed(const struct hkb_run *r)
{
	return __atomic_load_n(&r->failed, __ATOMIC_RELAXED) != 0;
}

/* --- Calls through the allocator ------------------------------------------ */

/* malloc that fails the run on NULL (the workloads size themselves to fit). */
void *hkb_malloc(struct hkb_run *r, size_t size);
static inline void hkb_free(struct hkb_run *r, void *p) { r->alloc->free(r->alloc->ctx, p); }
/* realloc that fails the run on NULL. */
void *hkb_realloc(struct hkb_run *r, void *p, size_t size);

/* --- Stamps ------------------------------------------------------------------
 * A stamp is a 64-bit tag written at a block's first and last 8 bytes and at
 * one word per 4 KiB page in between. Blocks under 16 bytes get the tag's low
 * bytes over their whole length. hkb_verify checks them all. */

/* A tag for a block: mixes a seed with the block's identity. */
static inline uint64_t hkb_tag(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
	x ^= x >> 31;
	return x | 1;   /* never zero: a zeroed block never passes */
}

void hkb_stamp(void *p, size_t size, uint64_t tag);
/* 0 if p carries tag; else hkb_fail(r, what, ...) and -1. */
int hkb_verify(struct hkb_run *r, const void *p, size_t size, uint64_t tag, const char *what);

/* --- Slots: a workload's blocks held by index ------------------------------------ */

/* A block a workload holds: where, how large, and the tag it was stamped with (p NULL: empty). */
struct hkb_slot {
	void *p;
	size_t size;
	uint64_t tag;
};

/* n empty slots, allocated through the allocator under test; NULL (run failed) when it cannot. */
struct hkb_slot *hkb_slots_new(struct hkb_run *r, size_t n);
/* Allocate s a block of size bytes stamped with tag; -1 (run failed) when malloc fails. */
int hkb_slot_fill(struct hkb_run *r, struct hkb_slot *s, size_t size, uint64_t tag);
/* Verify and free s's block, if any, and leave s empty. */
void hkb_slot_release(struct hkb_run *r, struct hkb_slot *s);
/* Release all n slots, then free the array itself. */
void hkb_slots_free(struct hkb_run *r, struct hkb_slot *s, size_t n);

/*
 * Write every byte of b reps times, each pass a pattern of the byte's index,
 * the pass and salt, and read each byte back; -1 (run failed) if one changed.
 */
int hkb_scratch(struct hkb_run *r, volatile unsigned char *b, size_t size, long long reps, unsigned salt);

/* The memory the allocator holds now: its own figure, else the host's, else -1. */
long hkb_held_kb(const struct hkb_run *r);

/* --- Small helpers for workloads ---------------------------------------------- */

/* xorshift64*: a fast deterministic generator, one per thread. */
static inline uint64_t hkb_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}
static inline uint64_t hkb_seed(uint64_t seed, uint64_t stream)
{
	uint64_t s = hkb_tag(seed + 1, stream + 7);
	return s ? s : 1;
}
/* Uniform in [lo, hi]. */
static inline size_t hkb_rand_range(uint64_t *s, size_t lo, size_t hi)
{
	return hi <= lo ? lo : lo + (size_t)(hkb_rand(s) % (hi - lo + 1));
}
/* Log-uniform in [lo, hi]: every power of two equally likely; favours small. */
size_t hkb_rand_logsize(uint64_t *s, size_t lo, size_t hi);

/* Spin for about `units` of busy work the compiler cannot remove. */
void hkb_busy_work(long long units);

/*
 * Run fn(arg_i) on n threads, arg_i = args + i * stride, all released at
 * once by a start gate, and wait for all. Thread 0 runs on the caller when
 * n == 1 (no thread is made). Returns 0, or -1 (run failed) if a thread could
 * not be made.
 */
int hkb_run_threads(struct hkb_run *r, unsigned n, void (*fn)(void *), void *args, size_t stride);

/* A worker of hkb_run_workers: the run and the worker's number. */
struct hkb_worker {
	struct hkb_run *r;
	unsigned id;
};

/*
 * The common shape of a threaded workload: fn on n workers (n <= 256), each
 * given its struct hkb_worker, all released at once; r->seconds is set to
 * their time. Returns as hkb_run_threads.
 */
int hkb_run_workers(struct hkb_run *r, unsigned n, void (*fn)(void *worker));

/* The clock, in seconds. */
static inline double hkb_now(const struct hkb_run *r) { return (double)r->env->now_ns() * 1e-9; }

#endif /* HK_BENCH_HARNESS_H */
