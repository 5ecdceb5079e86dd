// SPDX-License-Identifier: MIT
/*
 * libheapkit-trace.so: records every malloc-family call of an unmodified
 * program (LD_PRELOAD) into a heapkit trace (include/heapkit/trace.h), and
 * forwards each call to the allocator underneath (the next definition in
 * link order: glibc, or another preloaded malloc).
 *
 *   HEAPKIT_TRACE=FILE            where to write (default heapkit-PID.trace);
 *                                 a program it starts writes FILE.PID
 *   HEAPKIT_TRACE_CHILDREN=1      a forked child writes FILE.PID; otherwise
 *                                 a forked child records nothing
 *
 * Each thread appends events to its own buffer with no lock; a full buffer,
 * a thread's exit and the process's exit write it out as one chunk under a
 * lock. A program that ends with _exit or a crash leaves a trace that holds
 * the chunks written so far: shorter, never corrupt.
 */
#define _GNU_SOURCE
#include <heapkit/trace.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define BUF_BYTES (256u << 10)       /* 256 KiB of events per thread before a write */
#define BOOT_BYTES (64u << 10)       /* calls made while finding the real allocator */

/* --- The allocator underneath ------------------------------------------------ */

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*usable_size)(void *);
} real;

/*
 * While dlsym looks the real functions up it may allocate: those calls are
 * served from a static bump buffer whose blocks are never freed.
 */
static _Alignas(64) unsigned char boot_buf[BOOT_BYTES];
static size_t boot_used;

static void *boot_alloc(size_t n)
{
	size_t at = __atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED);
	return at + n <= BOOT_BYTES ? boot_buf + at : NULL;
}

static bool is_boot(const void *p)
{
	return (const unsigned char *)p >= boot_buf && (const unsigned char *)p < boot_buf + BOOT_BYTES;
}

/* --- Per-thread buffers ------------------------------------------------------ */

/*
 * A thread's buffer. Only its thread appends; `state` packs the payload
 * length (low 32 bits) and the event count (high 32) so a flush from another
 * thread at exit sees whole events only.
 */
struct tbuf {
	struct tbuf *next;          /* all buffers, for the flush at exit */
	uint32_t thread;            /* the thread's number in the trace */
	bool live;                  /* owned by a running thread */
	uint64_t base_ticks;        /* event clock at the chunk's start */
	uint64_t base_ns;           /* CLOCK_MONOTONIC then */
	uint64_t last_ticks;        /* event clock at the last event */
	uint64_t last_addr;         /* the chunk's previous address operand */
	uint64_t state;             /* bytes | events << 32 (atomic) */
	uint8_t data[BUF_BYTES];
};

static __thread struct tbuf *tl_buf __attribute__((tls_model("initial-exec")));
static __thread int tl_busy __attribute__((tls_model("initial-exec")));  /* inside the recorder */

static int trace_fd = -1;
static bool enabled;
static struct tbuf *all_bufs;
static uint32_t next_thread;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char trace_path[4096];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The event clock: the invariant TSC on x86 (a few times cheaper than
 * clock_gettime, and consistent across cores), nanoseconds elsewhere.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CLOCK_FLAGS HK_TRACE_TICKS_TSC
static inline uint64_t now_ticks(void) { return __rdtsc(); }
#else
#define CLOCK_FLAGS 0u
static inline uint64_t now_ticks(void) { return now_ns(); }
#endif

/* Write the buffer's events as one chunk and empty it. Caller holds write_lock. */
static void tbuf_write(struct tbuf *b)
{
	uint64_t st = __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
	uint32_t bytes = (uint32_t)st, events = (uint32_t)(st >> 32);
	if (!events || trace_fd < 0)
		return;
	struct hk_trace_chunk c = {
		.magic = HK_TRACE_CHUNK_MAGIC,
		.thread = b->thread,
		.payload_bytes = bytes,
		.nr_events = events,
		.base_ticks = b->base_ticks,
		.base_ns = b->base_ns,
		.checksum = hk_trace_checksum(b->data, bytes),
	};
	struct iovec iov[2] = { { &c, sizeof c }, { b->data, bytes } };
	size_t want = sizeof c + bytes;
	ssize_t n = writev(trace_fd, iov, 2);
	if (n != (ssize_t)want) {
		/* A short write would leave a chunk a reader refuses: stop recording. */
		enabled = false;
	}
	__atomic_store_n(&b->state, 0, __ATOMIC_RELEASE);
}

static void tbuf_flush(struct tbuf *b)
{
	pthread_mutex_lock(&write_lock);
	tbuf_write(b);
	pthread_mutex_unlock(&write_lock);
}

static void thread_exit(void *arg)
{
	struct tbuf *b = arg;
	tl_busy++;
	tbuf_flush(b);
	b->live = false;
	tl_buf = NULL;
	tl_busy--;
}

/* This thread's buffer: a dead thread's buffer is reused, else a new one is mapped. */
static struct tbuf *tbuf_get(void)
{
	struct tbuf *b = NULL;
	pthread_mutex_lock(&write_lock);
	for (struct tbuf *x = all_bufs; x; x = x->next)
		if (!x->live) {
			b = x;
			break;
		}
	if (!b) {
		b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED) {
			pthread_mutex_unlock(&write_lock);
			return NULL;
		}
		b->next = all_bufs;
		all_bufs = b;
	}
	b->live = true;
	b->thread = next_thread++;
	b->state = 0;
	pthread_mutex_unlock(&write_lock);
	tl_buf = b;
	pthread_setspecific(exit_key, b);
	return b;
}

/* --- Setup, exit, fork ------------------------------------------------------- */

static void write_header(void)
{
	struct hk_trace_header h = { .magic = HK_TRACE_MAGIC,
				     .version = HK_TRACE_VERSION,
				     .header_bytes = sizeof h,
				     .start_ns = now_ns(),
				     .start_ticks = now_ticks(),
				     .flags = CLOCK_FLAGS,
				     .pid = (uint32_t)getpid() };
	if (write(trace_fd, &h, sizeof h) != (ssize_t)sizeof h) {
		close(trace_fd);
		trace_fd = -1;
	}
}

/*
 * Open path for this process alone. The writer holds an exclusive lock on
 * its file for its whole life; a process that finds the file locked (a
 * program run by the traced one, which inherits HEAPKIT_TRACE) writes
 * path.PID instead, so two processes never write one file.
 */
static int open_exclusive(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void open_trace(const char *path)
{
	trace_fd = open_exclusive(path);
	int err = errno;
	if (trace_fd < 0) {
		char alt[4200];
		snprintf(alt, sizeof alt, "%s.%d", path, (int)getpid());
		trace_fd = open_exclusive(alt);
	}
	if (trace_fd >= 0) {
		write_header();
	} else {
		/* Say so once, rather than run the program untraced in silence. */
		char msg[4400];
		int n = snprintf(msg, sizeof msg, "heapkit-trace: cannot write the trace to %s (%s); not recording\n", path,
				 strerror(err));
		if (n > 0 && write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
			n = 0;
	}
	enabled = trace_fd >= 0;
}

static void flush_all(void)
{
	tl_busy++;
	pthread_mutex_lock(&write_lock);
	for (struct tbuf *b = all_bufs; b; b = b->next)
		tbuf_write(b);
	pthread_mutex_unlock(&write_lock);
	tl_busy--;
}

static void fork_prepare(void) { pthread_mutex_lock(&write_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&write_lock); }

/*
 * In the child only the forking thread exists, and every buffer holds
 * events the parent will write: drop them all, then record into a file of
 * the child's own, or not at all.
 */
static void fork_child(void)
{
	pthread_mutex_init(&write_lock, NULL);
	for (struct tbuf *b = all_bufs; b; b = b->next) {
		b->state = 0;
		b->live = b == tl_buf;
	}
	if (trace_fd >= 0)
		close(trace_fd);
	trace_fd = -1;
	enabled = false;
	next_thread = 1;
	if (tl_buf)
		tl_buf->thread = 0;
	const char *children = getenv("HEAPKIT_TRACE_CHILDREN");
	if (children && *children == '1') {
		char path[4200];
		snprintf(path, sizeof path, "%s.%d", trace_path, (int)getpid());
		open_trace(path);
	}
}

#define RESOLVE(field, name) real.field = dlsym(RTLD_NEXT, name)

static void init(void)
{
	tl_busy++;
	RESOLVE(malloc, "malloc");
	RESOLVE(free, "free");
	RESOLVE(calloc, "calloc");
	RESOLVE(realloc, "realloc");
	RESOLVE(memalign, "memalign");
	RESOLVE(posix_memalign, "posix_memalign");
	RESOLVE(aligned_alloc, "aligned_alloc");
	RESOLVE(valloc, "valloc");
	RESOLVE(pvalloc, "pvalloc");
	RESOLVE(usable_size, "malloc_usable_size");
	pthread_key_create(&exit_key, thread_exit);
	const char *path = getenv("HEAPKIT_TRACE");
	if (path && *path)
		snprintf(trace_path, sizeof trace_path, "%s", path);
	else
		snprintf(trace_path, sizeof trace_path, "heapkit-%d.trace", (int)getpid());
	open_trace(trace_path);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atexit(flush_all);
	tl_busy--;
}

static inline bool ready(void)
{
	if (__builtin_expect(real.malloc != NULL, 1))
		return true;
	if (tl_busy)
		return false;
	pthread_once(&init_once, init);
	return real.malloc != NULL;
}

/* --- Recording ---------------------------------------------------------------- */

/* Append one event of op with up to four operands. */
static void record(enum hk_trace_op op, int nops, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t t)
{
	if (!enabled || tl_busy)
		return;
	struct tbuf *buf = tl_buf;
	if (!buf) {
		tl_busy++;
		buf = tbuf_get();
		tl_busy--;
		if (!buf)
			return;
	}
	uint64_t st = buf->state;
	uint32_t bytes = (uint32_t)st;
	if (bytes + HK_TRACE_EVENT_MAX > BUF_BYTES) {
		tl_busy++;
		tbuf_flush(buf);
		tl_busy--;
		st = bytes = 0;
	}
	if (!st) {
		buf->base_ticks = buf->last_ticks = t;
		buf->base_ns = now_ns();
		buf->last_addr = 0;
	}
	uint8_t *p = buf->data + bytes;
	*p++ = (uint8_t)op;
	p = hk_trace_put_varint(p, t >= buf->last_ticks ? t - buf->last_ticks : 0);
	if (t > buf->last_ticks)
		buf->last_ticks = t;
	uint64_t v[4] = { a, b, c, d };
	unsigned addrs = hk_trace_addr_mask(op);
	for (int i = 0; i < nops; i++) {
		uint64_t x = v[i];
		if (addrs >> i & 1) {
			x = hk_trace_zigzag((int64_t)(v[i] - buf->last_addr));
			buf->last_addr = v[i];
		}
		p = hk_trace_put_varint(p, x);
	}
	uint64_t events = (st >> 32) + 1;
	__atomic_store_n(&buf->state, (uint64_t)(p - buf->data) | events << 32, __ATOMIC_RELEASE);
}

/* --- The malloc family --------------------------------------------------------- */

EXPORT void *malloc(size_t n)
{
	if (!ready())
		return boot_alloc(n);
	void *p = real.malloc(n);
	record(HK_TRACE_MALLOC, 2, n, (uintptr_t)p, 0, 0, now_ticks());
	return p;
}

EXPORT void free(void *p)
{
	if (!p || is_boot(p))
		return;
	if (!ready())
		return;
	record(HK_TRACE_FREE, 1, (uintptr_t)p, 0, 0, 0, now_ticks());
	real.free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (!ready()) {
		size_t total;
		if (__builtin_mul_overflow(n, size, &total))
			return NULL;
		return boot_alloc(total); /* static memory: already zero */
	}
	void *p = real.calloc(n, size);
	size_t total = n * size;
	record(HK_TRACE_CALLOC, 2, p ? total : 0, (uintptr_t)p, 0, 0, now_ticks());
	return p;
}

EXPORT void *realloc(void *old, size_t n)
{
	if (is_boot(old)) {
		/* Move a block out of the boot buffer; its old size is unknown, copy what can be. */
		void *p = malloc(n);
		if (p) {
			size_t room = (size_t)(boot_buf + BOOT_BYTES - (unsigned char *)old);
			memcpy(p, old, n < room ? n : room);
		}
		return p;
	}
	if (!ready())
		return boot_alloc(n);
	/* The free half is stamped before the call, the result after it. */
	uint64_t t0 = now_ticks();
	void *p = real.realloc(old, n);
	uint64_t t1 = now_ticks();
	record(HK_TRACE_REALLOC, 4, (uintptr_t)old, n, (uintptr_t)p, t1 - t0, t1);
	return p;
}

static void record_aligned(size_t align, size_t n, void *p)
{
	record(HK_TRACE_MEMALIGN, 3, align, n, (uintptr_t)p, 0, now_ticks());
}

EXPORT void *memalign(size_t align, size_t n)
{
	if (!ready())
		return NULL;
	void *p = real.memalign(align, n);
	record_aligned(align, n, p);
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (!ready())
		return ENOMEM;
	int rc = real.posix_memalign(out, align, n);
	record_aligned(align, n, rc ? NULL : *out);
	return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (!ready())
		return NULL;
	void *p = real.aligned_alloc(align, n);
	record_aligned(align, n, p);
	return p;
}

EXPORT void *valloc(size_t n)
{
	if (!ready())
		return NULL;
	void *p = real.valloc(n);
	record_aligned((size_t)sysconf(_SC_PAGESIZE), n, p);
	return p;
}

EXPORT void *pvalloc(size_t n)
{
	if (!ready())
		return NULL;
	void *p = real.pvalloc(n);
	record_aligned((size_t)sysconf(_SC_PAGESIZE), n, p);
	return p;
}

/*
 * A process that leaves with _exit (a forked child, typically) skips atexit:
 * write the buffers first, then leave through the real one.
 */
EXPORT __attribute__((noreturn)) void _exit(int status)
{
	static void (*real_exit)(int);
	if (enabled)
		flush_all();
	if (!real_exit)
		real_exit = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
	real_exit(status);
	__builtin_unreachable();
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (!p || is_boot(p) || !ready())
		return 0;
	return real.usable_size(p);
}
