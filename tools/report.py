#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn hkbench's results into one self-contained HTML page that answers
"which allocator?", a summary CSV of medians, and a plain-text summary.

  report.py --sweep bench-out/sweep.csv [--sweep-json bench-out/sweep.json]
            [--compare bench-out/compare.json] [--latency bench-out/latency.csv]
            [--originals bench-out/originals.csv] [--traces trace-*.json]
            [--baseline mimalloc] --out bench-out/report.html
            [--summary-csv bench-out/summary.csv]

The page: first the decision summary (a heatmap of workloads x allocators,
the geometric means, three lines of advice), then one normalised chart over
every benchmark, thread scaling, the run's context, and the details.

One ratio convention throughout: a cell is the cost relative to the
baseline's median - time per unit of work, or memory for the workloads whose
figure is memory - so below 1.00 is better. A cell is coloured only when
its min-max range over the repetitions does not overlap the baseline's.

The sweep CSV may have the 13 columns of heapkit 0.1 or more (cpu_seconds
was appended); --sweep-json defaults to the .json next to the CSV (it holds
the run's context). summary.csv keeps its old columns ("ratio_to_BASE" is
times better, >1 better) and appends cost_ratio, cost_ratio_min/max.
Python 3 standard library only.
"""
import argparse
import csv
import html
import json
import math
import os
import re
import statistics
import sys
from collections import OrderedDict, defaultdict

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#1f77b4", "#8c564b", "#17becf"]
# The same allocator has the same colour in every chart of every report.
FIXED_COLOURS = {
    "mimalloc": "#4e79a7", "jemalloc": "#f28e2b", "tcmalloc": "#59a14f",
    "heapkit": "#e15759", "heapkit-dropin": "#e15759", "heapkit-checked": "#ff9da7",
    "system": "#8c8c8c", "glibc": "#8c8c8c",
    "buddy": "#76b7b2", "tlsf": "#b8a000", "shard": "#b07aa1", "region": "#9c755f",
    "hk:mimalloc": "#1f77b4", "hk:shard": "#b07aa1",
}
# Allocators that replace malloc for the whole process (LD_PRELOAD or the C
# library's own); everything else is a heapkit instance called in-process.
DROPIN = ["system", "glibc", "mimalloc", "jemalloc", "tcmalloc", "heapkit", "heapkit-dropin",
          "heapkit-checked"]
CLIP = 2.5          # bars beyond this ratio are clipped and labelled


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def isnum(x):
    return isinstance(x, (int, float)) and not math.isnan(x)


def geomean(xs):
    xs = [x for x in xs if isnum(x) and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def fmt(x, digits=3):
    if not isnum(x):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def fr(x):
    """A ratio with two decimals."""
    return f"{x:.2f}" if isnum(x) else "-"


def nice_max(v):
    """A round axis maximum at or above v, with four even steps."""
    if not isnum(v) or v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v / 4))
    for m in (1, 2, 2.5, 5, 10):
        if 4 * m * mag >= v:
            return 4 * m * mag
    return 40 * mag


def esc(s):
    return html.escape(str(s))


class Ids:
    """Unique, stable anchor ids."""

    def __init__(self):
        self.used = set()

    def make(self, *parts):
        base = re.sub(r"[^a-z0-9]+", "-", "-".join(str(p) for p in parts).lower()).strip("-") or "x"
        i, cand = 2, base
        while cand in self.used:
            cand, i = f"{base}-{i}", i + 1
        self.used.add(cand)
        return cand


class Colours:
    def __init__(self, allocs):
        self.map, k = {}, 0
        for a in allocs:
            if a in FIXED_COLOURS:
                self.map[a] = FIXED_COLOURS[a]
            else:
                self.map[a] = PALETTE[k % len(PALETTE)]
                k += 1

    def __getitem__(self, a):
        return self.map.get(a, "#999")


# --- Data --------------------------------------------------------------------

def load_rows(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("benchmark") and not r["benchmark"].startswith("#")]


def ffloat(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("nan")


class Group:
    """One benchmark with one parameter set: cells per (allocator, threads)."""

    def __init__(self, bench, params, unit, lower):
        self.bench, self.params, self.unit, self.lower = bench, params, unit, lower
        self.title = bench
        self.vals = defaultdict(list)    # (alloc, threads) -> [figure]
        self.secs = defaultdict(list)
        self.rss = defaultdict(list)
        self.status = {}                 # (alloc, threads) -> "FAIL"/"skip"/...
        self.allocs, self.threads = [], []

    def add(self, row):
        a, t = row["allocator"], int(row["threads"])
        if a not in self.allocs:
            self.allocs.append(a)
        if t not in self.threads:
            self.threads.append(t)
        fig = ffloat(row["throughput"])
        if row["status"] == "ok" and isnum(fig) and fig > 0:
            self.vals[(a, t)].append(fig)
            self.secs[(a, t)].append(ffloat(row["seconds"]))
            rss = ffloat(row.get("peak_rss_kb"))
            if isnum(rss) and rss >= 0:
                self.rss[(a, t)].append(rss)
        elif row["status"] != "ok":
            self.status[(a, t)] = row["status"]

    def med(self, a, t):
        return median(self.vals.get((a, t), []))

    def costs(self, a, t):
        """Per-repetition cost: lower is better (time per unit of work, or the memory figure)."""
        vs = self.vals.get((a, t), [])
        return list(vs) if self.lower else [1.0 / v for v in vs]

    def cost_ratio(self, a, t, base):
        """(median, min, max) of the cost relative to base's median cost, or None."""
        c, b = self.costs(a, t), self.costs(base, t)
        if not c or not b:
            return None
        bm = median(b)
        return median(c) / bm, min(c) / bm, max(c) / bm

    def ratio(self, a, t, base):
        """Times better than base (>1 better): the old summary.csv column."""
        v, b = self.med(a, t), self.med(base, t)
        if not isnum(v) or not isnum(b) or not v or not b:
            return float("nan")
        return b / v if self.lower else v / b


def without_threads(params):
    """The parameters but the thread count: a group spans its thread counts."""
    return ";".join(kv for kv in params.split(";") if not kv.startswith("threads="))


def group_rows(rows):
    groups = OrderedDict()
    for r in rows:
        key = (r["benchmark"], without_threads(r["params"]))
        if key not in groups:
            groups[key] = Group(r["benchmark"], key[1], r["unit"], r["better"] == "lower")
        groups[key].add(r)
    for g in groups.values():
        g.threads.sort()
    name_variants(list(groups.values()))
    return groups


def parse_params(p):
    out = OrderedDict()
    for kv in p.split(";"):
        if "=" in kv:
            k, v = kv.split("=", 1)
            out[k] = v
    return out


def short_value(v):
    base = os.path.basename(v)
    return re.sub(r"\.trace$", "", base) if "/" in v or v.endswith(".trace") else v


def name_variants(groups):
    """Distinct titles where one benchmark ran with several parameter sets:
    the parameters that differ name the variant ("replay: gcc-cc1")."""
    by_bench = defaultdict(list)
    for g in groups:
        by_bench[g.bench].append(g)
    for bench, gs in by_bench.items():
        if len(gs) < 2:
            continue
        ps = [parse_params(g.params) for g in gs]
        keys = [k for k in ps[0] if len({p.get(k) for p in ps}) > 1]
        for g, p in zip(gs, ps):
            g.title = f"{bench}: " + ", ".join(short_value(p.get(k, "?")) if len(keys) == 1
                                               else f"{k}={short_value(p.get(k, '?'))}" for k in keys)
        seen = defaultdict(int)
        for g in gs:
            seen[g.title] += 1
            if seen[g.title] > 1:
                g.title += f" ({seen[g.title]})"


def pick_baseline(allocs, wanted):
    for a in [wanted, "mimalloc", "system"]:
        if a in allocs:
            return a
    return allocs[0] if allocs else None


class Case:
    """A column of the heatmap: a group at one thread count."""

    def __init__(self, g, t):
        self.g, self.t = g, t
        self.label = g.title + (f", {t} thr" if len(g.threads) > 1 else "")


def order_allocs(allocs, base):
    dropin = [a for a in DROPIN if a in allocs]
    inproc = [a for a in allocs if a not in DROPIN]
    # The baseline first in its group.
    for grp in (dropin, inproc):
        if base in grp:
            grp.remove(base)
            grp.insert(0, base)
    return dropin, inproc


# --- Latency (hklatency --csv) and originals -------------------------------------

def load_latency(path):
    """backend -> {metric: value}, from the min-of-runs section when present."""
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return {}
    out, plain = defaultdict(dict), defaultdict(dict)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r.get("section") == "latency-min-of-runs":
                out[r["backend"]][r["metric"]] = ffloat(r["value"])
            elif r.get("section") == "latency":
                plain[r["backend"]][r["metric"]] = ffloat(r["value"])
    for b, m in plain.items():
        for k, v in m.items():
            out[b].setdefault(k, v)
    return dict(out)


def load_originals(path):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- SVG ----------------------------------------------------------------------------

def svg_open(w, h, label):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            f'role="img" aria-label="{esc(label)}" style="font:11px sans-serif;max-width:100%;height:auto">')


def ratio_panel(case, allocs, base, colours, w=330, h=198):
    """One benchmark's bars: cost ratio per allocator, the 1.0 line, clipped outliers,
    the value on each bar, min-max error bars."""
    left, right, top, bottom = 34, 6, 30, 40
    pw, ph = w - left - right, h - top - bottom
    g, t = case.g, case.t
    data = [(a, g.cost_ratio(a, t, base)) for a in allocs]
    finite = [r[2] for _, r in data if r]
    ymax = min(CLIP, max(finite + [1.2]) * 1.1)
    y = lambda v: top + ph - ph * min(v, ymax) / ymax
    out = [svg_open(w, h, f"{case.label}: cost relative to {base}")]
    out.append(f'<text x="{left}" y="14" font-weight="bold">{esc(case.label)}</text>')
    for frac in (0.5, 1.0, 1.5, 2.0, 2.5):
        if frac < ymax:
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(frac):.1f}" y2="{y(frac):.1f}" stroke="#eee"/>'
                       f'<text x="{left - 3}" y="{y(frac) + 3:.1f}" text-anchor="end" fill="#777">{frac:g}</text>')
    n = max(len(data), 1)
    slot = pw / n
    bw = max(4.0, slot * 0.72)
    for i, (a, r) in enumerate(data):
        x = left + i * slot + (slot - bw) / 2
        cx = x + bw / 2
        if not r:
            st = g.status.get((a, t), "-")
            out.append(f'<text x="{cx:.1f}" y="{top + ph - 4}" text-anchor="middle" fill="#b00" '
                       f'font-size="9">{esc(st if st != "skip" else "skip")}</text>')
        else:
            m, lo, hi = r
            clipped = m > ymax
            out.append(f'<rect x="{x:.1f}" y="{y(m):.1f}" width="{bw:.1f}" height="{top + ph - y(m):.1f}" '
                       f'fill="{colours[a]}"><title>{esc(a)}: {fr(m)} (range {fr(lo)}-{fr(hi)})</title></rect>')
            if clipped:
                # A break mark at the top of a clipped bar, and its true value.
                yt = y(ymax)
                out.append(f'<path d="M{x:.1f},{yt + 6:.1f} l{bw / 2:.1f},-4 l{bw / 2:.1f},4" stroke="#fff" '
                           f'stroke-width="2" fill="none"/>')
                out.append(f'<text x="{cx:.1f}" y="{yt - 2:.1f}" text-anchor="middle" font-size="9" '
                           f'font-weight="bold" class="clip">{m:.1f}×</text>')
            else:
                if hi > lo:
                    out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(hi):.1f}" y2="{y(lo):.1f}" '
                               f'stroke="#222" stroke-width="1"/>'
                               f'<line x1="{cx - 3:.1f}" x2="{cx + 3:.1f}" y1="{y(hi):.1f}" y2="{y(hi):.1f}" stroke="#222"/>'
                               f'<line x1="{cx - 3:.1f}" x2="{cx + 3:.1f}" y1="{y(lo):.1f}" y2="{y(lo):.1f}" stroke="#222"/>')
                ty = min(y(m), y(min(hi, ymax))) - 3
                out.append(f'<text x="{cx:.1f}" y="{max(ty, top - 2):.1f}" text-anchor="middle" '
                           f'font-size="9">{m:.2f}</text>')
        out.append(f'<text x="{cx:.1f}" y="{top + ph + 11}" text-anchor="end" font-size="9" '
                   f'transform="rotate(-35 {cx:.1f} {top + ph + 11})">{esc(a)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(1.0):.1f}" y2="{y(1.0):.1f}" stroke="#000" '
               f'stroke-dasharray="4 2" class="one"><title>1.0 = {esc(base)}</title></line>')
    out.append("</svg>")
    return "\n".join(out)


def scaling_panel(g, allocs, colours, w=330, h=190):
    """Median figure against thread count, a line per allocator."""
    left, right, top, bottom = 52, 10, 22, 30
    pw, ph = w - left - right, h - top - bottom
    ts = g.threads
    pts = {a: [(t, g.med(a, t)) for t in ts if isnum(g.med(a, t))] for a in allocs}
    ys = [v for p in pts.values() for _, v in p]
    ymax = nice_max(max(ys) * 1.02 if ys else 1.0)
    xi = lambda t: left + pw * (ts.index(t) / max(len(ts) - 1, 1))
    y = lambda v: top + ph - ph * v / ymax
    out = [svg_open(w, h, f"{g.title}: {g.unit} by threads")]
    out.append(f'<text x="{left}" y="14" font-weight="bold">{esc(g.title)}</text>')
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 3}" y="{y(v) + 3:.1f}" text-anchor="end" fill="#777">{fmt(v)}</text>')
    for t in ts:
        out.append(f'<text x="{xi(t):.1f}" y="{top + ph + 13}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{h - 3}" text-anchor="middle" fill="#555">threads; '
               f'{esc(g.unit)}{" (lower is better)" if g.lower else ""}</text>')
    for a, p in pts.items():
        if len(p) < 2:
            continue
        d = " ".join(f"{xi(t):.1f},{y(v):.1f}" for t, v in p)
        out.append(f'<polyline points="{d}" fill="none" stroke="{colours[a]}" stroke-width="2">'
                   f'<title>{esc(a)}</title></polyline>')
        for t, v in p:
            out.append(f'<circle cx="{xi(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colours[a]}"/>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title, categories, values, unit, colour="#4e79a7", width=560, height=220):
    """Simple bars (the traces' histograms)."""
    left, right, top, bottom = 60, 10, 24, 40
    pw, ph = width - left - right, height - top - bottom
    finite = [v for v in values.values() if isnum(v)]
    vmax = nice_max(max(finite) * 1.02 if finite else 1.0)
    out = [svg_open(width, height, title), f'<text x="{left}" y="15" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        v = vmax * i / 4
        yy = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{yy + 3:.1f}" text-anchor="end" fill="#777">{fmt(v)}</text>')
    n = max(len(categories), 1)
    slot = pw / n
    for i, c in enumerate(categories):
        v = values.get(c)
        x = left + i * slot
        if isnum(v):
            hh = ph * v / vmax
            out.append(f'<rect x="{x + slot * 0.1:.1f}" y="{top + ph - hh:.1f}" width="{slot * 0.8:.1f}" '
                       f'height="{hh:.1f}" fill="{colour}"><title>{esc(c)}: {fmt(v)} {esc(unit)}</title></rect>')
        out.append(f'<text x="{x + slot / 2:.1f}" y="{top + ph + 12}" text-anchor="end" font-size="9" '
                   f'transform="rotate(-40 {x + slot / 2:.1f} {top + ph + 12})">{esc(c)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title, points, xunit, yunit, width=560, height=200):
    left, right, top, bottom = 70, 16, 24, 34
    pw, ph = width - left - right, height - top - bottom
    xmax = max((x for x, _ in points), default=1.0) or 1.0
    ymax = nice_max(max((v for _, v in points), default=1.0))
    out = [svg_open(width, height, title), f'<text x="{left}" y="15" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        yy = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{yy + 3:.1f}" text-anchor="end" fill="#777">{fmt(ymax * i / 4)}</text>')
        out.append(f'<text x="{left + pw * i / 4:.1f}" y="{top + ph + 14}" text-anchor="middle">'
                   f'{fmt(xmax * i / 4)}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 2}" text-anchor="middle" fill="#555">'
               f'{esc(xunit)}; {esc(yunit)}</text>')
    pts = " ".join(f"{left + pw * x / xmax:.1f},{top + ph - ph * v / ymax:.1f}" for x, v in points)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#4e79a7" stroke-width="2"/></svg>')
    return "\n".join(out)


# --- HTML pieces ------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;margin:12px 18px;color:#222;font-size:14px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 6px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 4px}
p{margin:4px 0} .note{color:#555;font-size:12px} code{overflow-wrap:anywhere}
table{border-collapse:collapse;margin:4px 0 12px}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600} td.l,th.l{text-align:left}
.scroll{overflow-x:auto;max-width:100%}
table.heat{font-size:12px} table.heat td{padding:1px 3px;min-width:30px}
table.heat th.w{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;font-weight:normal;
  padding:3px 1px;max-height:140px;font-size:11px}
table.heat th.grp{text-align:left;background:#eef;font-size:12px}
table.heat td.l,table.heat th.l{position:sticky;left:0;z-index:1;background:#fff;box-shadow:1px 0 0 #ddd}
table.heat th.l{background:#f6f6f6}
table.heat th.grp span{position:sticky;left:4px;display:inline-block;white-space:normal;max-width:calc(100vw - 60px)}
@media (max-width:700px){body{margin:8px 8px} table:not(.heat){display:block;overflow-x:auto;max-width:100%}}
table.heat td.gm{font-weight:bold;background:#fafafa}
td.fail{background:#f99;font-weight:bold}
.sw{display:inline-block;width:11px;height:11px;margin:0 3px 0 10px;vertical-align:-1px}
ul.advice{margin:6px 0;padding-left:20px} ul.advice li{margin:2px 0}
.panels{display:flex;flex-wrap:wrap;gap:4px}
.panels svg{border:1px solid #eee}
nav a{margin-right:10px}
"""


def heat_colour(m, lo, hi, blo, bhi):
    """Green when better, red when worse, only where the ranges do not overlap."""
    if lo <= bhi and blo <= hi:
        return ""
    k = min(1.0, abs(math.log2(m)) / 1.5) if m > 0 else 1.0
    if m < 1:
        r, g, b = int(255 - 120 * k), int(255 - 40 * k), int(255 - 120 * k)
    else:
        r, g, b = int(255 - 30 * k), int(255 - 130 * k), int(255 - 130 * k)
    return f"background:rgb({r},{g},{b})"


def legend(allocs, colours):
    return "<p>" + "".join(f'<span class="sw" style="background:{colours[a]}"></span>{esc(a)}'
                           for a in allocs) + "</p>"


class Summary:
    """Everything the decision summary derives from the sweep."""

    def __init__(self, groups, base, dropin, inproc):
        self.base, self.dropin, self.inproc = base, dropin, inproc
        self.cases = [Case(g, t) for g in groups.values() for t in g.threads]
        self.allocs = dropin + inproc
        self.gm_time, self.gm_rss, self.covered = {}, {}, {}
        for a in self.allocs:
            times = [c.g.cost_ratio(a, c.t, base) for c in self.cases if not c.g.lower]
            self.gm_time[a] = geomean([r[0] for r in times if r])
            self.covered[a] = sum(1 for r in times if r)
            rss = []
            for c in self.cases:
                ra, rb = c.g.rss.get((a, c.t)), c.g.rss.get((base, c.t))
                if ra and rb:
                    rss.append(median(ra) / median(rb))
            self.gm_rss[a] = geomean(rss)
        self.n_time = sum(1 for c in self.cases if not c.g.lower)


def advice(s, groups, latency):
    """Three lines from the data: best throughput, best bounded latency, least memory."""
    lines = []
    cand = [a for a in s.allocs if isnum(s.gm_time[a]) and s.covered[a] * 2 >= s.n_time]
    if cand:
        best = min(cand, key=lambda a: s.gm_time[a])
        hk = [a for a in cand if a not in ("system", "glibc", "mimalloc", "jemalloc", "tcmalloc")]
        txt = (f"<b>Best throughput:</b> <b>{esc(best)}</b> &mdash; geomean time {fr(s.gm_time[best])}× "
               f"{esc(s.base)}'s over {s.covered[best]} workloads")
        if hk:
            bh = min(hk, key=lambda a: s.gm_time[a])
            if bh != best:
                txt += f"; heapkit's best: <b>{esc(bh)}</b> ({fr(s.gm_time[bh])}×)"
        lines.append(txt + ".")
    else:
        lines.append("<b>Best throughput:</b> not enough completed runs to say.")
    if latency:
        def bound(m):
            return max(m.get("malloc_p99.99", float("nan")), m.get("free_p99.99", float("nan")))
        ok = {b: m for b, m in latency.items() if isnum(bound(m))}
        if ok:
            best = min(ok, key=lambda b: bound(ok[b]))
            m = ok[best]
            worst = max(ok, key=lambda b: bound(ok[b]))
            lines.append(f"<b>Best bounded latency:</b> <b>{esc(best)}</b> &mdash; p99.99 of malloc "
                         f"{fmt(m.get('malloc_p99.99'))} and free {fmt(m.get('free_p99.99'))} cycles, "
                         f"max {fmt(max(m.get('malloc_max', 0), m.get('free_max', 0)))} "
                         f"(hklatency, in-process instances; worst p99.99: {esc(worst)} "
                         f"{fmt(bound(ok[worst]))}).")
        else:
            lines.append("<b>Best bounded latency:</b> the hklatency output has no p99.99 figures.")
    else:
        lines.append("<b>Best bounded latency:</b> no hklatency output given (report.py --latency).")
    frag = [g for g in groups.values() if g.bench == "fragmentation"]
    if frag:
        g = frag[0]
        t = g.threads[0]
        held = {a: g.med(a, t) for a in s.allocs if isnum(g.med(a, t))}
        if held:
            best = min(held, key=held.get)
            basev = held.get(s.base)
            lines.append(f"<b>Least memory held:</b> <b>{esc(best)}</b> &mdash; {fmt(held[best])} {esc(g.unit)} "
                         f"after the fragmentation workload" +
                         (f" ({esc(s.base)}: {fmt(basev)})" if isnum(basev) and best != s.base else "") +
                         f"; lowest geomean peak RSS: <b>{esc(min(s.allocs, key=lambda a: s.gm_rss[a] if isnum(s.gm_rss[a]) else 1e9))}</b>.")
        else:
            lines.append("<b>Least memory held:</b> the fragmentation workload has no completed run.")
    else:
        lines.append("<b>Least memory held:</b> the fragmentation workload did not run.")
    return lines


def heatmap(s, colours):
    base, cases = s.base, s.cases
    h = ['<div class="scroll"><table class="heat" id="heatmap"><tr><th class="l">allocator</th>']
    for c in cases:
        h.append(f'<th class="w" title="{esc(c.g.params)}">{esc(c.label)}</th>')
    h.append(f'<th class="w">geomean time</th><th class="w">geomean peak RSS</th></tr>')
    ncol = len(cases) + 3
    for gname, gid, allocs in (("drop-in: replaces malloc for the whole process (LD_PRELOAD, or the C library's own)",
                                "group-dropin", s.dropin),
                               ("in-process: a heapkit instance over a region, called through hkbench",
                                "group-inprocess", s.inproc)):
        if not allocs:
            continue
        h.append(f'<tr><th class="grp" colspan="{ncol}" id="{gid}"><span>{esc(gname)}</span></th></tr>')
        for a in allocs:
            h.append(f'<tr><td class="l"><span class="sw" style="background:{colours[a]};margin-left:0"></span>'
                     f'{esc(a)}</td>')
            for c in cases:
                r, b = c.g.cost_ratio(a, c.t, base), c.g.cost_ratio(base, c.t, base)
                if r and b:
                    style = heat_colour(r[0], r[1], r[2], b[1], b[2]) if a != base else ""
                    h.append(f'<td style="{style}" title="{esc(a)} on {esc(c.label)}: {fr(r[0])} '
                             f'(range {fr(r[1])}-{fr(r[2])}; {esc(base)} {fr(b[1])}-{fr(b[2])})">{fr(r[0])}</td>')
                elif r:
                    h.append(f'<td title="no {esc(base)} run to compare with">-</td>')
                else:
                    st = c.g.status.get((a, c.t))
                    cls = ' class="fail"' if st and st not in ("skip",) else ""
                    h.append(f'<td{cls} title="{esc(st or "not run")}">{esc("FAIL" if cls else "-")}</td>')
            h.append(f'<td class="gm">{fr(s.gm_time[a])}</td><td class="gm">{fr(s.gm_rss[a])}</td></tr>')
    h.append("</table></div>")
    return "\n".join(h)


def context_section(ctx, ids):
    sid = ids.make("context")
    h = [f'<h2 id="{sid}">Run context</h2>']
    if not ctx:
        return "\n".join(h + ['<p class="note">Not recorded: give the sweep\'s JSON (hkbench sweep --json) '
                              'with --sweep-json.</p>'])
    libs = ctx.get("libraries") or {}
    items = [("date (UTC)", ctx.get("date")), ("commit", ctx.get("commit")), ("heapkit", ctx.get("heapkit")),
             ("build type", ctx.get("build_type")), ("host", ctx.get("host")), ("kernel", ctx.get("kernel")),
             ("CPU", ctx.get("cpu_model")), ("CPUs online", ctx.get("cpus")),
             ("load average at start (1 min)", ctx.get("loadavg_1min"))]
    items += [(f"{k} version", v) for k, v in libs.items()]
    h.append("<table>" + "".join(f'<tr><th class="l">{esc(k)}</th><td class="l">'
                                 f'{esc(v) if v is not None else "unknown"}</td></tr>' for k, v in items) +
             "</table>")
    return "\n".join(h)


def group_section(g, base, allocs, sid, colours):
    h = [f'<h3 id="{sid}">{esc(g.title)}</h3>'
         f'<p class="note"><code>{esc(g.params)}</code> &mdash; figure: {esc(g.unit)}, '
         f'{"lower" if g.lower else "higher"} is better. Ratio: cost relative to {esc(base)} at the same '
         f'thread count (lower is better).</p>']
    h.append('<div class="scroll"><table><tr><th class="l">allocator</th>' + "".join(
        f"<th>{t} thr: median [min&ndash;max]</th><th>ratio</th><th>peak RSS MiB</th>" for t in g.threads) + "</tr>")
    for a in [x for x in allocs if x in g.allocs]:
        h.append(f'<tr><td class="l"><span class="sw" style="background:{colours[a]};margin-left:0"></span>'
                 f'{esc(a)}</td>')
        for t in g.threads:
            if (a, t) in g.vals:
                vs = g.vals[(a, t)]
                r, b = g.cost_ratio(a, t, base), g.cost_ratio(base, t, base)
                style = heat_colour(r[0], r[1], r[2], b[1], b[2]) if r and b and a != base else ""
                spread = f" [{fmt(min(vs))}&ndash;{fmt(max(vs))}]" if len(vs) > 1 else ""
                h.append(f'<td>{fmt(g.med(a, t))}{spread}</td><td style="{style}">{fr(r[0]) if r else "-"}</td>'
                         f'<td>{median(g.rss[(a, t)]) / 1024:.1f}</td>' if g.rss.get((a, t)) else
                         f'<td>{fmt(g.med(a, t))}{spread}</td><td style="{style}">{fr(r[0]) if r else "-"}</td><td>-</td>')
            else:
                st = g.status.get((a, t))
                cls = "fail" if st not in (None, "skip") else ""
                h.append(f'<td class="{cls}" colspan=3>{esc(st or "-")}</td>')
        h.append("</tr>")
    h.append("</table></div>")
    return "\n".join(h)


def compare_section(cmp, ids, colours):
    allocs, base = cmp["allocators"], cmp["baseline"]
    sid = ids.make("dropin-comparison")
    h = [f'<h2 id="{sid}">Drop-in comparison (hkbench compare)</h2><p>Each workload ran {cmp.get("reps", "?")} '
         f"times per allocator, interleaved, each run a separate process with the allocator loaded by "
         f"LD_PRELOAD. Cells: time per unit of work relative to {esc(base)}, median [min&ndash;max].</p>"]
    h.append('<div class="scroll"><table><tr><th class="l">workload</th><th class="l">what</th>' +
             "".join(f"<th>{esc(a)}</th>" for a in allocs) + "</tr>")
    for c in cmp["cases"]:
        h.append(f'<tr><td class="l">{esc(c["label"])}</td><td class="l">{esc(c["what"])}<br>'
                 f'<code>{esc(c["workload"])} {esc(c["params"])}</code></td>')
        bres = c["results"].get(base, {}).get("ratio")
        for a in allocs:
            res = c["results"].get(a, {})
            r = res.get("ratio")
            if res.get("status") == "ok" and isinstance(r, dict) and isnum(r.get("median")):
                style = ""
                if bres and a != base and isnum(r.get("min")) and isnum(bres.get("min")):
                    style = heat_colour(r["median"], r["min"], r["max"], bres["min"], bres["max"])
                h.append(f'<td style="{style}">{fr(r["median"])} <small>[{fr(r["min"])}&ndash;'
                         f'{fr(r["max"])}]</small></td>')
            else:
                st = res.get("status", "-")
                h.append(f'<td class="{"fail" if st == "FAIL" else ""}">{esc(st)}</td>')
        h.append("</tr>")
    gm = cmp.get("geomean", {})
    h.append('<tr><th class="l">geomean</th><th></th>' +
             "".join(f"<th>{fr(gm.get(a)) if isnum(gm.get(a)) else '-'}</th>" for a in allocs) +
             "</tr></table></div>")
    return "\n".join(h)


def originals_section(rows, ids, baseline="mimalloc"):
    sid = ids.make("standard-programs")
    ok = [r for r in rows if r.get("status") == "ok"]
    progs = OrderedDict()
    for r in rows:
        progs.setdefault((r["program"], r["args"]), None)
    allocs = []
    for r in rows:
        if r["alloc"] not in allocs:
            allocs.append(r["alloc"])
    if baseline in allocs:
        allocs.remove(baseline)
        allocs.insert(0, baseline)
    cell = defaultdict(lambda: {"wall": [], "rss": []})
    fails = defaultdict(int)
    for r in ok:
        k = (r["program"], r["args"], r["alloc"])
        w, m = ffloat(r["wall_s"]), ffloat(r["peak_rss_kib"])
        if isnum(w) and w > 0:
            cell[k]["wall"].append(w)
        if isnum(m) and m > 0:
            cell[k]["rss"].append(m)
    timeouts = defaultdict(int)   # failed runs that were killed at run.sh's BENCH_TIMEOUT
    for r in rows:
        if r.get("status") != "ok":
            fails[(r["program"], r["args"], r["alloc"])] += 1
            timeouts[(r["program"], r["args"], r["alloc"])] += r.get("status") == "timeout"
    h = [f'<h2 id="{sid}">Standard programs</h2><p>Real programs run with each allocator '
         f"(bench/originals/run.sh; LD_PRELOAD). Cells: wall time and peak RSS relative to {esc(baseline)}'s "
         f"median, median [min&ndash;max] over the repetitions; lower is better.</p>"]
    h.append('<div class="scroll"><table><tr><th class="l">program</th>' +
             "".join(f"<th>{esc(a)} time</th><th>{esc(a)} RSS</th>" for a in allocs) + "</tr>")
    gm = defaultdict(list)
    for (p, args) in progs:
        b = cell[(p, args, baseline)]
        # the baseline failed a run: its median is of the others; shown, marked, out of the geomean
        base_failed = fails[(p, args, baseline)]
        h.append(f'<tr><td class="l">{esc(p)} <code>{esc(args)}</code></td>')
        for a in allocs:
            c = cell[(p, args, a)]
            for kind in ("wall", "rss"):
                if c[kind] and b[kind]:
                    bm = median(b[kind])
                    m, lo, hi = median(c[kind]) / bm, min(c[kind]) / bm, max(c[kind]) / bm
                    if not base_failed:
                        gm[(a, kind)].append(m)
                    how = "timed out" if timeouts[(p, args, baseline)] == base_failed else "failed"
                    note = f" <small>(baseline {how} {base_failed}&times;)</small>" if base_failed else ""
                    style = heat_colour(m, lo, hi, min(b[kind]) / bm, max(b[kind]) / bm) if a != baseline else ""
                    h.append(f'<td style="{style}">{fr(m)} <small>[{fr(lo)}&ndash;{fr(hi)}]</small>{note}</td>')
                elif fails[(p, args, a)]:
                    word = "TIMEOUT" if timeouts[(p, args, a)] == fails[(p, args, a)] else "FAIL"
                    h.append(f'<td class="fail">{word}</td>')
                else:
                    h.append("<td>-</td>")
        h.append("</tr>")
    h.append('<tr><th class="l">geomean</th>' + "".join(
        f"<th>{fr(geomean(gm[(a, k)]))}</th>" for a in allocs for k in ("wall", "rss")) + "</tr></table></div>")
    return "\n".join(h)


def trace_section(info, ids):
    name = os.path.basename(info["trace"])
    frees = info["frees"] or 1
    out = [f'<h3 id="{ids.make("trace", name)}">{esc(name)}</h3>',
           f'<p>{info["threads"]} threads, {info["calls"]} calls over {info["duration_ns"] / 1e9:.3f} s, '
           f'{info["blocks"]} blocks, peak live {info["peak_live_bytes"] / 1024:.1f} KiB, '
           f'cross-thread frees {info["cross_thread_frees"]} of {info["frees"]} '
           f'({100.0 * info["cross_thread_frees"] / frees:.1f}%).</p><div class="panels">']
    sizes = [(k, v) for k, v in info["sizes"] if v]
    out.append(bar_chart(f"{name}: block sizes", [k for k, _ in sizes], {k: float(v) for k, v in sizes}, "blocks"))
    lives = [(k, v) for k, v in info["lifetimes"] if v]
    out.append(bar_chart(f"{name}: block lifetimes", [k for k, _ in lives], {k: float(v) for k, v in lives},
                         "blocks"))
    out.append(line_chart(f"{name}: bytes live over time", [(x, v / 1024) for x, v in info["live_bytes"]],
                          "seconds", "KiB live"))
    out.append("</div>")
    return "\n".join(out)


def latency_section(lat, ids):
    sid = ids.make("latency")
    metrics = ["malloc_median", "malloc_p99", "malloc_p99.99", "malloc_max",
               "free_median", "free_p99", "free_p99.99", "free_max"]
    h = [f'<h2 id="{sid}">Per-call latency (hklatency)</h2><p>Cycles per call of the in-process instances '
         f"(best of the runs for each figure); lower is better.</p>",
         '<div class="scroll"><table><tr><th class="l">backend</th>' +
         "".join(f"<th>{esc(m.replace('_', ' '))}</th>" for m in metrics) + "</tr>"]
    for b, m in lat.items():
        if b == "all":
            continue
        h.append(f'<tr><td class="l">{esc(b)}</td>' + "".join(f"<td>{fmt(m.get(k))}</td>" for k in metrics) + "</tr>")
    h.append("</table></div>")
    return "\n".join(h)


# --- Main ------------------------------------------------------------------------------------

def text_summary(s, rows, nfail):
    out = [f"Sweep: median cost relative to {s.base} (lower is better; time per unit of work, or memory "
           f"for memory workloads); {len(rows)} runs, {nfail} failed"]
    width = max([len(a) for a in s.allocs] + [8])
    out.append(f"{'benchmark':<28} " + " ".join(f"{a:>{width}}" for a in s.allocs))
    for c in s.cases:
        cells = []
        for a in s.allocs:
            r = c.g.cost_ratio(a, c.t, s.base)
            cells.append(f"{r[0]:>{width}.2f}" if r else f"{(c.g.status.get((a, c.t)) or '-'):>{width}}")
        out.append(f"{c.label[:28]:<28} " + " ".join(cells))
    out.append(f"{'geomean time':<28} " + " ".join(f"{fr(s.gm_time[a]):>{width}}" for a in s.allocs))
    out.append(f"{'geomean peak RSS':<28} " + " ".join(f"{fr(s.gm_rss[a]):>{width}}" for a in s.allocs))
    return out


def write_summary_csv(path, groups, base):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["benchmark", "params", "allocator", "threads", "median", "unit", "better",
                    "ratio_to_" + (base or ""), "median_seconds", "median_peak_rss_kb", "runs",
                    "cost_ratio", "cost_ratio_min", "cost_ratio_max", "stddev"])
        for g in groups.values():
            for a in g.allocs:
                for t in g.threads:
                    if (a, t) not in g.vals:
                        continue
                    r = g.cost_ratio(a, t, base)
                    vs = g.vals[(a, t)]
                    w.writerow([g.bench, g.params, a, t, f"{g.med(a, t):.6g}", g.unit,
                                "lower" if g.lower else "higher", f"{g.ratio(a, t, base):.4f}",
                                f"{median(g.secs[(a, t)]):.6f}",
                                int(median(g.rss[(a, t)])) if g.rss.get((a, t)) else "", len(vs),
                                f"{r[0]:.4f}" if r else "", f"{r[1]:.4f}" if r else "", f"{r[2]:.4f}" if r else "",
                                f"{statistics.stdev(vs):.6g}" if len(vs) > 1 else "0"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", help="CSV written by hkbench sweep")
    ap.add_argument("--sweep-json", help="JSON written by hkbench sweep --json (default: next to --sweep)")
    ap.add_argument("--compare", help="JSON written by hkbench compare --json")
    ap.add_argument("--latency", help="CSV written by hklatency --csv")
    ap.add_argument("--originals", help="CSV written by bench/originals/run.sh")
    ap.add_argument("--baseline", default="mimalloc")
    ap.add_argument("--out", required=True)
    ap.add_argument("--summary-csv")
    ap.add_argument("--traces", nargs="*", default=[], help="JSON written by hkbench trace-info --json")
    ap.add_argument("--title", default="heapkit benchmark report")
    args = ap.parse_args()

    ids = Ids()
    body = [f'<h1 id="{ids.make("top")}">{esc(args.title)}</h1>']
    text = []
    rows = load_rows(args.sweep) if args.sweep else []
    groups = group_rows(rows)
    allocs = []
    for g in groups.values():
        allocs += [a for a in g.allocs if a not in allocs]
    base = pick_baseline(allocs, args.baseline)
    dropin, inproc = order_allocs(allocs, base)
    colours = Colours(dropin + inproc)
    latency = load_latency(args.latency)
    ctx = None
    sj = args.sweep_json or (os.path.splitext(args.sweep)[0] + ".json" if args.sweep else None)
    if sj and os.path.exists(sj):
        try:
            with open(sj) as f:
                ctx = json.load(f).get("context")
        except (OSError, ValueError):
            ctx = None
    cmp = None
    if args.compare and os.path.exists(args.compare):
        with open(args.compare) as f:
            cmp = json.load(f)
    originals = load_originals(args.originals)

    if groups:
        s = Summary(groups, base, dropin, inproc)
        nfail = sum(1 for r in rows if r["status"] not in ("ok", "skip"))
        reps = max((len(v) for g in groups.values() for v in g.vals.values()), default=0)
        when = f" on {esc(ctx.get('date'))}, {esc(ctx.get('cpus'))} CPUs, commit {esc(ctx.get('commit'))}" if ctx else ""
        sid = ids.make("summary")
        body.append(f'<section id="{sid}"><h2>Which allocator? (summary)</h2>')
        body.append('<ul class="advice" id="advice">' + "".join(f"<li>{l}</li>" for l in advice(s, groups, latency)) +
                    "</ul>")
        body.append(f'<p class="note">Each cell: the cost relative to <b>{esc(base)}</b> (time per unit of work; '
                    f'memory held for memory workloads), median of up to {reps} interleaved runs &mdash; '
                    f'<b>below 1.00 is better</b>. Coloured only where the min&ndash;max ranges of the runs do '
                    f'not overlap {esc(base)}\'s (green better, red worse). {len(rows)} runs, {nfail} failed'
                    f'{when}.</p>')
        body.append(heatmap(s, colours))
        body.append("</section>")
        text = text_summary(s, rows, nfail)
        # One normalised chart over every benchmark.
        cid = ids.make("normalised")
        body.append(f'<h2 id="{cid}">Every benchmark, normalised to {esc(base)}</h2><p class="note">A bar per '
                    f"allocator: cost relative to {esc(base)} (the dashed 1.0 line), lower is better; error bars "
                    f"span the runs' min&ndash;max; bars beyond {CLIP:g}× are clipped and labelled with their "
                    f"value.</p>" + legend(dropin + inproc, colours) + '<div class="panels">')
        body += [ratio_panel(c, dropin + inproc, base, colours) for c in s.cases]
        body.append("</div>")
        scal = [g for g in groups.values() if len(g.threads) > 1]
        if scal:
            tid = ids.make("thread-scaling")
            body.append(f'<h2 id="{tid}">Thread scaling</h2><p class="note">Median figure at each thread count '
                        f"(the workload's own unit; higher is better unless marked).</p>" +
                        legend(dropin + inproc, colours) + '<div class="panels">')
            body += [scaling_panel(g, dropin + inproc, colours) for g in scal]
            body.append("</div>")
    if latency:
        body.append(latency_section(latency, ids))
    if originals:
        body.append(originals_section(originals, ids))
    body.append(context_section(ctx, ids))
    if cmp:
        body.append(compare_section(cmp, ids, colours))
    if groups:
        did = ids.make("details")
        dids = [ids.make("detail", g.title) for g in groups.values()]
        body.append(f'<h2 id="{did}">Details per benchmark</h2><p>' + " &middot; ".join(
            f'<a href="#{i}">{esc(g.title)}</a>' for g, i in zip(groups.values(), dids)) + "</p>")
        for g, i in zip(groups.values(), dids):
            body.append(group_section(g, base, dropin + inproc, i, colours))
    if args.traces:
        rid = ids.make("recorded-programs")
        body.append(f'<h2 id="{rid}">Recorded programs</h2><p>The traces the <code>replay</code> rows replay '
                    "(recorded with <code>libheapkit-trace.so</code>; see docs/trace.md).</p>")
        for path in args.traces:
            with open(path) as f:
                body.append(trace_section(json.load(f), ids))
    doc = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" + esc(args.title) +
           "</title><style>" + CSS + "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    with open(args.out, "w") as f:
        f.write(doc)
    if args.summary_csv and groups:
        write_summary_csv(args.summary_csv, groups, base)
    try:
        if text:
            print("\n".join(text))
        print(f"report: {args.out}")
    except BrokenPipeError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
