// SPDX-License-Identifier: MIT
/*
 * heapkit's test kit, header only (each test program has its own counters):
 *
 *   CHECK, CHECKF          count a check, print a failure, keep going
 *   CHECK_KNOWN            a check known to fail for a stated reason: XFAIL,
 *                          and XPASS (a failure) once it starts passing
 *   SKIP_UNLESS, kit_skip  a missing capability is reported as SKIP, never as
 *                          a PASS with nothing checked
 *   kit_main, kit_test_*   one line per test (PASS / FAIL / SKIP), a summary,
 *                          the exit status (KIT_EXIT_SKIP when all skipped)
 *   kit_child_run,         run a function (or a program) in a child with its
 *   CHECK_DIES             stdout and stderr caught; assert it died saying what
 *                          it should and naming the address it announced
 *   kit_stamp*             fill a block with a seeded pattern, verify it later
 *   rnd_next               xorshift64*, the tests' seeded generator
 *   region_get, region_put fresh zeroed memory for a region, and back
 *   kit_rss_bytes          the process's resident set (/proc/self/statm)
 *   kit_heap_ok            the instance's heap check as a CHECK (needs <heapkit.h>)
 */
#ifndef HK_TEST_KIT_H
#define HK_TEST_KIT_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* The exit status of a test program that checked nothing because it skipped (ctest SKIP_RETURN_CODE). */
#define KIT_EXIT_SKIP 77

/* --- Counting checks ------------------------------------------------------- */

static int check_failures;   /* failed checks that count */
static int check_count;      /* checks run */
static int check_xfails;     /* known failures that happened (not counted) */
static int check_skips;      /* kit_skip calls */
/* What is being tested, printed with each failure (e.g. the backend name). */
static const char *check_context = "";

static inline void kit_fail_prefix(const char *kind, const char *file, int line, const char *cond)
{
	fprintf(stderr, "%s [%s] %s:%d: %s", kind, check_context, file, line, cond);
}

#define CHECK(cond)                                                          \
	do {                                                                 \
		check_count++;                                               \
		if (!(cond)) {                                               \
			check_failures++;                                    \
			kit_fail_prefix("FAIL", __FILE__, __LINE__, #cond);  \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

/* CHECK with a printf-style explanation. */
#define CHECKF(cond, ...)                                                    \
	do {                                                                 \
		check_count++;                                               \
		if (!(cond)) {                                               \
			check_failures++;                                    \
			kit_fail_prefix("FAIL", __FILE__, __LINE__, #cond);  \
			fputs(": ", stderr);                                 \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

static inline void kit_check_known(bool ok, const char *why, const char *file, int line, const char *cond)
{
	check_count++;
	if (!why) {
		if (!ok) {
			check_failures++;
			kit_fail_prefix("FAIL", file, line, cond);
			fputc('\n', stderr);
		}
	} else if (!ok) {
		check_xfails++;
		kit_fail_prefix("XFAIL", file, line, cond);
		fprintf(stderr, " (known: %s)\n", why);
	} else {
		check_failures++;
		kit_fail_prefix("XPASS", file, line, cond);
		fprintf(stderr, ": passes but is listed as a known failure (%s): update the list\n", why);
	}
}

/*
 * A check that is known to fail when why != NULL (why says the reason): the
 * failure is reported as XFAIL and not counted, a pass is reported as XPASS
 * and counted, so the list of known failures stays true. With why == NULL it
 * is a CHECK. Each check carries its own expectation: a new failure next to a
 * known one is still a failure.
 */
#define CHECK_KNOWN(cond, why) kit_check_known(!!(cond), (why), __FILE__, __LINE__, #cond)

/* --- Skips ----------------------------------------------------------------- */

static const char *kit_skip_why;   /* the last skip's reason in the current test */

/* Say that (part of) the current test does not run, and why. */
static inline void kit_skip(const char *why)
{
	check_skips++;
	kit_skip_why = why;
	printf("SKIP [%s] %s\n", check_context, why);
}

/* Leave the current (void) test function with a SKIP unless cond holds. */
#define SKIP_UNLESS(cond, why)          \
	do {                            \
		if (!(cond)) {          \
			kit_skip(why);  \
			return;         \
		}                       \
	} while (0)

/* --- Tests and the summary ------------------------------------------------- */

struct kit_test {
	const char *name;
	void (*run)(void);
};

static struct {
	const char *label;
	int count, failures, xfails, skips;
} kit_current;

/* Start a test: its line is printed by kit_test_end. */
static inline void kit_test_begin(const char *label)
{
	kit_current.label = label;
	kit_current.count = check_count;
	kit_current.failures = check_failures;
	kit_current.xfails = check_xfails;
	kit_current.skips = check_skips;
	kit_skip_why = NULL;
}

/*
 * One line for the test begun last: FAIL with the count of failed checks,
 * SKIP when it skipped without checking anything, else PASS; known failures
 * and partial skips are named. Returns the failed checks.
 */
static inline int kit_test_end(void)
{
	int checks = check_count - kit_current.count, failed = check_failures - kit_current.failures;
	int xfails = check_xfails - kit_current.xfails, skips = check_skips - kit_current.skips;
	const char *verdict = failed ? "FAIL" : skips && !checks ? "SKIP" : "PASS";
	printf("%s: %s (%d checks", kit_current.label, verdict, checks);
	if (failed)
		printf(", %d failed", failed);
	if (xfails)
		printf(", %d known failures", xfails);
	if (skips)
		printf(", skipped: %s", kit_skip_why);
	printf(")\n");
	return failed;
}

/* The closing line; the exit status for main: 1 on failures, KIT_EXIT_SKIP if it only skipped. */
static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed", name, check_count, check_failures);
	if (check_xfails)
		printf(", %d known failures", check_xfails);
	if (check_skips)
		printf(", %d skipped", check_skips);
	printf("\n");
	if (check_failures)
		return 1;
	return check_skips && !check_count ? KIT_EXIT_SKIP : 0;
}

/*
 * The usual main: `PROG` runs every test, `PROG NAME` only that one (exit 2
 * for a name that is not there). check_context is the test's name.
 */
static inline int kit_main(const char *suite, const struct kit_test *tests, size_t n, int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	bool ran = false;
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name))
			continue;
		char label[128];
		snprintf(label, sizeof label, "%s %s", suite, tests[i].name);
		check_context = tests[i].name;
		kit_test_begin(label);
		tests[i].run();
		kit_test_end();
		ran = true;
	}
	if (!ran) {
		fprintf(stderr, "%s: no test called '%s'\n", suite, argv[1]);
		return 2;
	}
	return check_summary(suite);
}

/* --- A child that must die --------------------------------------------------- */

struct kit_child {
	int status;        /* its wait status */
	char out[256];     /* the first line of its stdout: the address it announced, or "" */
	char err[16384];   /* its stderr (truncated) */
};

/* In a child: tell the parent which address the report must name (stdout's first line). */
static inline void kit_announce(const void *p)
{
	printf("%p\n", p);
	fflush(stdout);
}

/*
 * Runs fn(arg) in a child (or execs argv when argv != NULL) with stdout and
 * stderr caught in c, and waits for it. A child that returns from fn exits 0.
 */
static inline void kit_child_run(struct kit_child *c, void (*fn)(void *), void *arg, char *const argv[])
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
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	close(out[1]);
	close(err[1]);
	/* Both pipes at once, so a child filling one never waits on the other. */
	struct pollfd fds[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	char *buf[2] = { c->out, c->err };
	size_t cap[2] = { sizeof c->out, sizeof c->err }, len[2] = { 0, 0 };
	for (int open = 2; open;) {
		if (poll(fds, 2, -1) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			char scratch[512];
			size_t room = cap[i] - 1 - len[i];
			ssize_t r = room ? read(fds[i].fd, buf[i] + len[i], room) : read(fds[i].fd, scratch, sizeof scratch);
			if (r <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open--;
			} else if (room) {
				len[i] += (size_t)r;
			}
		}
	}
	c->out[len[0]] = 0;
	c->err[len[1]] = 0;
	char *nl = strpbrk(c->out, "\r\n");
	if (nl)
		*nl = 0;
	waitpid(pid, &c->status, 0);
}

static inline bool kit_contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

/* It was killed by SIGABRT. */
static inline bool kit_child_aborted(const struct kit_child *c)
{
	return WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGABRT;
}

/* It was killed by any signal, or exited with a non-zero status. */
static inline bool kit_child_failed(const struct kit_child *c)
{
	return WIFSIGNALED(c->status) || (WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0);
}

/* Its stderr names the address it announced (true when it announced none). */
static inline bool kit_child_named(const struct kit_child *c)
{
	return !c->out[0] || kit_contains_nocase(c->err, c->out);
}

/* It aborted, its stderr contains expect, and it names the address it announced. */
static inline bool kit_child_died_saying(const struct kit_child *c, const char *expect)
{
	return kit_child_aborted(c) && kit_contains_nocase(c->err, expect) && kit_child_named(c);
}

/* fn(arg) in a child must abort saying expect and naming the address it announced. */
#define CHECK_DIES(fn, arg, expect)                                                                          \
	do {                                                                                                 \
		struct kit_child kit_c_;                                                                     \
		kit_child_run(&kit_c_, (fn), (arg), NULL);                                                   \
		CHECKF(kit_child_died_saying(&kit_c_, (expect)),                                             \
		       "%s: expected an abort saying '%s' at '%s'; status 0x%x, stderr:\n%s", #fn, (expect), \
		       kit_c_.out, kit_c_.status, kit_c_.err);                                               \
	} while (0)

/* --- Stamps: a block's contents, checked before it is freed ------------------ */

static inline uint8_t kit_stamp_byte(uint32_t seed, size_t i)
{
	return (uint8_t)(seed * 2654435761u + i * 31u + (i >> 8));
}

static inline void kit_stamp(void *p, size_t n, uint32_t seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = kit_stamp_byte(seed, i);
}

/* Index of the first byte that is not the stamp's, or n. */
static inline size_t kit_stamp_at(const void *p, size_t n, uint32_t seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != kit_stamp_byte(seed, i))
			return i;
	return n;
}

static inline bool kit_stamp_ok(const void *p, size_t n, uint32_t seed) { return kit_stamp_at(p, n, seed) == n; }

static inline bool kit_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* --- Memory and randomness --------------------------------------------------- */

/* Fresh zeroed memory from the OS for a test's region; only touched pages cost anything. */
static inline void *region_get(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Give region_get's memory back. */
static inline void region_put(void *p, size_t len) { munmap(p, len); }

/* The process's resident set now, in bytes, from /proc/self/statm (0 when it cannot be read). */
static inline size_t kit_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* xorshift64*: the seeded generator of the tests' random sequences; *s must not be 0. */
static inline uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* The instance's own heap check, as a CHECK naming the moment. */
#define kit_heap_ok(a, when)                                                                   \
	do {                                                                                   \
		struct hk_check_report kit_r_ = { 0 };                                         \
		int kit_rc_ = hk_check((a), &kit_r_);                                          \
		CHECKF(kit_rc_ == 0, "heap check %s: %s at %p", (when), kit_r_.what, kit_r_.addr); \
	} while (0)

#endif /* HK_TEST_KIT_H */
