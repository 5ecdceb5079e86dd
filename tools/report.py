#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn hkbench's CSV/JSON into a self-contained HTML report with inline SVG
charts, a summary CSV of medians, and a plain-text summary on stdout.

  report.py --sweep bench-out/sweep.csv [--compare bench-out/compare.json]
            [--baseline mimalloc] --out bench-out/report.html
            [--summary-csv bench-out/summary.csv]

Per benchmark (and parameter set): the median of the repetitions for each
allocator and thread count, its ratio to the baseline allocator (>1 means
better than the baseline, whichever way the figure points), peak RSS, and a
grouped bar chart. Python 3 standard library only.
"""
import argparse
import csv
import html
import json
import math
import os
import statistics
import sys
from collections import OrderedDict, defaultdict

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c"]


def load_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


class Group:
    """One benchmark with one parameter set: cells per (allocator, threads)."""

    def __init__(self, bench, params, unit, lower):
        self.bench, self.params, self.unit, self.lower = bench, params, unit, lower
        self.vals = defaultdict(list)    # (alloc, threads) -> [throughput]
        self.secs = defaultdict(list)
        self.rss = defaultdict(list)
        self.status = {}                 # (alloc, threads) -> "FAIL"/"skip"
        self.allocs, self.threads = [], []

    def add(self, row):
        a, t = row["allocator"], int(row["threads"])
        if a not in self.allocs:
            self.allocs.append(a)
        if t not in self.threads:
            self.threads.append(t)
        if row["status"] == "ok":
            self.vals[(a, t)].append(float(row["throughput"]))
            self.secs[(a, t)].append(float(row["seconds"]))
            self.rss[(a, t)].append(int(row["peak_rss_kb"]))
        else:
            self.status[(a, t)] = row["status"]

    def med(self, a, t):
        return median(self.vals.get((a, t), []))

    def ratio(self, a, t, base):
        """How many times better than base (>1 better), or nan."""
        v, b = self.med(a, t), self.med(base, t)
        if not v or not b or math.isnan(v) or math.isnan(b):
            return float("nan")
        return b / v if self.lower else v / b


def group_rows(rows):
    groups = OrderedDict()
    for r in rows:
        key = (r["benchmark"], r["params"])
        if key not in groups:
            groups[key] = Group(r["benchmark"], r["params"], r["unit"], r["better"] == "lower")
        groups[key].add(r)
    for g in groups.values():
        g.threads.sort()
    return groups


def pick_baseline(allocs, wanted):
    for a in [wanted, "mimalloc", "system"]:
        if a in allocs:
            return a
    return allocs[0] if allocs else None


# --- SVG charts -------------------------------------------------------------

def bar_chart(title, categories, series, values, unit, lower=False, width=760, height=300):
    """Grouped bars: categories along x, one bar per series in each group.
    values[(series, category)] -> number or nan."""
    left, right, top, bottom = 70, 170, 30, 40
    pw, ph = width - left - right, height - top - bottom
    finite = [v for v in values.values() if v is not None and not math.isnan(v)]
    vmax = max(finite) if finite else 1.0
    vmax = vmax * 1.08 or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="{html.escape(title)}" style="font:11px sans-serif">']
    out.append(f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>')
    # grid and axis
    for i in range(5):
        v = vmax * i / 4
        y = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    out.append(f'<text x="12" y="{top + ph / 2:.0f}" transform="rotate(-90 12 {top + ph / 2:.0f})" '
               f'text-anchor="middle">{html.escape(unit)}{" (lower is better)" if lower else ""}</text>')
    ng, ns = max(len(categories), 1), max(len(series), 1)
    gw = pw / ng
    bw = max(2.0, (gw * 0.8) / ns)
    for gi, c in enumerate(categories):
        gx = left + gi * gw + gw * 0.1
        for si, s in enumerate(series):
            v = values.get((s, c))
            if v is None or math.isnan(v):
                continue
            h = ph * v / vmax
            x, y = gx + si * bw, top + ph - h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" '
                       f'fill="{PALETTE[si % len(PALETTE)]}"><title>{html.escape(str(s))} @ '
                       f'{html.escape(str(c))}: {fmt(v)} {html.escape(unit)}</title></rect>')
        out.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + ph + 16}" '
                   f'text-anchor="middle">{html.escape(str(c))}</text>')
    for si, s in enumerate(series):
        y = top + 10 + si * 16
        out.append(f'<rect x="{left + pw + 15}" y="{y - 9}" width="11" height="11" '
                   f'fill="{PALETTE[si % len(PALETTE)]}"/>')
        out.append(f'<text x="{left + pw + 31}" y="{y}">{html.escape(str(s))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title, points, xunit, yunit, width=760, height=240):
    """One series of (x, y) points as a polyline."""
    left, right, top, bottom = 80, 30, 30, 40
    pw, ph = width - left - right, height - top - bottom
    xmax = max((x for x, _ in points), default=1.0) or 1.0
    ymax = (max((y for _, y in points), default=1.0) or 1.0) * 1.08
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="{html.escape(title)}" style="font:11px sans-serif">']
    out.append(f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>')
    for i in range(5):
        y = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{fmt(ymax * i / 4)}</text>')
    for i in range(5):
        x = left + pw * i / 4
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt(xmax * i / 4)}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 4}" text-anchor="middle">{html.escape(xunit)}</text>')
    out.append(f'<text x="12" y="{top + ph / 2:.0f}" transform="rotate(-90 12 {top + ph / 2:.0f})" '
               f'text-anchor="middle">{html.escape(yunit)}</text>')
    pts = " ".join(f"{left + pw * x / xmax:.1f},{top + ph - ph * y / ymax:.1f}" for x, y in points)
    out.append(f'<polyline points="{pts}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out)


def trace_section(info):
    """What a recorded program did: its calls, sizes, lifetimes, live bytes."""
    name = os.path.basename(info["trace"])
    frees = info["frees"] or 1
    out = [f'<h3>{html.escape(name)}</h3>',
           f'<p>{info["threads"]} threads, {info["calls"]} calls over {info["duration_ns"] / 1e9:.3f} s, '
           f'{info["blocks"]} blocks, peak live {info["peak_live_bytes"] / 1024:.1f} KiB, '
           f'cross-thread frees {info["cross_thread_frees"]} of {info["frees"]} '
           f'({100.0 * info["cross_thread_frees"] / frees:.1f}%).</p>']
    sizes = [(k, v) for k, v in info["sizes"] if v]
    out.append(bar_chart("block sizes", [k for k, _ in sizes], ["blocks"],
                         {("blocks", k): float(v) for k, v in sizes}, "blocks"))
    lives = [(k, v) for k, v in info["lifetimes"] if v]
    out.append(bar_chart("block lifetimes", [k for k, _ in lives], ["blocks"],
                         {("blocks", k): float(v) for k, v in lives}, "blocks"))
    out.append(line_chart("bytes live over time", [(x, y / 1024) for x, y in info["live_bytes"]],
                          "seconds", "KiB live"))
    return "\n".join(out)


# --- HTML -----------------------------------------------------------------------

CSS = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left}
.good{background:#e3f4e1}.bad{background:#fbe3e3}.fail{background:#f99;font-weight:bold}
code{background:#f4f4f4;padding:1px 3px}
"""


def ratio_class(r):
    if math.isnan(r):
        return ""
    return "good" if r >= 1.05 else "bad" if r <= 0.95 else ""


def compare_section(cmp):
    allocs, base = cmp["allocators"], cmp["baseline"]
    h = [f"<h2>Drop-in comparison</h2><p>Each workload ran {cmp['reps']} times per allocator, "
         f"interleaved, each run a separate process with the allocator loaded by LD_PRELOAD. "
         f"Cells: time per unit of work relative to <b>{html.escape(base)}</b> "
         f"(median; lower is better; 1.00 = as fast as {html.escape(base)}).</p>"]
    h.append("<table><tr><th class=l>workload</th><th class=l>what</th>" +
             "".join(f"<th>{html.escape(a)}</th>" for a in allocs) + "</tr>")
    for c in cmp["cases"]:
        h.append(f"<tr><td class=l>{html.escape(c['label'])}</td><td class=l>"
                 f"{html.escape(c['what'])}<br><code>{html.escape(c['workload'])} "
                 f"{html.escape(c['params'])}</code></td>")
        for a in allocs:
            res = c["results"].get(a, {})
            if res.get("status") == "ok":
                r = res["ratio"]
                cls = "good" if r <= 0.95 else "bad" if r >= 1.05 else ""
                h.append(f'<td class="{cls}">{r:.2f}</td>')
            else:
                h.append(f'<td class="{"fail" if res.get("status") == "FAIL" else ""}">'
                         f'{html.escape(res.get("status", "-"))}</td>')
        h.append("</tr>")
    h.append("<tr><th class=l>geomean</th><th></th>" + "".join(
        f"<th>{cmp['geomean'][a]:.2f}</th>" if isinstance(cmp["geomean"][a], (int, float))
        else "<th>-</th>" for a in allocs) + "</tr></table>")
    h.append("<h3>Peak RSS (MiB, whole process)</h3><table><tr><th class=l>workload</th>" +
             "".join(f"<th>{html.escape(a)}</th>" for a in allocs) + "</tr>")
    for c in cmp["cases"]:
        h.append(f"<tr><td class=l>{html.escape(c['label'])}</td>")
        for a in allocs:
            res = c["results"].get(a, {})
            h.append(f"<td>{res['peak_rss_kb'] / 1024:.1f}</td>" if "peak_rss_kb" in res else "<td>-</td>")
        h.append("</tr>")
    h.append("</table>")
    vals = {}
    for c in cmp["cases"]:
        for a in allocs:
            res = c["results"].get(a, {})
            if res.get("status") == "ok":
                vals[(a, c["label"])] = res["ratio"]
    h.append(bar_chart(f"Time ratio to {base} (lower is better)", [c["label"] for c in cmp["cases"]],
                       allocs, vals, "ratio", lower=True, width=900))
    return "\n".join(h)


def group_section(g, base):
    h = [f"<h3 id=\"{html.escape(g.bench)}\">{html.escape(g.bench)}</h3>"
         f"<p><code>{html.escape(g.params)}</code> &mdash; figure: {html.escape(g.unit)}, "
         f"{'lower' if g.lower else 'higher'} is better. Ratio: times better than "
         f"{html.escape(base)} at the same thread count.</p>"]
    h.append("<table><tr><th class=l>allocator</th>" + "".join(
        f"<th>{t} thr: median</th><th>ratio</th><th>peak RSS MiB</th>" for t in g.threads) + "</tr>")
    for a in g.allocs:
        h.append(f"<tr><td class=l>{html.escape(a)}</td>")
        for t in g.threads:
            st = g.status.get((a, t))
            if (a, t) in g.vals:
                r = g.ratio(a, t, base)
                vs = g.vals[(a, t)]
                spread = f"<br><small>{fmt(min(vs))} &ndash; {fmt(max(vs))}</small>" if len(vs) > 1 else ""
                h.append(f"<td>{fmt(g.med(a, t))}{spread}</td><td class=\"{ratio_class(r)}\">{fmt(r, 3)}</td>"
                         f"<td>{median(g.rss[(a, t)]) / 1024:.1f}</td>")
            else:
                cls = "fail" if st not in (None, "skip") else ""
                h.append(f'<td class="{cls}" colspan=3>{html.escape(st or "-")}</td>')
        h.append("</tr>")
    h.append("</table>")
    cats = [f"{t} threads" for t in g.threads]
    vals = {(a, f"{t} threads"): g.med(a, t) for a in g.allocs for t in g.threads}
    h.append(bar_chart(f"{g.bench}: median {g.unit}", cats, g.allocs, vals, g.unit, lower=g.lower))
    ratios = {(a, f"{t} threads"): g.ratio(a, t, base) for a in g.allocs for t in g.threads if (a, t) in g.vals}
    h.append(bar_chart(f"{g.bench}: relative to {base} (higher is better)", cats, g.allocs, ratios,
                       f"x {base}"))
    rss = {(a, f"{t} threads"): median(g.rss[(a, t)]) / 1024 for a in g.allocs for t in g.threads
           if (a, t) in g.vals}
    h.append(bar_chart(f"{g.bench}: peak RSS", cats, g.allocs, rss, "MiB", lower=True))
    return "\n".join(h)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", help="CSV written by hkbench sweep")
    ap.add_argument("--compare", help="JSON written by hkbench compare --json")
    ap.add_argument("--baseline", default="mimalloc")
    ap.add_argument("--out", required=True)
    ap.add_argument("--summary-csv")
    ap.add_argument("--traces", nargs="*", default=[], help="JSON written by hkbench trace-info --json")
    ap.add_argument("--title", default="heapkit benchmark report")
    args = ap.parse_args()

    body = [f"<h1>{html.escape(args.title)}</h1>"]
    text = []
    if args.compare and os.path.exists(args.compare):
        with open(args.compare) as f:
            body.append(compare_section(json.load(f)))
    groups, base = OrderedDict(), None
    if args.sweep:
        rows = load_rows(args.sweep)
        groups = group_rows(rows)
        allocs = []
        for g in groups.values():
            allocs += [a for a in g.allocs if a not in allocs]
        base = pick_baseline(allocs, args.baseline)
        nfail = sum(1 for r in rows if r["status"] not in ("ok", "skip"))
        body.append(f"<h2>Sweep</h2><p>{len(rows)} runs, {nfail} failed. Each run is a separate "
                    f"process; repetitions were interleaved across allocators. Baseline: "
                    f"<b>{html.escape(base or '-')}</b>.</p><p>" +
                    " &middot; ".join(f'<a href="#{html.escape(g.bench)}">{html.escape(g.bench)}</a>'
                                      for g in groups.values()) + "</p>")
        for g in groups.values():
            body.append(group_section(g, base))
        # plain-text summary: ratio to baseline per benchmark, allocator and thread count
        text.append(f"Sweep: median figure ratio to {base} (>1 = better than {base}); "
                    f"{len(rows)} runs, {nfail} failed")
        cols = []
        for g in groups.values():
            for t in g.threads:
                cols.append((g, t))
        width = max([len(a) for a in allocs] + [8])
        header = f"{'benchmark':<18} {'thr':>3}  " + " ".join(f"{a:>{width}}" for a in allocs)
        text.append(header)
        for g, t in cols:
            cells = []
            for a in allocs:
                if (a, t) in g.vals:
                    cells.append(f"{g.ratio(a, t, base):>{width}.2f}")
                else:
                    cells.append(f"{(g.status.get((a, t)) or '-'):>{width}}")
            text.append(f"{g.bench:<18} {t:>3}  " + " ".join(cells))
        # geometric mean of ratios per allocator over every (bench, threads)
        gm = []
        for a in allocs:
            rs = [g.ratio(a, t, base) for g, t in cols if (a, t) in g.vals]
            rs = [r for r in rs if r > 0 and not math.isnan(r)]
            gm.append(f"{math.exp(sum(map(math.log, rs)) / len(rs)):>{width}.2f}" if rs else f"{'-':>{width}}")
        text.append(f"{'geomean':<18} {'':>3}  " + " ".join(gm))
        if args.summary_csv:
            with open(args.summary_csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["benchmark", "params", "allocator", "threads", "median", "unit", "better",
                            "ratio_to_" + (base or ""), "median_seconds", "median_peak_rss_kb", "runs"])
                for g in groups.values():
                    for a in g.allocs:
                        for t in g.threads:
                            if (a, t) in g.vals:
                                w.writerow([g.bench, g.params, a, t, f"{g.med(a, t):.6g}", g.unit,
                                            "lower" if g.lower else "higher",
                                            f"{g.ratio(a, t, base):.4f}",
                                            f"{median(g.secs[(a, t)]):.6f}",
                                            int(median(g.rss[(a, t)])), len(g.vals[(a, t)])])
    if args.traces:
        body.append("<h2>Recorded programs</h2><p>The traces the <code>replay</code> rows above replay "
                    "(recorded with <code>libheapkit-trace.so</code>; see docs/trace.md).</p>")
        for path in args.traces:
            with open(path) as f:
                body.append(trace_section(json.load(f)))
    doc = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + html.escape(args.title) +
           "</title><style>" + CSS + "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    with open(args.out, "w") as f:
        f.write(doc)
    if text:
        print("\n".join(text))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
