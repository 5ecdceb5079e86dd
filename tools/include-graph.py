#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The include graph of heapkit's C sources, and the rules it must keep.

    tools/include-graph.py [--check] [--markdown] [--doc FILE] [ROOT]

Reads every #include "..." and #include <heapkit...> line under include/, src/,
bench/ and tools/ and resolves it to a file of the tree (next to the includer
first, then include/, src/, bench/, tools/). Rules (--check: exit 1 and say
which is broken):
  - no include circle anywhere (a header reached again from itself);
  - src/core/ includes nothing from a backend (src/buddy, src/shard, src/tlsf,
    src/region, src/mimalloc, src/checked) nor from the drop-in (src/override);
  - tools/ and bench/ (the lab) include nothing from src/ but the public headers.
--markdown: the graph per folder. --doc FILE: with --check, FILE's copy of
it (between the lines BEGIN and END below) must be the current one; alone,
rewrite that copy.
"""
import os
import re
import sys

DIRS = ["include", "src", "bench", "tools"]
SEARCH = ["include", "src", "bench", "tools"]
BACKENDS = ["src/buddy/", "src/shard/", "src/tlsf/", "src/region/", "src/mimalloc/", "src/checked/",
            "src/override/"]
INC = re.compile(r'^\s*#\s*include\s+(?:"([^"]+)"|<(heapkit[^>]*)>)', re.M)


def sources(root):
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".c", ".h", ".cc")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def resolve(root, includer, name):
    for base in [os.path.dirname(includer)] + SEARCH:
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def graph(root):
    g = {}
    for f in sorted(sources(root)):
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        g[f] = sorted({r for q, a in INC.findall(text) for r in [resolve(root, f, q or a)] if r})
    return g


def cycles(g):
    """Every include circle, each as a list of files (found by depth-first search)."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in g.get(n, []):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif not state.get(m):
                visit(m)
        stack.pop()
        state[n] = 2

    for n in g:
        if not state.get(n):
            visit(n)
    return found


def broken_rules(g):
    bad = [f"include circle: {' -> '.join(c)}" for c in cycles(g)]
    for f, deps in g.items():
        for d in deps:
            if f.startswith("src/core/") and any(d.startswith(b) for b in BACKENDS):
                bad.append(f"src/core points to a backend: {f} -> {d}")
            if f.startswith(("tools/", "bench/")) and d.startswith("src/"):
                bad.append(f"the lab reaches into the library's insides: {f} -> {d}")
    return bad


def markdown(g):
    out = []
    for top in ["include", "src/core", "src/buddy", "src/shard", "src/tlsf", "src/region", "src/mimalloc",
                "src/checked", "src/platform", "src/override", "src/trace", "bench", "tools"]:
        rows = [(f, deps) for f, deps in g.items() if os.path.dirname(f) == top or
                (top == "include" and f.startswith("include/"))]
        rows = [(f, deps) for f, deps in rows if deps]
        if not rows:
            continue
        out.append(f"- `{top}/`")
        for f, deps in rows:
            out.append(f"  - `{f[len(top) + 1:]}` → " + ", ".join(f"`{d}`" for d in deps))
    return "\n".join(out)


BEGIN = "<!-- include graph: tools/include-graph.py --doc docs/layout.md rewrites it -->"
END = "<!-- end of the include graph -->"


def doc_copy(path, md, write):
    """Whether the copy in path is md; with write, make it so."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    if write:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(head + BEGIN + "\n" + md + "\n" + END + tail)
    return old.strip() == md.strip()


def main(argv):
    doc = argv[argv.index("--doc") + 1] if "--doc" in argv[:-1] else None
    args = [a for i, a in enumerate(argv) if not a.startswith("--") and not (i and argv[i - 1] == "--doc")]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    g = graph(root)
    if "--markdown" in argv:
        print(markdown(g))
    if doc and "--check" not in argv:
        doc_copy(doc, markdown(g), write=True)
    if "--check" in argv:
        bad = broken_rules(g)
        if doc and not doc_copy(doc, markdown(g), write=False):
            bad.append(f"{doc}'s include graph is not the current one (tools/include-graph.py --doc {doc})")
        for b in bad:
            print("include-graph:", b, file=sys.stderr)
        n = sum(len(d) for d in g.values())
        print(f"include-graph: {len(g)} files, {n} includes, {len(bad)} rules broken")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
