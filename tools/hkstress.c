// SPDX-License-Identifier: MIT
/*
 * hkstress: the stress runner. N threads allocate, free, realloc and
 * memalign blocks of power-law random sizes (about 1% large, 0.1% huge);
 * every word of a block carries a per-block cookie and is verified before the
 * block is freed or moved; blocks pass between threads through a shared
 * transfer array, so many frees are cross-thread; every round the threads
 * exit while still holding live blocks and new threads take those over; the
 * heap check runs between rounds. For an instance over a fixed region it
 * then drives a small region to exhaustion again and again: NULL with ENOMEM,
 * never a crash, and availmem back where it started once all is freed.
 *
 *   hkstress [--allocs NAME|system] [--threads N] [--scale N] [--rounds N]
 *            [--seed N] [--region MIB] [--checked] [--no-exhaust] [-v]
 *
 * Exit status 0 when all went well; on failure it prints the seed and the
 * first bad block and exits 1.
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"

/* --- Options ------------------------------------------------------------- */

struct options {
	const char *alloc;      /* backend name, or "system" */
	unsigned threads;       /* worker threads per round */
	unsigned scale;         /* work multiplier: slots and operations */
	unsigned rounds;        /* rounds of thread churn */
	uint64_t seed;          /* everything random derives from it */
	size_t region_mib;      /* fixed region for an instance (0: default) */
	bool checked;           /* wrap the instance in hk_checked_create */
	bool exhaust;           /* run the exhaustion phase */
	bool verbose;           /* a line per round */
};

static struct options opt = { "buddy", 4, 1, 6, 0, 0, false, true, false };

/* --- The allocator under test ------------------------------------------------ */

static hk_alloc_t *heap;        /* NULL: the system's malloc */
static unsigned heap_caps;      /* hk_caps(heap), or all for the system */

static void *t_malloc(size_t n) { return heap ? hk_malloc(heap, n) : malloc(n); }
static void *t_calloc(size_t n, size_t s) { return heap ? hk_calloc(heap, n, s) : calloc(n, s); }
static void *t_realloc(void *p, size_t n) { return heap ? hk_realloc(heap, p, n) : realloc(p, n); }
static void t_free(void *p) { heap ? hk_free(heap, p) : free(p); }
static size_t t_usable(void *p) { return heap ? hk_usable_size(heap, p) : malloc_usable_size(p); }

/* memalign / hk_memalign: any power of two. */
static void *t_memalign2(size_t align, size_t n) { return heap ? hk_memalign(heap, align, n) : memalign(align, n); }

/* posix_memalign / hk_posix_memalign, errno set from its result. */
static void *t_memalign(size_t align, size_t n)
{
	void *p = NULL;
	int rc = heap ? hk_posix_memalign(heap, &p, align, n) : posix_memalign(&p, align, n);
	if (rc)
		errno = rc;
	return rc ? NULL : p;
}

/* --- Random numbers ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t seed_mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ull + b + 1;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) | 1;
}

/* Density ~ 1/size between 2^lo and 2^hi. */
static size_t size_log_uniform(uint64_t *s, unsigned lo, unsigned hi)
{
	unsigned e = lo + (unsigned)(rnd(s) % (hi - lo));
	return ((size_t)1 << e) + (size_t)(rnd(s) % ((size_t)1 << e));
}

/* Power-law sizes: 98.9% below 4 KiB, 1% up to 256 KiB, 0.1% up to 4 MiB. */
static size_t size_pick(uint64_t *s)
{
	uint64_t r = rnd(s) % 10000;
	if (r < 10)
		return size_log_uniform(s, 18, 22);
	if (r < 110)
		return size_log_uniform(s, 12, 18);
	if (r < 150)
		return 0;
	return size_log_uniform(s, 0, 12);
}

/* --- Blocks: stamp and verify ------------------------------------------------------------ */

/* A live block and what its every word must hold. */
struct blk {
	unsigned char *p;       /* NULL: slot empty */
	size_t size;            /* bytes asked for */
	uint64_t cookie;        /* per-block stamp */
	unsigned thread;        /* serial of the thread that allocated it */
};

static inline uint64_t stamp_word(uint64_t cookie, size_t i) { return cookie ^ (i * 0x9e3779b97f4a7c15ull); }

static void blk_stamp(const struct blk *b)
{
	uint64_t *w = (uint64_t *)b->p;
	size_t n = b->size / 8;
	for (size_t i = 0; i < n; i++)
		w[i] = stamp_word(b->cookie, i);
	uint64_t last = stamp_word(b->cookie, n);
	for (size_t j = n * 8; j < b->size; j++)
		b->p[j] = (unsigned char)(last >> (8 * (j & 7)));
}

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

/* Print what went wrong, the seed to rerun it, and exit 1. */
static void __attribute__((noreturn, format(printf, 2, 3))) fail(const struct blk *b, const char *fmt, ...)
{
	pthread_mutex_lock(&fail_lock);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hkstress: FAILED: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (b)
		fprintf(stderr, "hkstress: first bad block %p size %zu cookie %016" PRIx64 " allocated by thread %u\n",
			(void *)b->p, b->size, b->cookie, b->thread);
	fprintf(stderr, "hkstress: rerun with: --allocs %s%s --threads %u --scale %u --rounds %u --seed %" PRIu64 "\n",
		opt.alloc, opt.checked ? " --checked" : "", opt.threads, opt.scale, opt.rounds, opt.seed);
	fflush(stderr);
	_exit(1);
}

/* The first len bytes of b hold b's stamp. */
static void blk_verify_prefix(const struct blk *b, size_t len, const char *when)
{
	const uint64_t *w = (const uint64_t *)b->p;
	size_t n = len / 8;
	for (size_t i = 0; i < n; i++)
		if (__builtin_expect(w[i] != stamp_word(b->cookie, i), 0))
			fail(b, "%s: word at offset %zu is %016" PRIx64 ", expected %016" PRIx64, when, i * 8, w[i],
			     stamp_word(b->cookie, i));
	uint64_t last = stamp_word(b->cookie, b->size / 8);
	for (size_t j = n * 8; j < len; j++) {
		unsigned char want = j / 8 == b->size / 8 ? (unsigned char)(last >> (8 * (j & 7)))
							  : (unsigned char)(stamp_word(b->cookie, j / 8) >> (8 * (j & 7)));
		if (b->p[j] != want)
			fail(b, "%s: byte at offset %zu is %02x, expected %02x", when, j, b->p[j], want);
	}
}

static void blk_verify(const struct blk *b, const char *when)
{
	blk_verify_prefix(b, b->size, when);
}

/* Checks every new block gets: alignment, usable size, zeroes for calloc. */
static void blk_check_new(const struct blk *b, size_t align, bool zeroed)
{
	/* The system's malloc may align tiny blocks to 8 only (C11 allows it). */
	if (!heap && align == 16 && b->size < 16)
		align = 8;
	if ((uintptr_t)b->p % align)
		fail(b, "block not aligned to %zu", align);
	size_t usable = t_usable(b->p);
	if (usable < b->size)
		fail(b, "usable size %zu is below the %zu bytes asked for", usable, b->size);
	if (zeroed)
		for (size_t i = 0; i < b->size; i++)
			if (b->p[i])
				fail(b, "calloc memory not zero at offset %zu", i);
}

/* --- Shared state: the transfer array and the counters ------------------------------------------- */

/* A slot of the transfer array: a block in transit between threads. */
struct xfer {
	int lock;               /* spin lock: 0 free */
	struct blk b;           /* the block parked here, or p == NULL */
};

static struct xfer *xfers;
static size_t nr_xfers;
static unsigned thread_serial;          /* threads started so far (atomic) */

/* What a worker did, summed over the run. */
struct counts {
	uint64_t ops, allocs, frees, cross_frees, reallocs, transfers, failed;
};
static struct counts total;

static void xfer_swap(struct xfer *x, struct blk *mine)
{
	while (__atomic_exchange_n(&x->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
	struct blk t = x->b;
	x->b = *mine;
	*mine = t;
	__atomic_store_n(&x->lock, 0, __ATOMIC_RELEASE);
}

/* --- A worker ------------------------------------------------------------ */

/* A worker's blocks outlive its thread: the next round's thread takes them over. */
struct worker {
	struct blk *slots;      /* this worker's live blocks */
	size_t nr_slots;
	uint64_t rng;           /* reseeded every round from the seed */
	size_t ops;             /* operations per round */
	unsigned serial;        /* the current thread's serial */
	struct counts c;
};

static void blk_free(struct worker *w, struct blk *b, const char *when)
{
	blk_verify(b, when);
	t_free(b->p);
	w->c.frees++;
	w->c.cross_frees += b->thread != w->serial;
	b->p = NULL;
}

/* With -v: say what the first few failed requests were, and how full the heap was. */
static void note_failure(size_t size, size_t align, const char *what)
{
	static unsigned told;
	if (!opt.verbose || __atomic_fetch_add(&told, 1, __ATOMIC_RELAXED) >= 5)
		return;
	fprintf(stderr, "hkstress: %s(%zu, align %zu) failed; availmem %zu, maxalloc %zu\n", what, size, align,
		heap ? hk_availmem(heap) : 0, heap ? hk_maxalloc(heap) : 0);
}

static void blk_alloc(struct worker *w, struct blk *b)
{
	uint64_t r = rnd(&w->rng) % 100;
	size_t size = size_pick(&w->rng), align = 0;   /* 0: the default alignment */
	bool zeroed = false;
	unsigned char *p;
	if (r < 60) {
		p = t_malloc(size);
	} else if (r < 75) {
		size_t n = 1 + rnd(&w->rng) % 8;
		size = size / n;
		p = t_calloc(n, size);
		size *= n;
		zeroed = true;
	} else if (r < 95) {
		align = (size_t)1 << (3 + rnd(&w->rng) % (rnd(&w->rng) % 50 ? 10 : 14));
		p = r < 88 ? t_memalign(align, size) : t_memalign2(align, size);
	} else {
		p = t_realloc(NULL, size);
	}
	if (!p) {
		w->c.failed++;
		note_failure(size, align, r < 60 ? "malloc" : r < 75 ? "calloc" : r < 95 ? "memalign" : "realloc(NULL)");
		return;
	}
	b->p = p;
	b->size = size;
	b->cookie = rnd(&w->rng);
	b->thread = w->serial;
	/* what was asked, and at least the default (heapkit.h) */
	size_t fund = HK_BLOCK_ALIGN(size);
	blk_check_new(b, align < fund ? fund : align, zeroed);
	blk_stamp(b);
	w->c.allocs++;
}

static void blk_realloc(struct worker *w, struct blk *b)
{
	blk_verify(b, "before realloc");
	size_t size = rnd(&w->rng) % 4 ? size_pick(&w->rng) : b->size + rnd(&w->rng) % 64;
	if (!size)
		size = 1;
	unsigned char *q = t_realloc(b->p, size);
	if (!q) {
		w->c.failed++;
		blk_verify(b, "after a failed realloc");
		return;
	}
	struct blk nb = *b;
	nb.p = q;
	blk_verify_prefix(&nb, size < b->size ? size : b->size, "after realloc");
	nb.size = size;
	blk_check_new(&nb, HK_BLOCK_ALIGN(nb.size), false);
	blk_stamp(&nb);
	*b = nb;
	w->c.reallocs++;
}

static void worker_step(struct worker *w)
{
	struct blk *b = &w->slots[rnd(&w->rng) % w->nr_slots];
	uint64_t r = rnd(&w->rng) % 100;
	w->c.ops++;
	if (!b->p) {
		if (r < 85)
			blk_alloc(w, b);
		else
			xfer_swap(&xfers[rnd(&w->rng) % nr_xfers], b), w->c.transfers++;
		return;
	}
	if (r < 40) {
		blk_free(w, b, "before free");
	} else if (r < 55) {
		blk_realloc(w, b);
	} else if (r < 80) {
		blk_verify(b, "before transfer");
		xfer_swap(&xfers[rnd(&w->rng) % nr_xfers], b);
		w->c.transfers++;
	} else if (r < 99) {
		blk_free(w, b, "before free");
		blk_alloc(w, b);
	} else if (heap_caps & HK_CAP_FREE) {
		blk_verify(b, "before realloc to 0");
		t_realloc(b->p, 0);
		w->c.frees++;
		b->p = NULL;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->serial = __atomic_add_fetch(&thread_serial, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < w->ops; i++)
		worker_step(w);
	return NULL;
}

/* --- Rounds ------------------------------------------------------------ */

static void counts_add(struct counts *to, const struct counts *c)
{
	to->ops += c->ops;
	to->allocs += c->allocs;
	to->frees += c->frees;
	to->cross_frees += c->cross_frees;
	to->reallocs += c->reallocs;
	to->transfers += c->transfers;
	to->failed += c->failed;
}

static void heap_check(const char *when)
{
	struct hk_check_report r = { NULL, NULL };
	if (heap && hk_check(heap, &r) != 0)
		fail(NULL, "heap check %s: %s at %p", when, r.what ? r.what : "?", r.addr);
}

/* Every live block, in the workers and in transit. */
static void verify_all(struct worker *ws, unsigned n)
{
	for (unsigned t = 0; t < n; t++)
		for (size_t i = 0; i < ws[t].nr_slots; i++)
			if (ws[t].slots[i].p)
				blk_verify(&ws[t].slots[i], "between rounds");
	for (size_t i = 0; i < nr_xfers; i++)
		if (xfers[i].b.p)
			blk_verify(&xfers[i].b, "between rounds (in transit)");
}

static void free_all(struct worker *ws, unsigned n)
{
	struct worker *w = &ws[0];
	for (unsigned t = 0; t < n; t++)
		for (size_t i = 0; i < ws[t].nr_slots; i++)
			if (ws[t].slots[i].p)
				blk_free(w, &ws[t].slots[i], "at the end");
	for (size_t i = 0; i < nr_xfers; i++)
		if (xfers[i].b.p)
			blk_free(w, &xfers[i].b, "at the end (in transit)");
}

static void run_rounds(void)
{
	unsigned n = opt.threads;
	struct worker *ws = calloc(n, sizeof *ws);
	nr_xfers = 64 * opt.scale;
	xfers = calloc(nr_xfers, sizeof *xfers);
	if (!ws || !xfers)
		fail(NULL, "out of memory for the runner itself");
	for (unsigned t = 0; t < n; t++) {
		ws[t].nr_slots = 256 * opt.scale;
		ws[t].slots = calloc(ws[t].nr_slots, sizeof *ws[t].slots);
		ws[t].ops = 20000 * (size_t)opt.scale;
		if (!ws[t].slots)
			fail(NULL, "out of memory for the runner itself");
	}
	for (unsigned round = 0; round < opt.rounds; round++) {
		pthread_t tid[n];
		for (unsigned t = 0; t < n; t++) {
			ws[t].rng = seed_mix(opt.seed, round * 1000 + t);
			memset(&ws[t].c, 0, sizeof ws[t].c);
			if (pthread_create(&tid[t], NULL, worker_main, &ws[t]))
				fail(NULL, "pthread_create failed");
		}
		/* The threads exit holding live blocks; the next round's threads free them. */
		for (unsigned t = 0; t < n; t++) {
			pthread_join(tid[t], NULL);
			counts_add(&total, &ws[t].c);
		}
		verify_all(ws, n);
		heap_check("between rounds");
		if (opt.verbose)
			fprintf(stderr, "hkstress: round %u: %" PRIu64 " ops, %" PRIu64 " cross-thread frees so far\n",
				round, total.ops, total.cross_frees);
	}
	memset(&ws[0].c, 0, sizeof ws[0].c);
	ws[0].serial = ~0u;
	free_all(ws, n);
	counts_add(&total, &ws[0].c);
	heap_check("after freeing everything");
	for (unsigned t = 0; t < n; t++)
		free(ws[t].slots);
	free(ws);
	free(xfers);
}

/* --- Exhaustion of a small region ------------------------------------------------------------ */

/* An instance of b over [base, base+len), wrapped when --checked; *inner: the backend's own. */
static hk_alloc_t *instance_create(const struct hk_backend *b, void *base, size_t len, hk_alloc_t **inner)
{
	hk_alloc_t *a = *inner = hk_backend_create(b, base, len);
	if (a && opt.checked) {
		hk_alloc_t *c = hk_checked_create(a, 0);
		if (!c)
			fail(NULL, "hk_checked_create over %s failed", b->name);
		a = c;
	}
	return a;
}

/* Destroy the wrapper (if any), then the backend's instance. */
static void instance_destroy(hk_alloc_t *a, hk_alloc_t *inner)
{
	if (a != inner)
		hk_destroy(a);
	hk_destroy(inner);
}

/* Fill the instance until even small requests fail; NULL must come with ENOMEM. */
static size_t exhaust_fill(struct blk *bs, size_t cap, size_t len, uint64_t *rng)
{
	size_t n = 0, bound = len / 4;
	while (n < cap) {
		size_t size = 1 + rnd(rng) % bound;
		errno = 0;
		unsigned char *p = rnd(rng) % 8 ? t_malloc(size) : t_memalign((size_t)16 << rnd(rng) % 6, size);
		if (!p) {
			if (errno != ENOMEM)
				fail(NULL, "exhaustion: NULL without ENOMEM (errno %d) for %zu bytes", errno, size);
			if (bound <= 16)
				break;
			bound /= 2;
			continue;
		}
		struct blk *b = &bs[n++];
		b->p = p;
		b->size = size;
		b->cookie = rnd(rng);
		b->thread = 0;
		blk_stamp(b);
	}
	return n;
}

static void run_exhaustion(const struct hk_backend *b)
{
	size_t len = b->min_region > ((size_t)256 << 10) ? b->min_region : (size_t)256 << 10;
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		fail(NULL, "exhaustion: mmap of %zu bytes failed", len);
	size_t cap = len / 16;
	struct blk *bs = calloc(cap, sizeof *bs);
	if (!bs)
		fail(NULL, "out of memory for the runner itself");
	uint64_t rng = seed_mix(opt.seed, 0xe4a);
	hk_alloc_t *saved = heap, *a = NULL, *inner = NULL;
	size_t initial = 0;
	bool exact = (b->caps & HK_CAP_EXACT_AVAIL) && !opt.checked;
	for (unsigned it = 0; it < 8; it++) {
		if (!a || !(b->caps & HK_CAP_FREE)) {
			if (a)
				instance_destroy(a, inner);
			a = instance_create(b, base, len, &inner);
			if (!a)
				fail(NULL, "exhaustion: create over %zu bytes failed: %s", len, hk_last_error());
			initial = hk_availmem(a);
		}
		heap = a;
		size_t n = exhaust_fill(bs, cap, len, &rng);
		errno = 0;
		if (t_malloc(len) != NULL || errno != ENOMEM)
			fail(NULL, "exhaustion: a request as big as the region did not fail with ENOMEM");
		heap_check("when exhausted");
		for (size_t i = n; i > 1; i--) {
			size_t j = rnd(&rng) % i;
			struct blk t = bs[i - 1];
			bs[i - 1] = bs[j];
			bs[j] = t;
		}
		for (size_t i = 0; i < n; i++) {
			blk_verify(&bs[i], "exhaustion: before free");
			t_free(bs[i].p);
		}
		heap_check("after exhaustion and free-all");
		size_t now = hk_availmem(a);
		if (exact && now != initial)
			fail(NULL, "exhaustion round %u: availmem %zu after freeing all, %zu at the start", it, now, initial);
		void *p = t_malloc(64);
		if ((b->caps & HK_CAP_FREE) && !p)
			fail(NULL, "exhaustion round %u: instance unusable after freeing all", it);
		t_free(p);
		if (opt.verbose)
			fprintf(stderr, "hkstress: exhaustion round %u: %zu blocks, availmem %zu\n", it, n, now);
	}
	instance_destroy(a, inner);
	heap = saved;
	free(bs);
	if (b->caps & HK_CAP_RELEASE) /* mimalloc keeps its arenas: the region stays mapped */
		munmap(base, len);
}

/* --- Main ------------------------------------------------------------ */

static unsigned long long u_threads = 4, u_scale = 1, u_rounds = 6, u_seed, u_region;
static bool seeded;
static const struct hk_opt stress_opts[] = {
	HK_OPT_ALIAS("--allocs", "--alloc", HK_OPT_STR, &opt.alloc, "NAME",
		     "a registered backend over a fixed region, or 'system' (default buddy)"),
	HK_OPT("--threads", HK_OPT_ULL, &u_threads, "N", "worker threads per round (default 4)"),
	HK_OPT("--scale", HK_OPT_ULL, &u_scale, "N", "work multiplier: slots and operations per thread (default 1)"),
	HK_OPT("--rounds", HK_OPT_ULL, &u_rounds, "N", "rounds; threads exit holding blocks and are replaced (default 6)"),
	{ .name = "--seed", .type = HK_OPT_ULL, .dest = &u_seed, .arg = "N", .seen = &seeded,
	  .help = "random seed (default: from the clock; printed)" },
	HK_OPT("--region", HK_OPT_ULL, &u_region, "MIB", "size of the fixed region (default 256, 64 where free reclaims nothing)"),
	HK_OPT("--checked", HK_OPT_FLAG, &opt.checked, NULL, "wrap the instance in hk_checked_create"),
	HK_OPT("--no-exhaust", HK_OPT_CLEAR, &opt.exhaust, NULL, "skip the small-region exhaustion phase"),
	HK_OPT("-v", HK_OPT_FLAG, &opt.verbose, NULL, "a line per round"),
	HK_OPT_LAST,
};
static const struct hk_cmd stress_cmd = {
	.name = "hkstress",
	.synopsis = "[options]",
	.opts = stress_opts,
};

static void usage(FILE *f)
{
	hk_cmd_usage(&stress_cmd, f);
	fprintf(f, "backends:");
	for (size_t i = 0; i < hk_backend_count(); i++)
		fprintf(f, " %s", hk_backend_at(i)->name);
	fprintf(f, " system\n");
}

static void parse_args(int argc, char **argv)
{
	/* Defaults again: the Unikraft image may call main more than once. */
	opt = (struct options){ "buddy", 4, 1, 6, 0, 0, false, true, false };
	u_threads = 4, u_scale = 1, u_rounds = 6, u_seed = 0, u_region = 0;
	seeded = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			usage(stdout), exit(0);
	int rc = hk_cmd_parse(&stress_cmd, argc, argv, 1);
	if (rc)
		exit(rc == 1 ? 0 : rc);
	opt.threads = (unsigned)u_threads;
	opt.scale = (unsigned)u_scale;
	opt.rounds = (unsigned)u_rounds;
	opt.seed = u_seed;
	opt.region_mib = (size_t)u_region;
	if (!opt.threads || !opt.scale || u_threads > 256 || u_scale > 1000000 || u_rounds > 1000000) {
		fprintf(stderr, "hkstress: --threads must be 1..256 and --scale at least 1\n");
		exit(2);
	}
	if (!seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		opt.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	double t0 = now_s();
	const struct hk_backend *b = NULL;
	hk_alloc_t *inner = NULL;
	void *base = NULL;
	size_t len = 0, initial = 0;
	if (!strcmp(opt.alloc, "system")) {
		heap_caps = HK_CAP_FREE | HK_CAP_THREADS;
		opt.exhaust = false;
		opt.checked = false;
	} else {
		b = hk_backend_find(opt.alloc);
		if (!b) {
			fprintf(stderr, "hkstress: no backend called '%s'\n", opt.alloc);
			usage(stderr);
			return 2;
		}
		heap_caps = b->caps;
		if (!(heap_caps & HK_CAP_THREADS))
			opt.threads = 1;
		len = (opt.region_mib ? opt.region_mib : (heap_caps & HK_CAP_FREE) ? 256 : 64) << 20;
		if (len < b->min_region)
			len = b->min_region;
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			fail(NULL, "mmap of a %zu-byte region failed", len);
		heap = instance_create(b, base, len, &inner);
		if (!heap)
			fail(NULL, "creating %s over %zu bytes failed: %s", b->name, len, hk_last_error());
		initial = hk_availmem(heap);
	}
	run_rounds();
	if (heap) {
		size_t after = hk_availmem(heap);
		if ((heap_caps & HK_CAP_EXACT_AVAIL) && !opt.checked && after != initial)
			fail(NULL, "availmem %zu after freeing everything, %zu at the start", after, initial);
		instance_destroy(heap, inner);
		if (heap_caps & HK_CAP_RELEASE) /* mimalloc keeps its arenas: the region stays mapped */
			munmap(base, len);
		heap = NULL;
	}
	if (opt.exhaust && b)
		run_exhaustion(b);
	printf("hkstress: OK alloc=%s%s threads=%u rounds=%u scale=%u seed=%" PRIu64 ": %" PRIu64 " ops, %" PRIu64
	       " allocs, %" PRIu64 " frees (%" PRIu64 " cross-thread), %" PRIu64 " reallocs, %" PRIu64
	       " transfers, %" PRIu64 " failed requests, %.2f s\n",
	       opt.alloc, opt.checked ? " (checked)" : "", opt.threads, opt.rounds, opt.scale, opt.seed, total.ops,
	       total.allocs, total.frees, total.cross_frees, total.reallocs, total.transfers, total.failed,
	       now_s() - t0);
	return 0;
}
