#!/usr/bin/env python3
"""Run the standard allocator benchmark programs (built by build.sh) against several malloc libraries.

    run.py OUT_CSV            (run.sh is the entry point; see docs/bench.md)

Environment:
  HK_ORIGINALS_DIR  where build.sh put the programs (default /tmp/originals)
  HK_BUILD          heapkit build dir holding libheapkit.so (default: build, relative to the repository)
  BENCH_REPS        repetitions (default 3); the order is rep > program > allocator (interleaved)
  BENCH_THREADS     thread count for the multi-threaded programs (default: nproc)
  BENCH_ALLOCS      comma list out of heapkit,mimalloc,jemalloc,tcmalloc,glibc (default: all five); NAME=PATH
                    adds the library at PATH under NAME (another heapkit build, for a before/after run)
  BENCH_ONLY        comma list of program names (default: all)
  BENCH_FULL=1      the standard programs at mimalloc-bench's full arguments (about 20x longer)
  BENCH_TIMEOUT     seconds per run before it is killed and recorded as a timeout (default 120)
  HK_LIBDIR         where the peer libraries are (default /usr/lib/x86_64-linux-gnu)

One CSV row per run: program,args,alloc,threads,rep,wall_s,cpu_s,peak_rss_kib,status (ok, fail, or timeout:
killed after BENCH_TIMEOUT seconds, which wall_s then holds).
wall_s is the elapsed time; for the programs that run for a fixed time and report a throughput (larson,
rptest, xmalloc-test, glibc-thread) it is the "relative time" mimalloc-bench's bench.sh derives from the
program's own output (1/throughput, scaled), and cpu_s is the CPU time scaled by the same factor
(relative time / elapsed): CPU per unit of work.  peak_rss_kib is the child's ru_maxrss.
"""
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ALLOCS = ("heapkit", "mimalloc", "jemalloc", "tcmalloc", "glibc")
PEER_LIBS = {"mimalloc": "libmimalloc.so.2", "jemalloc": "libjemalloc.so.2", "tcmalloc": "libtcmalloc_minimal.so.4"}
HEADER = ["program", "args", "alloc", "threads", "rep", "wall_s", "cpu_s", "peak_rss_kib", "status"]
CFRAC_STD = "17545186520507317056371138836327483792789528"
CFRAC_SMALL = "150000006189500000020370300840546479"  # 300000012379 * 500000000000000000067901


def relative_time(kind, out):
    """bench.sh's relative time from the program's output, or None when the figure is missing."""
    pats = {
        "larson": (r"relative time: ([0-9.]+)s", lambda v: v),
        "xmalloc": (r"rtime: ([0-9.]+)", lambda v: v),
        "rptest": (r"\.\.\.([0-9]+) memory ops", lambda v: 2000000.0 / v if v > 0 else None),
        "glibc-thread": (r"^([0-9.]+) iterations", lambda v: 1e9 / v if v > 0 else None),
    }
    pat, conv = pats[kind]
    m = re.search(pat, out, re.M)
    return conv(float(m.group(1))) if m else None


def programs(T, full):
    """(program, threads, binary, args, stdin file or None, figure kind or None)."""
    s = "" if full else "-s"
    rows = [
        ("cfrac", 1, "cfrac", [CFRAC_STD if full else CFRAC_SMALL], None, None),
        ("espresso", 1, "espresso", ["largest.espresso" if full else "espresso-s.espresso"], None, None),
        ("barnes", 1, "barnes", [], "barnes.input" if full else "barnes-s.input", None),
        ("larson", T, "larson" + s, [str(5 if full else 1), "8", "1000", "5000", "100", "4141", str(T)], None,
         "larson"),
        ("larson-sized", T, "larson-sized" + s, [str(5 if full else 1), "8", "1000", "5000", "100", "4141", str(T)],
         None, "larson"),
        ("mstress", T, "mstress", [str(T), "50", "25"], None, None),
        ("rptest", T, "rptest" + s, [str(T), "0", "1", "2", "500" if full else "100", "1000", "100", "8", "16000"],
         None, "rptest"),
        ("alloc-test", 1, "alloc-test" + s, ["1"], None, None),
        ("alloc-test", T, "alloc-test" + s, [str(min(T, 16))], None, None),
        ("xmalloc-test", T, "xmalloc-test", ["-w", str(T), "-t", "5" if full else "1", "-s", "64"], None, "xmalloc"),
        ("cache-thrash", 1, "cache-thrash", ["1", "1000", "1", "2000000" if full else "200000", str(T)], None, None),
        ("cache-thrash", T, "cache-thrash", [str(T), "1000", "1", "2000000" if full else "200000", str(T)], None, None),
        ("cache-scratch", 1, "cache-scratch", ["1", "1000", "1", "2000000" if full else "200000", str(T)], None, None),
        ("cache-scratch", T, "cache-scratch", [str(T), "1000", "1", "2000000" if full else "200000", str(T)], None,
         None),
        ("malloc-large", 1, "malloc-large" + s, [], None, None),
        ("glibc-simple", 1, "glibc-simple" + s, [], None, None),
        ("glibc-thread", T, "glibc-thread" + s, [str(T)], None, "glibc-thread"),
        ("threadtest", T, "threadtest", [str(T), "1000", "10000", "0", "8"], None, None),
        ("linux-scalability", T, "linux-scalability", ["8", "10000000" if full else "2000000", str(T)], None, None),
    ]
    return rows


def build_wrapper(tmp):
    """Compile rusage.c (the peak-RSS-faithful runner) into tmp; returns its path."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rusage.c")
    exe = os.path.join(tmp, "rusage")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-o", exe, src], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("cannot build %s with %s: %s" % (src, cc, r.stdout.decode(errors="replace")))
    return exe


def run_one(wrapper, tmp, cwd, binary, args, stdin_path, env, timeout):
    """Run once; returns (exit status, or None when it has none, wall s, cpu s, maxrss KiB, output, timed out)."""
    report = os.path.join(tmp, "report")
    if os.path.exists(report):
        os.unlink(report)
    with tempfile.TemporaryFile() as out_f, open(stdin_path or os.devnull, "rb") as in_f:
        p = subprocess.Popen([wrapper, report, binary] + args, stdin=in_f, stdout=out_f, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True)
        fired = threading.Event()

        def kill():
            fired.set()
            os.killpg(p.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        p.wait()
        timer.cancel()
        out_f.seek(0)
        out = out_f.read().decode("utf-8", "replace")
    try:
        with open(report) as f:
            code, wall, cpu, rss = f.read().split()
        if not fired.is_set():
            return int(code), float(wall), float(cpu), int(rss), out, False
    except (OSError, ValueError):
        pass
    return None, float(timeout) if fired.is_set() else 0.0, 0.0, 0, out, fired.is_set()


def main():
    if len(sys.argv) != 2:
        print("usage: run.sh OUT_CSV", file=sys.stderr)
        return 2
    out_csv = sys.argv[1]
    odir = os.environ.get("HK_ORIGINALS_DIR", "/tmp/originals")
    if not os.path.isfile(os.path.join(odir, "READY")):
        print("originals: not built at %s (see docs/bench.md), skipped" % odir)
        return 0
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    hk_build = os.environ.get("HK_BUILD", "build")
    if not os.path.isabs(hk_build):
        hk_build = os.path.join(repo, hk_build)
    libdir = os.environ.get("HK_LIBDIR", "/usr/lib/x86_64-linux-gnu")
    try:
        reps = int(os.environ.get("BENCH_REPS", "3"))
        T = int(os.environ.get("BENCH_THREADS", str(os.cpu_count() or 2)))
        timeout = float(os.environ.get("BENCH_TIMEOUT", "120"))
    except ValueError as e:
        print("run.sh: bad BENCH_REPS/BENCH_THREADS/BENCH_TIMEOUT: %s" % e, file=sys.stderr)
        return 2
    if reps < 1 or T < 1:
        print("run.sh: BENCH_REPS and BENCH_THREADS must be at least 1", file=sys.stderr)
        return 2
    full = os.environ.get("BENCH_FULL", "0") == "1"
    want = [a for a in os.environ.get("BENCH_ALLOCS", ",".join(ALLOCS)).split(",") if a]
    extra = {}
    for i, a in enumerate(want):
        name, eq, path = a.partition("=")
        if eq and name and path and name not in ALLOCS and re.match(r"^[A-Za-z0-9_.+-]+$", name):
            want[i] = name
            extra[name] = os.path.abspath(path)
        elif a not in ALLOCS:
            print("run.sh: unknown allocator %r (one of %s, or NAME=PATH)" % (a, ",".join(ALLOCS)), file=sys.stderr)
            return 2
    libs = {}
    for a in want:
        if a in extra:
            if os.path.isfile(extra[a]):
                libs[a] = extra[a]
            else:
                print("run.sh: %s left out: no %s" % (a, extra[a]), file=sys.stderr)
            continue
        if a == "glibc":
            libs[a] = None
            continue
        lib = os.path.join(hk_build, "libheapkit.so") if a == "heapkit" else os.path.join(libdir, PEER_LIBS[a])
        if os.path.isfile(lib):
            libs[a] = lib
        else:
            print("run.sh: %s left out: no %s" % (a, lib), file=sys.stderr)
    progs = programs(T, full)
    only = [p for p in os.environ.get("BENCH_ONLY", "").split(",") if p]
    known = {p[0] for p in progs}
    for p in only:
        if p not in known:
            print("run.sh: unknown program %r (one of %s)" % (p, ",".join(sorted(known))), file=sys.stderr)
            return 2
    todo = []
    for prog in progs:
        if only and prog[0] not in only:
            continue
        if not os.access(os.path.join(odir, prog[2]), os.X_OK):
            print("run.sh: %s left out: %s/%s not built" % (prog[0], odir, prog[2]), file=sys.stderr)
            continue
        todo.append(prog)
    base_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    tmp = tempfile.mkdtemp(prefix="hk-originals-")
    try:
        wrapper = build_wrapper(tmp)
    except RuntimeError as e:
        print("run.sh: %s" % e, file=sys.stderr)
        return 2
    total = reps * len(todo) * len(libs)
    done = 0
    failed = 0
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for rep in range(reps):
            for name, threads, binary, args, stdin, kind in todo:
                for alloc, lib in libs.items():
                    env = dict(base_env)
                    if lib:
                        env["LD_PRELOAD"] = lib
                    st, wall, cpu, rss, out, timed_out = run_one(wrapper, tmp, odir, os.path.join(odir, binary), args,
                                                      os.path.join(odir, stdin) if stdin else None, env, timeout)
                    ok = st == 0
                    if ok and kind:
                        rt = relative_time(kind, out)
                        if rt is None:
                            ok = False
                        else:
                            cpu = cpu * rt / wall
                            wall = rt
                    done += 1
                    if not ok:
                        failed += 1
                        tail = out.strip().splitlines()[-3:]
                        print("run.sh: %s %s on %s FAILED (%s): %s" % (
                            name, " ".join(args), alloc,
                            "timeout after %g s" % timeout if timed_out else "no report" if st is None else "exit %d" % st,
                            " | ".join(tail)), file=sys.stderr)
                    w.writerow([name, " ".join(args), alloc, threads, rep, "%.4f" % wall, "%.4f" % cpu, rss,
                                "ok" if ok else "timeout" if timed_out else "fail"])
                    f.flush()
                    if sys.stderr.isatty():
                        print("\r[%d/%d] %s %s        " % (done, total, name, alloc), end="", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    if sys.stderr.isatty():
        print("", file=sys.stderr)
    print("originals: %d runs (%d failed) -> %s" % (done, failed, out_csv))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
