// SPDX-License-Identifier: MIT
/* One benchmark result: parse, print, statistics, the run's context (result.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "result.h"

#define MISSING __builtin_nan("")

/* --- Formatting into a caller buffer ---------------------------------------- */

/* Appends that never overrun; at counts what would have been written. */
struct out {
	char *buf;
	size_t len, at;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->at < o->len ? o->len - o->at : 0;
	int n = vsnprintf(room ? o->buf + o->at : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->at += (size_t)n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

/* A number, or null when missing. */
static void put_num(struct out *o, const char *fmt, double x)
{
	if (hkb_present(x))
		put(o, fmt, x);
	else
		put(o, "null");
}

static void put_kb(struct out *o, long kb)
{
	if (kb >= 0)
		put(o, "%ld", kb);
	else
		put(o, "null");
}

size_t hkb_json_str(const char *s, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	put_str(&o, s);
	return o.at;
}

/* --- Rows ------------------------------------------------------------------------ */

void hkb_result_init(struct hkb_result *r)
{
	*r = (struct hkb_result){ .seconds = MISSING, .throughput = MISSING, .peak_rss_kb = -1,
				  .held_kb = -1, .live_kb = -1, .cpu_seconds = MISSING };
	snprintf(r->status, sizeof r->status, "none");
}

/* Copy field [s, e) into dst (truncated to fit). */
static void field_copy(char *dst, size_t cap, const char *s, const char *e)
{
	size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i];
	dst[n] = 0;
}

/* A number field: empty is missing; anything unparsable fails. */
static int field_num(const char *s, const char *e, double *out)
{
	if (s == e) {
		*out = MISSING;
		return 0;
	}
	char *end;
	*out = strtod(s, &end);
	return end == e ? 0 : -1;
}

static int field_long(const char *s, const char *e, long *out)
{
	char *end;
	*out = s == e ? -1 : strtol(s, &end, 10);
	return s == e || end == e ? 0 : -1;
}

int hkb_result_parse(const char *line, struct hkb_result *r)
{
	const char *f[24], *fe[24];
	int n = 0;
	const char *s = line;
	for (;;) {
		const char *e = s;
		while (*e && *e != ',' && *e != '\n' && *e != '\r')
			e++;
		if (n < 24) {
			f[n] = s;
			fe[n] = e;
			n++;
		}
		if (*e != ',')
			break;
		s = e + 1;
	}
	hkb_result_init(r);
	if (n < HKB_RESULT_BASE_COLUMNS || line[0] == '#')
		return -1;
	double thr;
	long rep;
	char *end;
	r->threads = (unsigned)strtoul(f[2], &end, 10);
	if (end != fe[2] || f[2] == fe[2])
		return -1;   /* the header ("threads") or garbage */
	if (field_long(f[4], fe[4], &rep) || field_num(f[5], fe[5], &r->seconds) ||
	    field_num(f[6], fe[6], &thr) || field_long(f[8], fe[8], &r->peak_rss_kb) ||
	    field_long(f[9], fe[9], &r->held_kb) || field_long(f[10], fe[10], &r->live_kb))
		return -1;
	r->rep = (int)rep;
	r->throughput = thr;
	field_copy(r->bench, sizeof r->bench, f[0], fe[0]);
	field_copy(r->alloc, sizeof r->alloc, f[1], fe[1]);
	field_copy(r->params, sizeof r->params, f[3], fe[3]);
	field_copy(r->unit, sizeof r->unit, f[7], fe[7]);
	char better[8];
	field_copy(better, sizeof better, f[11], fe[11]);
	r->lower_better = better[0] == 'l';
	field_copy(r->status, sizeof r->status, f[12], fe[12]);
	if (n > 13 && field_num(f[13], fe[13], &r->cpu_seconds))
		return -1;
	return 0;
}

/* A time for CSV: empty when missing. */
static void put_csv_num(struct out *o, const char *fmt, double x)
{
	if (hkb_present(x))
		put(o, fmt, x);
}

size_t hkb_result_csv(const struct hkb_result *r, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	put(&o, "%s,%s,%u,%s,%d,", r->bench, r->alloc, r->threads, r->params, r->rep);
	put_csv_num(&o, "%.6f", r->seconds);
	put(&o, ",");
	put_csv_num(&o, "%.6g", r->throughput);
	put(&o, ",%s,%ld,%ld,%ld,%s,%s,", r->unit, r->peak_rss_kb, r->held_kb, r->live_kb,
	    r->lower_better ? "lower" : "higher", r->status);
	put_csv_num(&o, "%.4f", r->cpu_seconds);
	put(&o, "\n");
	return o.at;
}

size_t hkb_result_json(const struct hkb_result *r, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	put(&o, "{\"benchmark\": ");
	put_str(&o, r->bench);
	put(&o, ", \"allocator\": ");
	put_str(&o, r->alloc);
	put(&o, ", \"threads\": %u, \"params\": ", r->threads);
	put_str(&o, r->params);
	put(&o, ", \"rep\": %d, \"seconds\": ", r->rep);
	put_num(&o, "%.6f", r->seconds);
	put(&o, ", \"throughput\": ");
	put_num(&o, "%.6g", r->throughput);
	put(&o, ", \"unit\": ");
	put_str(&o, r->unit);
	put(&o, ", \"peak_rss_kb\": ");
	put_kb(&o, r->peak_rss_kb);
	put(&o, ", \"held_kb\": ");
	put_kb(&o, r->held_kb);
	put(&o, ", \"live_kb\": ");
	put_kb(&o, r->live_kb);
	put(&o, ", \"better\": \"%s\", \"status\": ", r->lower_better ? "lower" : "higher");
	put_str(&o, r->status);
	put(&o, ", \"cpu_seconds\": ");
	put_num(&o, "%.4f", r->cpu_seconds);
	put(&o, "}");
	return o.at;
}

/* --- Statistics -------------------------------------------------------------------- */

/* Square root by Newton's method (no libm: the library stays portable). */
static double root(double x)
{
	if (!(x > 0))
		return 0;
	double g = x > 1 ? x : 1;
	for (int i = 0; i < 64; i++) {
		double n = 0.5 * (g + x / g);
		if (n == g)
			break;
		g = n;
	}
	return g;
}

void hkb_stats_of(double *v, int n, struct hkb_stats *s)
{
	/* Insertion sort: n is a handful of repetitions. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*s = (struct hkb_stats){ n, MISSING, MISSING, MISSING, MISSING, MISSING };
	if (n <= 0)
		return;
	double sum = 0, sq = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	s->mean = sum / n;
	for (int i = 0; i < n; i++)
		sq += (v[i] - s->mean) * (v[i] - s->mean);
	s->median = n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->min = v[0];
	s->max = v[n - 1];
	s->stddev = n > 1 ? root(sq / (n - 1)) : 0;
}

size_t hkb_stats_json(const struct hkb_stats *s, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	put(&o, "{\"n\": %d, \"median\": ", s->n);
	put_num(&o, "%.6g", s->median);
	put(&o, ", \"min\": ");
	put_num(&o, "%.6g", s->min);
	put(&o, ", \"max\": ");
	put_num(&o, "%.6g", s->max);
	put(&o, ", \"stddev\": ");
	put_num(&o, "%.6g", s->stddev);
	put(&o, "}");
	return o.at;
}

/* --- Context ----------------------------------------------------------------------- */

void hkb_context_init(struct hkb_context *c)
{
	*c = (struct hkb_context){ .cpus = -1, .loadavg1 = MISSING };
}

void hkb_context_lib(struct hkb_context *c, const char *name, const char *version)
{
	if (c->nlibs >= HKB_CONTEXT_LIBS)
		return;
	snprintf(c->libs[c->nlibs].name, sizeof c->libs[0].name, "%s", name);
	snprintf(c->libs[c->nlibs].version, sizeof c->libs[0].version, "%s", version);
	c->nlibs++;
}

/* A string member, null when empty. */
static void put_member(struct out *o, int indent, const char *key, const char *val)
{
	put(o, "%*s\"%s\": ", indent + 2, "", key);
	if (val[0])
		put_str(o, val);
	else
		put(o, "null");
	put(o, ",\n");
}

size_t hkb_context_json(const struct hkb_context *c, int indent, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	put(&o, "{\n");
	put_member(&o, indent, "heapkit", c->tool_version);
	put_member(&o, indent, "commit", c->commit);
	put_member(&o, indent, "build_type", c->build_type);
	put_member(&o, indent, "date", c->date);
	put_member(&o, indent, "host", c->host);
	put_member(&o, indent, "kernel", c->kernel);
	put_member(&o, indent, "cpu_model", c->cpu_model);
	put(&o, "%*s\"cpus\": ", indent + 2, "");
	if (c->cpus >= 0)
		put(&o, "%d", c->cpus);
	else
		put(&o, "null");
	put(&o, ",\n%*s\"loadavg_1min\": ", indent + 2, "");
	put_num(&o, "%.2f", c->loadavg1);
	put(&o, ",\n%*s\"libraries\": {", indent + 2, "");
	for (int i = 0; i < c->nlibs; i++) {
		put(&o, "%s", i ? ", " : "");
		put_str(&o, c->libs[i].name);
		put(&o, ": ");
		if (c->libs[i].version[0])
			put_str(&o, c->libs[i].version);
		else
			put(&o, "null");
	}
	put(&o, "}\n%*s}", indent, "");
	return o.at;
}
