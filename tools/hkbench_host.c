// SPDX-License-Identifier: MIT
/*
 * hkbench on Linux: the host environment (clock, pthreads, resident set),
 * the allocators a run can use, and child runs with LD_PRELOAD.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnu/libc-version.h>
#include <sys/utsname.h>

#include "host.h"

struct hkbench_opts hkbench_opts = { .heap_mb = 512, .heapkit_lib = NULL };

/* --- Host environment -------------------------------------------------------- */

static uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* pthreads want void *(*)(void *); this carries the workload's body. */
struct trampoline {
	void (*fn)(void *);
	void *arg;
	pthread_t tid;
};

static void *trampoline_main(void *p)
{
	struct trampoline *t = p;
	t->fn(t->arg);
	return t;
}

static int host_spawn(hkb_thread_t *out, void (*fn)(void *), void *arg)
{
	struct trampoline *t = malloc(sizeof *t);
	if (!t)
		return -1;
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->tid, NULL, trampoline_main, t)) {
		free(t);
		return -1;
	}
	*out = (hkb_thread_t)t;
	return 0;
}

static void host_join(hkb_thread_t h)
{
	struct trampoline *t = (struct trampoline *)h;
	pthread_join(t->tid, NULL);
	free(t);
}

static void host_yield(void) { sched_yield(); }

static void host_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Resident set now, from /proc/self/statm (no stdio: nothing allocates). */
static long host_mem_held_kb(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *sp = strchr(buf, ' ');
	if (!sp)
		return -1;
	return strtol(sp + 1, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

/* --- Traces: loaded once per file, kept for the process's life --------------------- */

#define MAX_TRACES 16

static struct hkb_trace traces[MAX_TRACES];
static int nr_traces;

static void *trace_mem_alloc(void *ctx, size_t n) { return malloc(n); }
static void trace_mem_free(void *ctx, void *p) { free(p); }
const struct hk_trace_mem hkbench_trace_mem = { trace_mem_alloc, trace_mem_free, NULL };

/* Read a whole file into memory; NULL with *err set. */
uint8_t *hkbench_slurp(const char *path, size_t *len, const char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		*err = "cannot open the trace file";
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	uint8_t *d = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (d && got < (size_t)st.st_size) {
		ssize_t n = read(fd, d + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!d || got != (size_t)st.st_size) {
		free(d);
		*err = "cannot read the trace file";
		return NULL;
	}
	*len = got;
	return d;
}

static int host_trace_open(const char *name, const char **err)
{
	for (int i = 0; i < nr_traces; i++)
		if (!strcmp(traces[i].name, name))
			return i;
	if (nr_traces == MAX_TRACES) {
		*err = "too many traces in one run";
		return -1;
	}
	size_t len;
	uint8_t *d = hkbench_slurp(name, &len, err);
	if (!d)
		return -1;
	struct hkb_trace *t = &traces[nr_traces];
	int rc = hk_trace_load(d, len, &hkbench_trace_mem, &t->t, err);
	free(d);
	if (rc)
		return -1;
	t->name = strdup(name);
	return nr_traces++;
}

static const struct hkb_trace *host_trace_get(int index)
{
	return index >= 0 && index < nr_traces ? &traces[index] : NULL;
}

const struct hkb_env hkbench_env = {
	.now_ns = host_now_ns,
	.spawn = host_spawn,
	.join = host_join,
	.yield = host_yield,
	.sleep_ms = host_sleep_ms,
	.mem_held_kb = host_mem_held_kb,
	.trace_open = host_trace_open,
	.trace_get = host_trace_get,
};

long hkbench_peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* --- The system allocator ------------------------------------------------------
 * Without LD_PRELOAD, "system" is the C library's own malloc, looked up in
 * libc.so.6 itself: hkbench links libhkalloc, which may link a malloc
 * library that would otherwise interpose. In a preloaded child, "system" is
 * whatever malloc resolves to, which hkbench_preload_verify checks. */

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	size_t (*usable_size)(void *);
} sys;

static void *sys_malloc(void *c, size_t n) { return sys.malloc(n); }
static void sys_free(void *c, void *p) { sys.free(p); }
static void *sys_realloc(void *c, void *p, size_t n) { return sys.realloc(p, n); }
static void *sys_memalign(void *c, size_t al, size_t n)
{
	void *p = NULL;
	return sys.posix_memalign(&p, al, n) ? NULL : p;
}
static size_t sys_usable(void *c, void *p) { return sys.usable_size(p); }

/* Bind sys to libc's functions (or the default ones when preloaded). 0 or -1. */
static int sys_bind(bool from_libc)
{
	void *h = RTLD_DEFAULT;
	if (from_libc && !(h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD))) {
		fprintf(stderr, "hkbench: cannot find libc.so.6: %s\n", dlerror());
		return -1;
	}
	sys.malloc = (void *(*)(size_t))dlsym(h, "malloc");
	sys.free = (void (*)(void *))dlsym(h, "free");
	sys.realloc = (void *(*)(void *, size_t))dlsym(h, "realloc");
	sys.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(h, "posix_memalign");
	sys.usable_size = (size_t (*)(void *))dlsym(h, "malloc_usable_size");
	if (!sys.malloc || !sys.free || !sys.realloc || !sys.posix_memalign || !sys.usable_size) {
		fprintf(stderr, "hkbench: the malloc family is incomplete in %s\n",
			from_libc ? "libc.so.6" : "the process");
		return -1;
	}
	return 0;
}

/* The shared object that defines the function at f, or "?". */
const char *hkbench_defining_object(void *f)
{
	Dl_info info;
	return dladdr(f, &info) && info.dli_fname ? info.dli_fname : "?";
}

/* --- The broken allocator (a test double) ----------------------------------------
 * libc's malloc with a header linking live blocks; every CORRUPT_EVERY-th
 * malloc writes into the first word of the newest live block the calling
 * thread allocated before (which the workload has stamped by then), as an
 * allocator that puts a free-list link into a block still in use would. */

#define CORRUPT_EVERY 7

struct broken_hdr {
	struct broken_hdr *prev, *next;   /* live blocks, newest first */
	size_t size;                      /* bytes asked for */
	pthread_t owner;                  /* the thread that allocated it */
};

static pthread_mutex_t broken_lock = PTHREAD_MUTEX_INITIALIZER;
static struct broken_hdr *broken_live;
static unsigned long broken_calls;
_Static_assert(sizeof(struct broken_hdr) % 16 == 0, "blocks stay 16-byte aligned");

static void *broken_malloc(void *c, size_t n)
{
	struct broken_hdr *h = malloc(sizeof *h + n);
	if (!h)
		return NULL;
	h->size = n;
	h->owner = pthread_self();
	pthread_mutex_lock(&broken_lock);
	if (++broken_calls % CORRUPT_EVERY == 0) {
		struct broken_hdr *v = broken_live;
		while (v && !pthread_equal(v->owner, h->owner))
			v = v->next;
		if (v)
			memset(v + 1, 0x5a, v->size < 8 ? v->size : 8);
	}
	h->prev = NULL;
	h->next = broken_live;
	if (broken_live)
		broken_live->prev = h;
	broken_live = h;
	pthread_mutex_unlock(&broken_lock);
	return h + 1;
}

static void broken_free(void *c, void *p)
{
	if (!p)
		return;
	struct broken_hdr *h = (struct broken_hdr *)p - 1;
	pthread_mutex_lock(&broken_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		broken_live = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&broken_lock);
	free(h);
}

static size_t broken_usable(void *c, void *p) { return ((struct broken_hdr *)p - 1)->size; }

static void *broken_realloc(void *c, void *p, size_t n)
{
	void *q = broken_malloc(c, n);
	if (q && p) {
		size_t old = broken_usable(c, p);
		memcpy(q, p, old < n ? old : n);
		broken_free(c, p);
	}
	return q;
}

static void *broken_memalign(void *c, size_t al, size_t n)
{
	return al <= 16 ? broken_malloc(c, n) : NULL;
}

/* --- Choosing an allocator ---------------------------------------------------------- */

struct preload_lib {
	const char *name;
	const char *path;    /* absolute, or a file name in hkbench's own directory */
	bool in_default;     /* part of a sweep's default allocators */
};

static const struct preload_lib preload_libs[] = {
	{ "mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", true },
	{ "jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", true },
	{ "tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", true },
	{ "heapkit", "libheapkit.so", true },
	{ "heapkit-checked", "libheapkit-checked.so", false },
};
#define NR_PRELOAD (sizeof preload_libs / sizeof preload_libs[0])

/* out = dir "/" file (just dir when file is ""), cut to fit len. */
static void path_join(char *out, size_t len, const char *dir, const char *file)
{
	char tmp[PATH_MAX];
	size_t dl = strlen(dir), fl = strlen(file);
	if (dl + fl + 2 > sizeof tmp || dl + fl + 2 > len) {
		out[0] = 0;
		return;
	}
	memcpy(tmp, dir, dl);
	if (fl)
		tmp[dl++] = '/';
	memcpy(tmp + dl, file, fl + 1);
	memcpy(out, tmp, dl + fl + 1);
}

/* Where a library named without a directory is: next to hkbench (installed: in PREFIX/LIBDIR). */
static void lib_path(const char *file, char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	char *slash = strrchr(exe, '/');
	if (n <= 0 || !slash)
		snprintf(exe, sizeof exe, ".");
	else
		*slash = 0;
	path_join(out, len, exe, file);
#ifdef HKB_INSTALL_LIBDIR
	/* Installed: hkbench in PREFIX/bin, the libraries in PREFIX/LIBDIR. */
	char alt[PATH_MAX];
	path_join(alt, sizeof alt, exe, "../" HKB_INSTALL_LIBDIR);
	path_join(alt, sizeof alt, alt, file);
	if (access(out, R_OK) && !access(alt, R_OK))
		path_join(out, len, alt, "");
#endif
}

const char *hkbench_report_py(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	char *slash = strrchr(exe, '/');
	if (slash) {
		*slash = 0;
		/* Installed next to hkbench (PREFIX/share/heapkit), else the source tree's. */
		if (snprintf(path, sizeof path, "%s/../share/heapkit/report.py", exe) < (int)sizeof path &&
		    !access(path, R_OK))
			return path;
	}
	return HKB_REPORT_PY;
}

/* The drop-in: --heapkit-lib, else $HKBENCH_HEAPKIT_LIB, else next to hkbench. */
static void heapkit_lib_path(char *out, size_t len)
{
	const char *env = getenv("HKBENCH_HEAPKIT_LIB");
	if (hkbench_opts.heapkit_lib)
		snprintf(out, len, "%s", hkbench_opts.heapkit_lib);
	else if (env && *env)
		snprintf(out, len, "%s", env);
	else
		lib_path("libheapkit.so", out, len);
}

bool hkbench_choose(const char *name, struct hkbench_choice *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->available = true;
	c->in_default = true;
	if (!strcmp(name, "system")) {
		c->kind = HKBENCH_SYSTEM;
		return true;
	}
	if (!strcmp(name, "broken")) {
		c->kind = HKBENCH_BROKEN;
		return true;
	}
	if (!strcmp(name, "heapkit-dropin"))
		name = "heapkit";   /* the sweep's name for the drop-in, as the issue spells it */
	for (size_t i = 0; i < NR_PRELOAD; i++) {
		if (strcmp(name, preload_libs[i].name))
			continue;
		c->kind = HKBENCH_PRELOAD;
		c->in_default = preload_libs[i].in_default;
		if (!strcmp(name, "heapkit"))
			heapkit_lib_path(c->lib, sizeof c->lib);
		else if (preload_libs[i].path[0] == '/')
			snprintf(c->lib, sizeof c->lib, "%s", preload_libs[i].path);
		else
			lib_path(preload_libs[i].path, c->lib, sizeof c->lib);
#if defined(HK_ASAN) || defined(HK_TSAN)
		c->available = false;
		c->why = "a sanitizer build cannot preload another malloc";
#else
		if (access(c->lib, R_OK)) {
			c->available = false;
			c->why = "library not found";
		}
#endif
		return true;
	}
	/* "hk:NAME" always means the backend (needed when NAME is also a library). */
	const struct hk_backend *b = hk_backend_find(strncmp(name, "hk:", 3) ? name : name + 3);
	if (b) {
		c->kind = HKBENCH_BACKEND;
		c->backend = b;
		return true;
	}
	fprintf(stderr, "hkbench: unknown allocator '%s'\n  allocators: system broken heapkit-dropin", name);
	for (size_t i = 0; i < NR_PRELOAD; i++)
		fprintf(stderr, " %s", preload_libs[i].name);
	for (size_t i = 0; i < hk_backend_count(); i++)
		fprintf(stderr, " %s", hk_backend_at(i)->name);
	fputc('\n', stderr);
	return false;
}

size_t hkbench_alloc_names(const char **names, size_t max)
{
	size_t n = 0;
	if (n < max)
		names[n++] = "system";
	for (size_t i = 0; i < NR_PRELOAD && n < max; i++)
		names[n++] = preload_libs[i].name;
	static char prefixed[16][40];
	for (size_t i = 0; i < hk_backend_count() && n < max; i++) {
		const char *bn = hk_backend_at(i)->name;
		bool clash = !strcmp(bn, "system") || !strcmp(bn, "broken");
		for (size_t k = 0; k < NR_PRELOAD; k++)
			clash |= !strcmp(bn, preload_libs[k].name);
		if (clash && i < 16) {
			snprintf(prefixed[i], sizeof prefixed[i], "hk:%.30s", bn);
			bn = prefixed[i];
		}
		names[n++] = bn;
	}
	return n;
}

/* The one open instance (hkbench runs one allocator at a time). */
static struct {
	hk_alloc_t *a;
	void *base;
	size_t len;
} instance;

int hkbench_open(const struct hkbench_choice *c, struct hkb_alloc *out)
{
	switch (c->kind) {
	case HKBENCH_SYSTEM: {
		const char *label = hkbench_preload_label();
#if defined(HK_ASAN) || defined(HK_TSAN)
		bool from_libc = false;   /* the sanitizer's malloc is the system's here */
#else
		bool from_libc = label == NULL;
#endif
		if (sys_bind(from_libc))
			return -1;
		*out = (struct hkb_alloc){ label ? label : "system", NULL, HKB_CAN_FREE | HKB_THREAD_SAFE,
					   sys_malloc, sys_free, sys_realloc, sys_memalign, sys_usable, NULL };
		return 0;
	}
	case HKBENCH_BROKEN:
		*out = (struct hkb_alloc){ "broken", NULL, HKB_CAN_FREE | HKB_THREAD_SAFE,
					   broken_malloc, broken_free, broken_realloc, broken_memalign,
					   broken_usable, NULL };
		return 0;
	case HKBENCH_BACKEND: {
		size_t len = hkbench_opts.heap_mb << 20;
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED) {
			fprintf(stderr, "hkbench: cannot map a %zu MiB region\n", hkbench_opts.heap_mb);
			return -1;
		}
		hk_alloc_t *a = hk_backend_create(c->backend, base, len);
		if (!a) {
			fprintf(stderr, "hkbench: %s refused a %zu MiB region (%s)\n", c->name, hkbench_opts.heap_mb,
				hk_last_error());
			munmap(base, len);
			return -1;
		}
		instance.a = a;
		instance.base = base;
		instance.len = len;
		hkb_alloc_from_hk(out, a);
		return 0;
	}
	case HKBENCH_PRELOAD:
		break;
	}
	fprintf(stderr, "hkbench: %s runs in a child with LD_PRELOAD, not in-process\n", c->name);
	return -1;
}

void hkbench_close(struct hkb_alloc *a)
{
	if (instance.a && a->ctx == instance.a) {
		hk_destroy(instance.a);
		munmap(instance.base, instance.len);
		instance.a = NULL;
	}
}

/* --- Preloaded children --------------------------------------------------------------- */

const char *hkbench_preload_label(void)
{
	const char *l = getenv("HKBENCH_PRELOADED");
	return l && *l ? l : NULL;
}

int hkbench_preload_verify(const char *lib)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!lib || !realpath(hkbench_defining_object(dlsym(RTLD_DEFAULT, "malloc")), a) || !realpath(lib, b))
		return -1;
	return strcmp(a, b) ? -1 : 0;
}

/* --- Child runs ------------------------------------------------------------------------- */

int hkbench_child(char *const args[], struct hkb_result *rows, int max_rows, int *nrows,
		  long *peak_kb, double *cpu_s, double timeout_s)
{
	int fds[2];
	*nrows = 0;
	*peak_kb = -1;
	*cpu_s = __builtin_nan("");
	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		int n = 0;
		while (args[n])
			n++;
		char **argv = calloc((size_t)n + 4, sizeof *argv);
		argv[0] = "hkbench";
		argv[1] = "run";
		for (int i = 0; i < n; i++)
			argv[i + 2] = args[i];
		argv[n + 2] = "--progress-rows";
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fds[1]);
	size_t cap = 1 << 16, used = 0;
	char *out = malloc(cap);
	double deadline = (double)host_now_ns() * 1e-9 + timeout_s;
	bool killed = false;
	for (;;) {
		struct pollfd pf = { fds[0], POLLIN, 0 };
		int left_ms = (int)((deadline - (double)host_now_ns() * 1e-9) * 1000);
		if (left_ms <= 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (poll(&pf, 1, left_ms) <= 0)
			continue;
		if (used + 4096 > cap)
			out = realloc(out, cap *= 2);
		ssize_t n = read(fds[0], out + used, cap - used - 1);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fds[0]);
	out[used] = 0;
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	*peak_kb = ru.ru_maxrss;
	*cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
		 ru.ru_stime.tv_usec * 1e-6;
	/* A "started" row is replaced by the row that ends it; one left over
	 * means the run never ended: it crashed or hung. */
	for (char *line = strtok(out, "\n"); line && *nrows < max_rows; line = strtok(NULL, "\n")) {
		if (hkb_result_parse(line, &rows[*nrows]))
			continue;
		if (*nrows > 0 && !strcmp(rows[*nrows - 1].status, "started"))
			rows[*nrows - 1] = rows[*nrows];
		else
			(*nrows)++;
	}
	if (*nrows > 0 && !strcmp(rows[*nrows - 1].status, "started")) {
		struct hkb_result *r = &rows[*nrows - 1];
		snprintf(r->status, sizeof r->status, "%s", killed ? "TIMEOUT" : "FAIL");
		r->seconds = r->throughput = __builtin_nan("");
	}
	free(out);
	if (killed) {
		fprintf(stderr, "hkbench: child timed out after %.0f s\n", timeout_s);
		return 124;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int hkbench_split(char *s, char **out, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	return n;
}

double hkbench_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec * 1e-6;
}

/* --- The run's context ------------------------------------------------------------------ */

/* The first line a command prints, without its newline, into out ("" if none). */
static void first_line(const char *cmd, char *out, size_t len)
{
	out[0] = 0;
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(out, (int)len, p))
		out[strcspn(out, "\n")] = 0;
	else
		out[0] = 0;
	pclose(p);
}

/* A library's version from the name of the file its soname points to ("2.0"). */
static void lib_version(const char *path, char *out, size_t len)
{
	char real[PATH_MAX];
	out[0] = 0;
	if (!realpath(path, real))
		return;
	const char *so = strstr(real, ".so.");
	snprintf(out, len, "%s", so ? so + 4 : "");
}

void hkbench_context(struct hkb_context *c)
{
	hkb_context_init(c);
	snprintf(c->tool_version, sizeof c->tool_version, "%s", hk_version());
#ifdef HKB_SOURCE_DIR
	first_line("git -C '" HKB_SOURCE_DIR "' describe --always --dirty=+dirty 2>/dev/null", c->commit,
		   sizeof c->commit);
#endif
#ifdef HKB_BUILD_TYPE
	snprintf(c->build_type, sizeof c->build_type, "%s", HKB_BUILD_TYPE);
#endif
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(c->date, sizeof c->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct utsname u;
	if (!uname(&u)) {
		snprintf(c->host, sizeof c->host, "%.63s", u.nodename);
		snprintf(c->kernel, sizeof c->kernel, "%.20s %.64s %.20s", u.sysname, u.release, u.machine);
	}
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(c->cpu_model, sizeof c->cpu_model, "%s", colon + 2);
			c->cpu_model[strcspn(c->cpu_model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	c->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	double la[1];
	if (getloadavg(la, 1) == 1)
		c->loadavg1 = la[0];
	hkb_context_lib(c, "glibc", gnu_get_libc_version());
	for (size_t i = 0; i < NR_PRELOAD; i++) {
		char v[64];
		if (preload_libs[i].path[0] != '/')
			continue;
		/* The Debian package's version when there is one, else the file's. */
		char cmd[PATH_MAX + 200];
		snprintf(cmd, sizeof cmd, "dpkg-query -S '%s' 2>/dev/null | cut -d: -f1 | head -n1 | "
			 "xargs -r dpkg-query -W -f='${Version}' 2>/dev/null", preload_libs[i].path);
		first_line(cmd, v, sizeof v);
		if (!v[0])
			lib_version(preload_libs[i].path, v, sizeof v);
		hkb_context_lib(c, preload_libs[i].name, v);
	}
}
