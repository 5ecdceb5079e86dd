// SPDX-License-Identifier: MIT
/*
 * The result row (bench/result.h): a 13-column row of heapkit 0.1 still
 * parses; CSV and JSON round trips; a missing value is empty in CSV and null
 * in JSON; the statistics; the context's JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kit.h"
#include "result.h"

int main(void)
{
	struct hkb_result r, back;
	char buf[2048];
	/* heapkit 0.1's 13 columns. */
	CHECK(!hkb_result_parse("larson,tlsf,2,seconds=0.2;threads=2,1,0.200000,1.5e+06,ops/s,2048,-1,-1,higher,ok\n",
				&r));
	CHECK(!strcmp(r.bench, "larson") && !strcmp(r.alloc, "tlsf") && r.threads == 2 && r.rep == 1);
	CHECK(r.seconds == 0.2 && r.throughput == 1.5e6 && r.peak_rss_kb == 2048 && r.held_kb == -1);
	CHECK(!r.lower_better && !strcmp(r.status, "ok") && !hkb_present(r.cpu_seconds));
	/* Not rows: the header, a comment, too few columns, garbage in a number. */
	CHECK(hkb_result_parse(HKB_RESULT_CSV_HEADER, &r));
	CHECK(hkb_result_parse("# comment,a,1,p,0,1,1,u,1,1,1,lower,ok", &r));
	CHECK(hkb_result_parse("larson,tlsf,2", &r));
	CHECK(hkb_result_parse("larson,tlsf,2,p,0,fast,1,u,1,1,1,higher,ok", &r));
	/* Round trip with every column, then with the times missing. */
	hkb_result_init(&r);
	snprintf(r.bench, sizeof r.bench, "fragmentation");
	snprintf(r.alloc, sizeof r.alloc, "shard");
	snprintf(r.params, sizeof r.params, "objects=50;seed=1");
	snprintf(r.unit, sizeof r.unit, "KiB held");
	snprintf(r.status, sizeof r.status, "ok");
	r.threads = 1;
	r.rep = 2;
	r.seconds = 0.125;
	r.throughput = 512;
	r.peak_rss_kb = 4096;
	r.held_kb = 100;
	r.live_kb = 50;
	r.lower_better = true;
	r.cpu_seconds = 0.25;
	size_t n = hkb_result_csv(&r, buf, sizeof buf);
	CHECK(n == strlen(buf) && buf[n - 1] == '\n');
	CHECK(!hkb_result_parse(buf, &back));
	CHECK(!strcmp(back.params, r.params) && back.lower_better && back.cpu_seconds == 0.25 && back.live_kb == 50);
	r.seconds = r.throughput = r.cpu_seconds = NAN;
	snprintf(r.status, sizeof r.status, "FAIL");
	hkb_result_csv(&r, buf, sizeof buf);
	CHECK(strstr(buf, ",2,,,KiB held,") && strstr(buf, ",FAIL,\n"));
	CHECK(!hkb_result_parse(buf, &back) && !hkb_present(back.seconds) && !hkb_present(back.cpu_seconds));
	r.held_kb = -1;
	hkb_result_json(&r, buf, sizeof buf);
	CHECK(strstr(buf, "\"seconds\": null") && strstr(buf, "\"held_kb\": null") &&
	      strstr(buf, "\"cpu_seconds\": null") && !strstr(buf, "0.0000"));
	/* A short buffer: nothing written past it, the full length returned. */
	char small[16];
	memset(small, 'x', sizeof small);
	size_t need = hkb_result_json(&r, small, 8);
	CHECK(need > 100 && small[7] == 0 && small[8] == 'x');
	/* JSON strings are escaped. */
	hkb_json_str("a\"b\\c\n", buf, sizeof buf);
	CHECK(!strcmp(buf, "\"a\\\"b\\\\c\\u000a\""));
	/* Statistics. */
	double v[] = { 4, 1, 3, 2 };
	struct hkb_stats s;
	hkb_stats_of(v, 4, &s);
	CHECK(s.n == 4 && s.median == 2.5 && s.min == 1 && s.max == 4 && s.mean == 2.5);
	CHECK(fabs(s.stddev - 1.2909944487) < 1e-9);
	hkb_stats_of(v, 1, &s);
	CHECK(s.median == 1 && s.stddev == 0);
	hkb_stats_of(v, 0, &s);
	CHECK(!hkb_present(s.median));
	hkb_stats_json(&s, buf, sizeof buf);
	CHECK(!strcmp(buf, "{\"n\": 0, \"median\": null, \"min\": null, \"max\": null, \"stddev\": null}"));
	/* Context: missing values are null. */
	struct hkb_context c;
	hkb_context_init(&c);
	snprintf(c.commit, sizeof c.commit, "abc");
	hkb_context_lib(&c, "mimalloc", "2.0.9");
	hkb_context_lib(&c, "jemalloc", "");
	hkb_context_json(&c, 0, buf, sizeof buf);
	CHECK(strstr(buf, "\"commit\": \"abc\"") && strstr(buf, "\"cpus\": null") && strstr(buf, "\"kernel\": null") &&
	      strstr(buf, "\"mimalloc\": \"2.0.9\", \"jemalloc\": null") && strstr(buf, "\"loadavg_1min\": null"));
	return check_summary("result");
}
