#!/usr/bin/env python3
"""Markdown table of a bench/originals/run.sh CSV: per program, per allocator, the time and peak-RSS ratio
to a baseline allocator (default mimalloc), median over the repetitions with min-max, and geomean rows.

    table.py CSV [--baseline mimalloc] [--metric wall|cpu] [--allocs heapkit,jemalloc,...]

A ratio is taken per repetition (the runs of one repetition are interleaved, so they share the machine's
state), then summarised: median (min-max).  Below 1.00 is better than the baseline.  The baseline's
columns give its own median time (s) and peak RSS (MiB).  A program with a failed run shows FAIL for that
allocator (TIMEOUT when every failed run was killed at run.sh's BENCH_TIMEOUT) and is left out of that
allocator's geomean; one where the baseline failed a run shows the other allocators' ratios over the
repetitions where both ran, marked "(baseline failed k of n)" or "(baseline timed out k of n)", and is left out
of every geomean; where no repetition has both, an allocator's cell gives its own median instead ("5.41 s own").
The exit status is 1 when the CSV is malformed.
"""
import argparse
import csv
import math
import statistics
import sys

HEADER = ["program", "args", "alloc", "threads", "rep", "wall_s", "cpu_s", "peak_rss_kib", "status"]
ORDER = ["heapkit", "mimalloc", "jemalloc", "tcmalloc", "glibc"]


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        head = next(r, None)
        if head != HEADER:
            raise ValueError("%s: header is %s, expected %s" % (path, head, ",".join(HEADER)))
        rows = []
        for n, row in enumerate(r, 2):
            if len(row) != len(HEADER):
                raise ValueError("%s:%d: %d fields, expected %d" % (path, n, len(row), len(HEADER)))
            d = dict(zip(HEADER, row))
            try:
                d["threads"] = int(d["threads"])
                d["rep"] = int(d["rep"])
                d["wall_s"] = float(d["wall_s"])
                d["cpu_s"] = float(d["cpu_s"])
                d["peak_rss_kib"] = int(d["peak_rss_kib"])
            except ValueError as e:
                raise ValueError("%s:%d: %s" % (path, n, e))
            if d["status"] not in ("ok", "fail", "timeout"):
                raise ValueError("%s:%d: status %r" % (path, n, d["status"]))
            rows.append(d)
    return rows


def label(prog, threads, multi):
    return "%s %dt" % (prog, threads) if multi else prog


def summarise(rows, baseline, metric):
    """{(program, threads): {alloc: {"time": [ratios], "rss": [ratios], "fail": bool, "timeout": bool (every
    failed run timed out), "abs": (t, rss)}}}."""
    key = "wall_s" if metric == "wall" else "cpu_s"
    runs = {}
    for d in rows:
        runs.setdefault((d["program"], d["threads"]), {}).setdefault(d["alloc"], {})[d["rep"]] = d
    out = {}
    for prog, per_alloc in runs.items():
        base = per_alloc.get(baseline, {})
        res = {}
        for alloc, reps in per_alloc.items():
            bad = [d["status"] for d in reps.values() if d["status"] != "ok"]
            fail, timeout = bool(bad), bool(bad) and all(b == "timeout" for b in bad)
            t, m = [], []
            for rep, d in reps.items():
                b = base.get(rep)
                if d["status"] != "ok" or not b or b["status"] != "ok" or b[key] <= 0 or b["peak_rss_kib"] <= 0:
                    continue
                t.append(d[key] / b[key])
                m.append(d["peak_rss_kib"] / b["peak_rss_kib"])
            ok = [d for d in reps.values() if d["status"] == "ok"]
            absolute = (statistics.median(d[key] for d in ok), statistics.median(d["peak_rss_kib"] for d in ok)) \
                if ok else None
            res[alloc] = {"time": t, "rss": m, "fail": fail, "timeout": timeout, "abs": absolute}
        out[prog] = res
    return out


def cell(v):
    if not v:
        return "—"
    med = statistics.median(v)
    if len(v) == 1:
        return "%.2f" % med
    return "%.2f (%.2f–%.2f)" % (med, min(v), max(v))


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def render(rows, baseline="mimalloc", metric="wall", allocs=None):
    s = summarise(rows, baseline, metric)
    runs_of = {}   # the baseline's runs per program: {rep: row}
    for d in rows:
        if d["alloc"] == baseline:
            runs_of.setdefault((d["program"], d["threads"]), {})[d["rep"]] = d
    present = {d["alloc"] for d in rows}
    if baseline not in present:
        raise ValueError("no %s rows: it is the baseline" % baseline)
    others = [a for a in (allocs or ORDER) if a in present and a != baseline]
    others += sorted(a for a in present if a not in ORDER and a != baseline and not allocs)
    threads_of = {}
    for prog, threads in s:
        threads_of.setdefault(prog, set()).add(threads)
    seen, progs = set(), []
    for d in rows:  # programs in the CSV's order
        k = (d["program"], d["threads"])
        if k not in seen:
            seen.add(k)
            progs.append(k)
    reps = len({d["rep"] for d in rows})
    lines = []
    unit = "wall time" if metric == "wall" else "CPU time"
    lines.append("%s ratio and peak-RSS ratio to %s (lower is better), median (min–max) over %d interleaved "
                 "repetition%s; %s's own median in its columns." % (unit[0].upper() + unit[1:], baseline, reps,
                                                                    "" if reps == 1 else "s", baseline))
    lines.append("")
    head = ["program", "%s time s" % baseline, "%s RSS MiB" % baseline]
    for a in others:
        head += ["%s time" % a, "%s RSS" % a]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    gm = {a: ([], []) for a in others}
    for prog, threads in progs:
        res = s[(prog, threads)]
        b = res.get(baseline)
        base_runs = runs_of.get((prog, threads), {}).values()
        base_failed = sum(d["status"] != "ok" for d in base_runs)
        name = label(prog, threads, len(threads_of[prog]) > 1)
        if b and b["abs"] and not b["fail"]:
            row = [name, "%.3g" % b["abs"][0], "%.1f" % (b["abs"][1] / 1024)]
        elif b and b["timeout"]:
            limit = max(d["wall_s"] for d in base_runs if d["status"] == "timeout")
            row = [name, "TIMEOUT (> %g s)" % limit, "TIMEOUT"]
        else:
            row = [name, "FAIL" if b else "—", "FAIL" if b else "—"]
        for a in others:
            r = res.get(a)
            if r is None:
                row += ["—", "—"]
            elif r["fail"]:
                row += ["TIMEOUT", "TIMEOUT"] if r["timeout"] else ["FAIL", "FAIL"]
            elif base_failed:
                note = " (baseline %s %d of %d)" % ("timed out" if b and b["timeout"] else "failed", base_failed,
                                                     len(runs_of[(prog, threads)]))
                if r["time"]:
                    row += [cell(r["time"]) + note, cell(r["rss"]) + note]
                else:   # no repetition with both: its own figures
                    row += ["%.3g s own" % r["abs"][0] + note, "%.1f MiB own" % (r["abs"][1] / 1024) + note]
            else:
                row += [cell(r["time"]), cell(r["rss"])]
                if r["time"]:
                    gm[a][0].append(statistics.median(r["time"]))
                    gm[a][1].append(statistics.median(r["rss"]))
        lines.append("| " + " | ".join(row) + " |")
    row = ["**geomean**", "", ""]
    for a in others:
        t, m = gm[a]
        row += ["**%.2f** (%d)" % (geomean(t), len(t)) if t else "—", "**%.2f**" % geomean(m) if m else "—"]
    lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--baseline", default="mimalloc")
    ap.add_argument("--metric", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--allocs", help="comma list and order of the allocators to show")
    a = ap.parse_args()
    try:
        rows = load(a.csv)
        if not rows:
            raise ValueError("%s: no rows" % a.csv)
        sys.stdout.write(render(rows, a.baseline, a.metric, a.allocs.split(",") if a.allocs else None))
    except (OSError, ValueError) as e:
        print("table.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
