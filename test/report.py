#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The report's structure (tools/report.py), on a tiny sweep made here:
the summary comes first, ids are unique and every link lands, the drop-in
and in-process groups, the three lines of advice name what the data says,
colour only where ranges do not overlap, distinct section names, the
standard-programs section. Old 13-column sweep CSVs still read.

  test/report.py REPORT_PY WORKDIR
"""
import csv
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

HEADER13 = ["benchmark", "allocator", "threads", "params", "rep", "seconds", "throughput", "unit",
            "peak_rss_kb", "held_kb", "live_kb", "better", "status"]

# figure per (bench, alloc): three reps each; the ranges are chosen so that
# jemalloc is clearly fastest, system overlaps mimalloc, buddy holds least.
FIG = {
    ("larson", "mimalloc"): [10.0, 10.5, 9.5], ("larson", "system"): [10.2, 9.8, 10.4],
    ("larson", "jemalloc"): [20.0, 21.0, 19.5], ("larson", "heapkit"): [9.0, 9.2, 8.8],
    ("larson", "tlsf"): [6.0, 6.1, 5.9], ("larson", "buddy"): [5.0, 5.1, 4.9],
    ("xmalloc", "mimalloc"): [4.0, 4.1, 3.9], ("xmalloc", "system"): [0.8, 0.8, 0.8],
    ("xmalloc", "jemalloc"): [8.0, 8.2, 7.9], ("xmalloc", "heapkit"): [4.0, 3.8, 4.2],
    ("xmalloc", "tlsf"): [3.0, 3.1, 2.9], ("xmalloc", "buddy"): [2.0, 2.1, 1.9],
    ("fragmentation", "mimalloc"): [5000, 5100, 4900], ("fragmentation", "system"): [6000, 6100, 5900],
    ("fragmentation", "jemalloc"): [5500, 5600, 5400], ("fragmentation", "heapkit"): [4800, 4900, 4700],
    ("fragmentation", "tlsf"): [3000, 3050, 2950], ("fragmentation", "buddy"): [2000, 2050, 1950],
}
ALLOCS = ["mimalloc", "system", "jemalloc", "heapkit", "tlsf", "buddy"]


def write_inputs(d):
    rows = []
    for rep in range(3):
        for a in ALLOCS:
            for t in (1, 2):
                f = FIG[("larson", a)][rep] * (1.6 if t == 2 else 1.0)
                rows.append(["larson", a, t, f"seconds=0.05;threads={t}", rep, "0.05", f, "Mops/s",
                             3000, -1, -1, "higher", "ok"])
            rows.append(["xmalloc", a, 2, "objects=100;threads=2", rep, "0.1", FIG[("xmalloc", a)][rep],
                         "Mops/s", 3000, -1, -1, "higher", "ok"])
            rows.append(["fragmentation", a, 1, "objects=500", rep, "0.1", FIG[("fragmentation", a)][rep],
                         "KiB held", 9000, -1, -1, "lower", "ok"])
            for trace in ("bench/traces/gcc-cc1.trace", "bench/traces/python-queue.trace"):
                st = "FAIL" if (a == "buddy" and "gcc" in trace) else "ok"
                rows.append(["replay", a, 1, f"trace={trace};passes=1", rep, "0.1",
                             2.0 if st == "ok" else "", "Mcalls/s", 3000, -1, -1, "higher", st])
    with open(os.path.join(d, "sweep.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER13)        # the 13 columns of heapkit 0.1: still readable
        w.writerows(rows)
    with open(os.path.join(d, "sweep.json"), "w") as f:
        json.dump({"context": {"heapkit": "0.2.0", "commit": "abc1234", "build_type": "Release",
                               "date": "2026-01-01T00:00:00Z", "host": "h", "kernel": "Linux 6.1 x86_64",
                               "cpu_model": "test CPU", "cpus": 2, "loadavg_1min": 0.5,
                               "libraries": {"glibc": "2.36", "mimalloc": "2.0.9"}},
                   "reps": 3, "rows": [], "failures": 0}, f)
    with open(os.path.join(d, "latency.csv"), "w") as f:
        f.write("section,backend,metric,value,unit\nsetup,all,timer_overhead,70,cycles\n")
        for b, p in (("buddy", 9000), ("tlsf", 800), ("shard", 4000)):
            for m in ("malloc", "free"):
                f.write(f"latency-min-of-runs,{b},{m}_p99.99,{p},cycles\n"
                        f"latency-min-of-runs,{b},{m}_max,{p * 2},cycles\n")
    with open(os.path.join(d, "originals.csv"), "w") as f:
        f.write("program,args,alloc,threads,rep,wall_s,cpu_s,peak_rss_kib,status\n")
        for rep in range(2):
            for a, k in (("mimalloc", 1.0), ("heapkit", 1.2), ("glibc", 1.5)):
                f.write(f"lua,bench.lua,{a},1,{rep},{2.0 * k + rep * 0.01},{2.0 * k},{10000 * k},ok\n")
            f.write(f"redis,-q,heapkit,1,{rep},,,,fail\n")
            # the baseline fails one repetition: shown, marked, left out of the geomean
            f.write(f"big,,mimalloc,1,{rep},{10.0 if rep == 0 else ''},,{1000 if rep == 0 else ''},"
                    f"{'ok' if rep == 0 else 'fail'}\n")
            f.write(f"big,,heapkit,1,{rep},1.0,1.0,1000,ok\n")
            # the baseline runs past run.sh's timeout in the first repetition, glibc in both: said so
            f.write(f"slow,,mimalloc,1,{rep},{'120.0,0.0,0,timeout' if rep == 0 else '30.0,30.0,2000,ok'}\n")
            f.write(f"slow,,heapkit,1,{rep},3.0,3.0,2000,ok\n")
            f.write(f"slow,,glibc,1,{rep},120.0,0.0,0,timeout\n")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.order, self.stack = [], [], [], []
        self.li_advice, self.in_advice, self.in_li = [], False, False
        self.text, self.headings, self.cur_h = [], [], None
        self.td_styles = {}
        self.cur_td = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
            self.order.append((tag, a["id"]))
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag == "ul" and a.get("id") == "advice":
            self.in_advice = True
        if tag == "li" and self.in_advice:
            self.in_li = True
            self.li_advice.append("")
        if tag in ("h2", "h3"):
            self.cur_h = ""
        if tag == "td" and "title" in a:
            self.td_styles[a["title"].split(":")[0]] = a.get("style", "")

    def handle_endtag(self, tag):
        if tag == "ul":
            self.in_advice = False
        if tag == "li":
            self.in_li = False
        if tag in ("h2", "h3") and self.cur_h is not None:
            self.headings.append(self.cur_h.strip())
            self.cur_h = None

    def handle_data(self, data):
        self.text.append(data)
        if self.in_li:
            self.li_advice[-1] += data
        if self.cur_h is not None:
            self.cur_h += data


def main():
    report, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    write_inputs(d)
    out = os.path.join(d, "report.html")
    subprocess.run([sys.executable, report, "--sweep", os.path.join(d, "sweep.csv"),
                    "--latency", os.path.join(d, "latency.csv"), "--originals", os.path.join(d, "originals.csv"),
                    "--out", out, "--summary-csv", os.path.join(d, "summary.csv")],
                   check=True, stdout=subprocess.DEVNULL)
    p = Page()
    with open(out) as f:
        doc = f.read()
    p.feed(doc)
    bad = []

    def check(cond, what):
        if not cond:
            bad.append(what)
        print(("ok   " if cond else "FAIL ") + what)

    dup = sorted({i for i in p.ids if p.ids.count(i) > 1})
    check(not dup, f"ids unique (repeated: {dup})")
    missing = sorted(set(p.hrefs) - set(p.ids))
    check(not missing, f"every #link has its target (missing: {missing})")
    h2 = [i for t, i in p.order if t in ("section", "h2")]
    check(h2 and h2[0] == "summary", f"the summary comes first (first section: {h2[:1]})")
    pos = {i: k for k, (_, i) in enumerate(p.order)}
    check(pos.get("advice", 1e9) < pos.get("heatmap", -1) < pos.get("normalised", -1),
          "advice, then the heatmap, then the normalised chart")
    check(pos.get("group-dropin", 1e9) < pos.get("group-inprocess", -1) < pos.get("normalised", -1),
          "drop-in and in-process groups in the heatmap")
    check(len(p.li_advice) == 3, f"three lines of advice ({len(p.li_advice)})")
    adv = p.li_advice + ["", "", ""]
    check(adv[0].startswith("Best throughput: jemalloc"), f"throughput advice: {adv[0][:60]!r}")
    check(adv[1].startswith("Best bounded latency: tlsf"), f"latency advice: {adv[1][:60]!r}")
    check(adv[2].startswith("Least memory held: buddy"), f"memory advice: {adv[2][:60]!r}")
    check("below 1.00 is better" in doc and doc.count("higher is better (ratio") == 0,
          "one ratio convention, stated")
    jem = p.td_styles.get("jemalloc on larson, 1 thr", None)
    sysm = p.td_styles.get("system on larson, 1 thr", None)
    check(jem is not None and "background" in jem, "a cell outside the baseline's range is coloured")
    check(sysm is not None and "background" not in sysm, "a cell overlapping the baseline's range is not")
    heads = [h for h in p.headings if h]
    check(len(heads) == len(set(heads)), f"section names distinct ({[h for h in heads if heads.count(h) > 1]})")
    check("replay: gcc-cc1" in heads and "replay: python-queue" in heads, "replay variants named by trace")
    check(doc.count('aria-label="larson, 1 thr: cost relative') == 1 and 'class="clip"' in doc,
          "one normalised panel per case, outliers clipped and labelled")
    check(p.ids.count("thread-scaling") == 1 and 'aria-label="larson: Mops/s by threads"' in doc,
          "thread scaling where a workload ran at several thread counts")
    check("standard-programs" in p.ids and "redis" in doc, "the standard programs section")
    geo = re.search(r'<th class="l">geomean</th>(.*?)</tr>', doc)
    cells = re.findall(r"<th>([^<]*)</th>", geo.group(1)) if geo else []
    check("baseline failed 1" in doc and len(cells) > 2 and cells[2].startswith("1.2"),
          f"a program whose baseline failed a run is marked and left out of the geomean ({cells[:4]})")
    check("baseline timed out 1" in doc and '<td class="fail">TIMEOUT</td>' in doc and
          doc.count('<td class="fail">FAIL</td>') == 2, "a run past the timeout is named so, not FAIL")
    # A narrow window (checked by eye in Chromium at 420 px): the heatmap scrolls in its own box with the
    # allocator column held, and nothing else is wider than the page.
    check('<div class="scroll"><table class="heat" id="heatmap">' in doc and
          re.search(r"table\.heat td\.l,table\.heat th\.l\{position:sticky;left:0", doc) is not None and
          "code{overflow-wrap:anywhere}" in doc, "narrow windows: the heatmap scrolls alone, its names stay")
    check("abc1234" in doc and "test CPU" in doc and "2.0.9" in doc, "run context from the sweep.json beside it")
    check(">1.20 <small>" in doc, "standard programs: heapkit's time ratio to mimalloc (1.20)")
    # Without the JSON, the page says the context was not recorded.
    lone = os.path.join(d, "alone")
    os.makedirs(lone, exist_ok=True)
    with open(os.path.join(d, "sweep.csv")) as src, open(os.path.join(lone, "sweep.csv"), "w") as dst:
        dst.write(src.read())
    subprocess.run([sys.executable, report, "--sweep", os.path.join(lone, "sweep.csv"), "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        doc2 = f.read()
    check("abc1234" not in doc2 and "Not recorded" in doc2, "no context without the sweep JSON, said so")
    print(f"report: {len(bad)} of these failed" if bad else "report: all checks passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
