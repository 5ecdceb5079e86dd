// SPDX-License-Identifier: MIT
/*
 * Misuse tests: each misuse runs in a child process; the parent asserts the
 * child died (abort, or a checker's failing exit) with the expected message,
 * and that the message names the address involved.
 *
 *   misuse checked            every misuse, on a checked instance over every
 *                             registered backend that can free
 *   misuse preload LIB        every misuse through plain malloc/free, in a
 *                             child run with LD_PRELOAD=LIB (the checked drop-in)
 *   misuse asan               (ASan builds) a use after free of an instance
 *                             block, over every backend that can free
 *   misuse valgrind VALGRIND  (builds with HK_VALGRIND=1) the same, run under
 *                             valgrind memcheck
 *   misuse table              which misuse each backend detects, as a plain
 *                             instance and checked: a markdown table (README)
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- The allocator a child misuses ------------------------------------------- */

/* The misuses below are deliberate: gcc sees some of them coming. */
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

static hk_alloc_t *heap;        /* NULL: plain malloc/free (the preloaded library) */

static void *m_malloc(size_t n) { return heap ? hk_malloc(heap, n) : malloc(n); }
static void m_free(void *p) { heap ? hk_free(heap, p) : free(p); }
static void *m_realloc(void *p, size_t n) { return heap ? hk_realloc(heap, p, n) : realloc(p, n); }

/* Tell the parent which address the report must name. */
static void announce(const void *p)
{
	printf("%p\n", p);
	fflush(stdout);
}

/* A region for an instance: len bytes, at least the backend's minimum. */
static void *region_map(const struct hk_backend *b, size_t *len)
{
	*len = b->min_region > ((size_t)4 << 20) ? b->min_region : (size_t)4 << 20;
	void *base = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return base;
}

/* --- The misuses ------------------------------------------------------------- */

struct misuse {
	const char *name;
	const char *expect;     /* a part of the message the report must contain */
	void (*run)(void);
};

static void double_free(void)
{
	char *p = m_malloc(100);
	announce(p);
	m_free(p);
	m_free(p);
}

static void double_free_later(void)
{
	char *p = m_malloc(100);
	announce(p);
	m_free(p);
	for (int i = 0; i < 40; i++)
		m_free(m_malloc(16 + (size_t)i * 8));
	m_free(p);
}

static void free_stack(void)
{
	char local[64];
	memset(local, 1, sizeof local);
	announce(&local[16]);
	m_free(&local[16]);
}

static void free_interior(void)
{
	char *p = m_malloc(256);
	announce(p + 32);
	m_free(p + 32);
}

static void free_far(void)
{
	char *p = (char *)(uintptr_t)0x100000000000ull;
	announce(p);
	m_free(p);
}

static void overflow(void)
{
	char *p = m_malloc(100);
	announce(p);
	p[100] = 'x';
	m_free(p);
}

static void realloc_freed(void)
{
	char *p = m_malloc(100);
	announce(p);
	m_free(p);
	p = m_realloc(p, 200);
	m_free(p);
}

/* Blocks a checked child instance holds back after their free (write-after-free outlives it four times). */
#define CHILD_QUARANTINE 256

/* Found when the block leaves the quarantine (instances) or at exit (the drop-in's default 4096 blocks). */
static void write_after_free(void)
{
	char *p = m_malloc(64);
	announce(p);
	m_free(p);
	p[8] = 'x';
	for (int i = 0; i < 4 * CHILD_QUARANTINE; i++)
		m_free(m_malloc(32));
}

/* hk_check finds the overflow without a free; it returns, so the child reports and aborts. */
static void overflow_check(void)
{
	char *p = m_malloc(40);
	announce(p);
	p[41] = 'x';
	struct hk_check_report r = { NULL, NULL };
	if (hk_check(heap, &r) == 0)
		exit(3);
	fprintf(stderr, "%s at %p\n", r.what, r.addr);
	abort();
}

static const struct misuse misuses[] = {
	{ "double-free", "double free", double_free },
	{ "double-free-later", "double free", double_free_later },
	{ "free-stack", "never returned", free_stack },
	{ "free-interior", "middle of a block", free_interior },
	{ "free-far", "never returned", free_far },
	{ "overflow", "write past the end", overflow },
	{ "realloc-freed", "realloc of a freed pointer", realloc_freed },
	{ "write-after-free", "after it was freed", write_after_free },
	{ "overflow-check", "write past the end", overflow_check },
};
#define NR_MISUSES (sizeof misuses / sizeof misuses[0])

/* --- Running a child and judging it ---------------------------------------------- */

/* Read all of fd into buf (NUL-terminated, truncated to cap). */
static void slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd, buf + n, cap - 1 - n)) > 0 && n + (size_t)r < cap - 1)
		n += (size_t)r;
	if (r > 0)
		n += (size_t)r;
	buf[n < cap ? n : cap - 1] = 0;
	while (read(fd, &(char){ 0 }, 1) > 0)
		;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

/*
 * Run fn in a child (or exec argv when argv != NULL), expecting it to fail
 * with a message containing expect and the address the child announced.
 * Returns 0 when it did.
 */
/*
 * Run fn in a child (or exec argv when argv != NULL) with its output caught:
 * obuf gets the address it announced (first line of stdout), ebuf its
 * stderr. Returns its wait status.
 */
static int run_child(void (*fn)(void), char *const argv[], char *obuf, size_t olen, char *ebuf, size_t elen)
{
	int out[2], err[2];
	if (pipe(out) || pipe(err)) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (argv) {
			execv(argv[0], argv);
			_exit(126);
		}
		fn();
		_exit(0);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], obuf, olen);
	slurp(err[0], ebuf, elen);
	close(out[0]);
	close(err[0]);
	int status;
	waitpid(pid, &status, 0);
	char *nl = strpbrk(obuf, "\r\n");
	if (nl)
		*nl = 0;
	return status;
}

static int expect_failure(const char *label, void (*fn)(void), char *const argv[], const char *expect,
			  bool need_abort)
{
	char obuf[256], ebuf[16384];
	int status = run_child(fn, argv, obuf, sizeof obuf, ebuf, sizeof ebuf);
	/* The announced address, without leading zeros after 0x (as the reports print it). */
	const char *addr = obuf;
	bool died = need_abort ? WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT
			       : (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
	bool ok = died && addr[0] && contains_nocase(ebuf, expect) && contains_nocase(ebuf, addr);
	printf("%-40s %s", label, ok ? "ok" : "FAILED");
	if (!ok) {
		printf(" (expected '%s' at %s; status 0x%x)\n--- its stderr:\n%s---\n", expect, addr[0] ? addr : "?",
		       status, ebuf);
	} else {
		printf("\n");
	}
	return ok ? 0 : 1;
}

/* --- Modes ------------------------------------------------------------- */

static const struct hk_backend *child_backend;
static const struct misuse *child_misuse;

/* In the child: a checked instance over child_backend, then the misuse. */
static void checked_child(void)
{
	size_t len;
	void *base = region_map(child_backend, &len);
	hk_alloc_t *inner = hk_create(child_backend->name, base, len);
	/* a quarantine of CHILD_QUARANTINE blocks: write-after-free's frees push its block out */
	heap = inner ? hk_checked_create(inner, CHILD_QUARANTINE) : NULL;
	if (!heap)
		_exit(4);
	child_misuse->run();
}

static int run_checked(void)
{
	int bad = 0, ran = 0;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		child_backend = hk_backend_at(i);
		if (!(child_backend->caps & HK_CAP_FREE))
			continue;
		for (size_t k = 0; k < NR_MISUSES; k++) {
			char label[128];
			child_misuse = &misuses[k];
			snprintf(label, sizeof label, "checked %s %s", child_backend->name, child_misuse->name);
			bad += expect_failure(label, checked_child, NULL, child_misuse->expect, true);
			ran++;
		}
	}
	printf("%d of %d misuses reported as expected\n", ran - bad, ran);
	return bad || !ran;
}

/* In the child: a plain instance over child_backend, then the misuse. */
static void plain_child(void)
{
	size_t len;
	void *base = region_map(child_backend, &len);
	heap = hk_create(child_backend->name, base, len);
	if (!heap)
		_exit(4);
	child_misuse->run();
}

/*
 * What became of a misuse in a child: "reported" (heapkit named it and the
 * address, then stopped), "crash" (died otherwise), "not detected".
 */
static const char *outcome(void (*fn)(void))
{
	char obuf[256], ebuf[16384];
	int status = run_child(fn, NULL, obuf, sizeof obuf, ebuf, sizeof ebuf);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return "not detected";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		return "not detected";   /* overflow-check: hk_check found nothing */
	bool named = obuf[0] && contains_nocase(ebuf, obuf);
	if (named && (contains_nocase(ebuf, "heapkit") || (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)))
		return "reported";
	return WIFSIGNALED(status) ? "crash" : "error exit";
}

static int run_table(void)
{
	printf("| misuse |");
	for (size_t i = 0; i < hk_backend_count(); i++)
		if (hk_backend_at(i)->caps & HK_CAP_FREE)
			printf(" %s | %s checked |", hk_backend_at(i)->name, hk_backend_at(i)->name);
	printf("\n|---|");
	for (size_t i = 0; i < hk_backend_count(); i++)
		if (hk_backend_at(i)->caps & HK_CAP_FREE)
			printf("---|---|");
	printf("\n");
	for (size_t k = 0; k < NR_MISUSES; k++) {
		child_misuse = &misuses[k];
		printf("| %s |", child_misuse->name);
		for (size_t i = 0; i < hk_backend_count(); i++) {
			child_backend = hk_backend_at(i);
			if (!(child_backend->caps & HK_CAP_FREE))
				continue;
			printf(" %s |", outcome(plain_child));
			printf(" %s |", outcome(checked_child));
		}
		printf("\n");
	}
	return 0;
}

/* LD_PRELOAD=lib: every misuse but hk_check's, through plain malloc/free. */
static int run_preload(const char *self, const char *lib)
{
	int bad = 0, ran = 0;
	for (size_t k = 0; k < NR_MISUSES; k++) {
		if (misuses[k].run == overflow_check)
			continue;
		char env[4096], label[128];
		snprintf(env, sizeof env, "LD_PRELOAD=%s", lib);
		putenv(env);
		char *argv[] = { (char *)self, "plain", (char *)misuses[k].name, NULL };
		snprintf(label, sizeof label, "preload %s", misuses[k].name);
		bad += expect_failure(label, NULL, argv, misuses[k].expect, true);
		unsetenv("LD_PRELOAD");
		ran++;
	}
	printf("%d of %d misuses reported as expected\n", ran - bad, ran);
	return bad != 0;
}

/* A use after free of an instance block: ASan or valgrind must name the address. */
static void uaf_child(void)
{
	size_t len;
	void *base = region_map(child_backend, &len);
	heap = hk_create(child_backend->name, base, len);
	if (!heap)
		_exit(4);
	volatile char *p = hk_malloc(heap, 64);
	p[0] = 1;
	announce((void *)(p + 8));
	hk_free(heap, (void *)p);
	char c = p[8];
	/* Keep the load. */
	printf("%d\n", c);
	exit(0);
}

static int run_uaf(const char *self, const char *valgrind)
{
	int bad = 0, ran = 0;
	for (size_t i = 0; i < hk_backend_count(); i++) {
		child_backend = hk_backend_at(i);
		if (!(child_backend->caps & HK_CAP_FREE))
			continue;
		char label[128];
		ran++;
		if (valgrind) {
			char *argv[] = { (char *)valgrind, "-q", "--error-exitcode=99", (char *)self, "uaf",
					 (char *)child_backend->name, NULL };
			snprintf(label, sizeof label, "valgrind use-after-free %s", child_backend->name);
			bad += expect_failure(label, NULL, argv, "Invalid read", false);
		} else {
			snprintf(label, sizeof label, "asan use-after-free %s", child_backend->name);
			bad += expect_failure(label, uaf_child, NULL, "AddressSanitizer", false);
		}
	}
	return bad || !ran;
}

static const struct misuse *misuse_find(const char *name)
{
	for (size_t k = 0; k < NR_MISUSES; k++)
		if (!strcmp(misuses[k].name, name))
			return &misuses[k];
	return NULL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "checked"))
		return run_checked();
	if (argc >= 3 && !strcmp(argv[1], "preload"))
		return run_preload(argv[0], argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "asan"))
		return run_uaf(argv[0], NULL);
	if (argc >= 2 && !strcmp(argv[1], "table"))
		return run_table();
	if (argc >= 3 && !strcmp(argv[1], "valgrind"))
		return run_uaf(argv[0], argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "plain") && misuse_find(argv[2])) {
		misuse_find(argv[2])->run();
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "uaf") && hk_backend_find(argv[2])) {
		child_backend = hk_backend_find(argv[2]);
		uaf_child();
	}
	fprintf(stderr, "usage: misuse checked | preload LIB | asan | valgrind VALGRIND | table\n");
	return 2;
}
