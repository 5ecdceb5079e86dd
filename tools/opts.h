// SPDX-License-Identifier: MIT
/*
 * The command-line convention of heapkit's tools (hkbench and each of its
 * subcommands, hkstress, hklatency): a command's options are a table, and
 * the same table parses argv and prints the usage.
 *
 *   --help, -h        the usage on stdout, exit status 0
 *   --version         "TOOL heapkit X.Y.Z" on stdout, exit status 0
 *   --allocs LIST     the allocator option, spelt so everywhere
 *   an unknown option is named, with the nearest known one:
 *     "hkbench sweep: unknown option '--alocs'; did you mean '--allocs'?"
 *
 * Header-only (static functions), so a tool built elsewhere (the Unikraft
 * image builds tools/hkstress.c) needs no extra source file.
 */
#ifndef HK_TOOLS_OPTS_H
#define HK_TOOLS_OPTS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <heapkit.h>

enum hk_opt_type {
	HK_OPT_FLAG,    /* bool: set to true */
	HK_OPT_CLEAR,   /* bool: set to false (a --no-X option) */
	HK_OPT_STR,     /* const char *: the argument */
	HK_OPT_INT,     /* int: a decimal (or 0x) number */
	HK_OPT_ULL,     /* unsigned long long */
	HK_OPT_DOUBLE,  /* double */
	HK_OPT_MULTI,   /* const char *[max]: repeatable, count in *count */
	HK_OPT_END,
};

struct hk_opt {
	const char *name;     /* "--allocs" */
	enum hk_opt_type type;
	void *dest;
	const char *arg;      /* the argument's placeholder in the usage ("LIST"); NULL for flags */
	const char *help;     /* one line; NULL hides the option from the usage */
	const char *alias;    /* an older spelling still accepted, or NULL */
	int *count, max;      /* HK_OPT_MULTI */
	bool *seen;           /* set when the option was given, or NULL */
};

/* Table entries (designated, so the fields left out are zero). */
#define HK_OPT(n, t, d, a, h) { .name = (n), .type = (t), .dest = (d), .arg = (a), .help = (h) }
/* An option with an older spelling still accepted. */
#define HK_OPT_ALIAS(n, old, t, d, a, h) \
	{ .name = (n), .alias = (old), .type = (t), .dest = (d), .arg = (a), .help = (h) }
/* A repeatable option collecting at most mx arguments into d[], the count in *cnt. */
#define HK_OPT_LIST(n, d, cnt, mx, a, h) \
	{ .name = (n), .type = HK_OPT_MULTI, .dest = (d), .count = (cnt), .max = (mx), .arg = (a), .help = (h) }
#define HK_OPT_LAST { .type = HK_OPT_END }

struct hk_cmd {
	const char *name;      /* "hkbench sweep": prefixes messages */
	const char *synopsis;  /* after the name in "usage: NAME ..." */
	const char *about;     /* a paragraph printed under the usage, or NULL */
	const struct hk_opt *opts;  /* ends with an HK_OPT_END entry */
	/* Arguments that are not options (workload names, key=value), or NULL: none allowed. */
	char **pos;
	int *npos, maxpos;
};

static inline void hk_cmd_usage(const struct hk_cmd *c, FILE *f)
{
	fprintf(f, "usage: %s %s\n", c->name, c->synopsis);
	for (const struct hk_opt *o = c->opts; o->type != HK_OPT_END; o++) {
		if (!o->help)
			continue;
		char left[64];
		snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s%s\n", left, o->help, o->type == HK_OPT_MULTI ? " (repeatable)" : "");
	}
	fprintf(f, "  %-26s %s\n  %-26s %s\n", "--help", "this text", "--version", "heapkit's version");
	if (c->about)
		fprintf(f, "%s", c->about);
}

/* Edit distance of a and b (short strings), for suggestions; swapping two neighbours is one edit. */
static inline int hk_opt_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	if (la > 40 || lb > 40)
		return 99;
	int d[41][41];
	for (int i = 0; i <= la; i++)
		d[i][0] = i;
	for (int j = 0; j <= lb; j++)
		d[0][j] = j;
	for (int i = 1; i <= la; i++)
		for (int j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[la][lb];
}

/* The option nearest to bad, or NULL when none is near. */
static inline const char *hk_opt_suggest(const struct hk_cmd *c, const char *bad)
{
	const char *best = NULL;
	int best_d = 3;   /* at most two edits away */
	size_t bl = strlen(bad);
	for (const struct hk_opt *o = c->opts; o->type != HK_OPT_END; o++) {
		if (!o->help)
			continue;
		int d = hk_opt_distance(bad, o->name);
		if (bl >= 4 && !strncmp(o->name, bad, bl))
			d = 1;   /* a prefix */
		if (d < best_d)
			best_d = d, best = o->name;
	}
	const char *std[] = { "--help", "--version" };
	for (int i = 0; i < 2; i++)
		if (hk_opt_distance(bad, std[i]) < best_d)
			best_d = hk_opt_distance(bad, std[i]), best = std[i];
	return best;
}

static inline int hk_opt_error(const struct hk_cmd *c, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", c->name);
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n(%s --help lists the options)\n", c->name);
	return 2;
}

/* Store the argument of o; 0 or 2 after a message. */
static inline int hk_opt_store(const struct hk_cmd *c, const struct hk_opt *o, const char *v)
{
	char *end = NULL;
	errno = 0;
	switch (o->type) {
	case HK_OPT_STR:
		*(const char **)o->dest = v;
		return 0;
	case HK_OPT_MULTI:
		if (*o->count >= o->max)
			return hk_opt_error(c, "%s given too often (at most %s)", o->name, "the table's limit");
		((const char **)o->dest)[(*o->count)++] = v;
		return 0;
	case HK_OPT_INT: {
		long x = strtol(v, &end, 0);
		if (!errno && end != v && !*end && x >= -2147483647L && x <= 2147483647L) {
			*(int *)o->dest = (int)x;
			return 0;
		}
		break;
	}
	case HK_OPT_ULL: {
		unsigned long long x = strtoull(v, &end, 0);
		if (!errno && end != v && !*end && v[0] != '-') {
			*(unsigned long long *)o->dest = x;
			return 0;
		}
		break;
	}
	case HK_OPT_DOUBLE: {
		double x = strtod(v, &end);
		if (!errno && end != v && !*end) {
			*(double *)o->dest = x;
			return 0;
		}
		break;
	}
	default:
		break;
	}
	return hk_opt_error(c, "bad value '%s' for %s", v, o->name);
}

/*
 * Parse argv[first..argc). Returns 0 to go on, 1 when --help or --version
 * was answered (exit 0), 2 after an error message (exit 2). "--name=value"
 * is accepted as "--name value".
 */
static inline int hk_cmd_parse(const struct hk_cmd *c, int argc, char **argv, int first)
{
	if (c->npos)
		*c->npos = 0;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			hk_cmd_usage(c, stdout);
			return 1;
		}
		if (!strcmp(a, "--version")) {
			printf("%s heapkit %s\n", c->name, hk_version());
			return 1;
		}
		if (a[0] != '-' || !a[1]) {
			if (!c->pos)
				return hk_opt_error(c, "unexpected argument '%s'%s", a, "");
			if (*c->npos >= c->maxpos)
				return hk_opt_error(c, "too many arguments at '%s'%s", a, "");
			c->pos[(*c->npos)++] = argv[i];
			continue;
		}
		char name[64];
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		snprintf(name, sizeof name, "%.*s", (int)(nl < 63 ? nl : 63), a);
		const struct hk_opt *o = c->opts;
		for (; o->type != HK_OPT_END; o++)
			if (!strcmp(name, o->name) || (o->alias && !strcmp(name, o->alias)))
				break;
		if (o->type == HK_OPT_END) {
			const char *near = hk_opt_suggest(c, name);
			if (near)
				return hk_opt_error(c, "unknown option '%s'; did you mean '%s'?", name, near);
			return hk_opt_error(c, "unknown option '%s'%s", name, "");
		}
		if (o->seen)
			*o->seen = true;
		if (o->type == HK_OPT_FLAG || o->type == HK_OPT_CLEAR) {
			if (eq)
				return hk_opt_error(c, "%s takes no value%s", o->name, "");
			*(bool *)o->dest = o->type == HK_OPT_FLAG;
			continue;
		}
		const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v)
			return hk_opt_error(c, "%s needs a value (%s)", o->name, o->arg ? o->arg : "?");
		int rc = hk_opt_store(c, o, v);
		if (rc)
			return rc;
	}
	return 0;
}

#endif /* HK_TOOLS_OPTS_H */
