#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check heapkit's Kraftfiles against KraftKit's Kraftfile schema (spec v0.6).

KraftKit is not installable on heapkit's build machines, so this checks what
its schema (kraftkit schema/v0.6.json and the Kraftfile reference) requires:

  - a top-level spec (or specification) attribute, v0.5 or v0.6;
  - name, if present, a string;
  - unikraft: a string/number, or a mapping of source/version (strings) and
    kconfig (a mapping of scalars or a list of strings);
  - targets: a non-empty list, each a string or a mapping naming plat
    (platform) and arch (architecture);
  - libraries: a mapping from names matching [a-zA-Z0-9._-]+ to a string,
    null, or a mapping of source/version/kconfig like unikraft's;
  - cmd: a string or a list of strings.

And what heapkit's Kraftfiles must also get right: a local library source
(a path, not a URL) is a Unikraft library directory (Config.uk, Makefile.uk);
every CONFIG_ key is a config name; each CONFIG_LIBHEAPKIT* key is declared
in that library's Config.uk; the kconfig lines of the defconfig fragments
named with --configs (CONFIG_X=y) all appear with value y.

Usage: kraftfile.py [--configs FILE,FILE...] KRAFTFILE...
       kraftfile.py --self-test     (bad Kraftfiles must be rejected)
Python 3 only, no packages: the YAML subset Kraftfiles use is parsed here
(block mappings and lists, flow lists of scalars, quoted scalars, comments).
"""
import os
import re
import sys


class YamlError(Exception):
    pass


def _scalar(text, where):
    t = text.strip()
    if t == "" or t in ("~", "null"):
        return None
    if t[0] in "'\"":
        if len(t) < 2 or t[-1] != t[0]:
            raise YamlError(f"{where}: unterminated quoted scalar {t}")
        return t[1:-1]
    if t.startswith("["):
        if not t.endswith("]"):
            raise YamlError(f"{where}: unterminated flow list {t}")
        inner = t[1:-1].strip()
        return [] if not inner else [_scalar(p, where) for p in _split_flow(inner, where)]
    if t.startswith("{"):
        raise YamlError(f"{where}: flow mappings are not supported here")
    if t in ("true", "false"):
        return t == "true"
    if re.fullmatch(r"-?[0-9]+", t):
        return int(t)
    if re.fullmatch(r"-?[0-9]*\.[0-9]+", t):
        return float(t)
    return t


def _split_flow(inner, where):
    parts, cur, quote = [], "", None
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if quote:
        raise YamlError(f"{where}: unterminated quote in flow list")
    parts.append(cur)
    return parts


def _strip_comment(line):
    out, quote = "", None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out += ch
    return out.rstrip()


def parse_yaml(text, name="<yaml>"):
    """The block-style YAML subset: returns dicts, lists and scalars."""
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"{name}:{n}: tab in indentation")
        s = _strip_comment(raw)
        if s.strip():
            lines.append((len(s) - len(s.lstrip(" ")), s.strip(), f"{name}:{n}"))
    pos = 0

    def block(indent):
        nonlocal pos
        if pos >= len(lines):
            return None
        ind, text_, where = lines[pos]
        if ind < indent:
            return None
        if text_.startswith("- ") or text_ == "-":
            return seq(ind)
        return mapping(ind)

    def mapping(ind):
        nonlocal pos
        out = {}
        while pos < len(lines):
            i, t, where = lines[pos]
            if i < ind:
                break
            if i > ind:
                raise YamlError(f"{where}: unexpected indentation")
            if t.startswith("-"):
                raise YamlError(f"{where}: list item where a mapping key was expected")
            m = re.fullmatch(r"([^:'\"]+|'[^']*'|\"[^\"]*\"):(?:\s+(.*))?", t)
            if not m:
                raise YamlError(f"{where}: expected 'key: value', got {t!r}")
            key = m.group(1).strip().strip("'\"")
            if key in out:
                raise YamlError(f"{where}: duplicate key {key}")
            pos += 1
            if m.group(2) is not None and m.group(2).strip():
                out[key] = _scalar(m.group(2), where)
            elif pos < len(lines) and (lines[pos][0] > ind or
                                       (lines[pos][0] == ind and lines[pos][1].startswith("-"))):
                out[key] = block(lines[pos][0])
            else:
                out[key] = None
        return out

    def seq(ind):
        nonlocal pos
        out = []
        while pos < len(lines):
            i, t, where = lines[pos]
            if i < ind or not (t.startswith("- ") or t == "-"):
                if i > ind:
                    raise YamlError(f"{where}: unexpected indentation")
                break
            if i > ind:
                raise YamlError(f"{where}: unexpected indentation")
            rest = t[1:].strip()
            if not rest:
                pos += 1
                out.append(block(ind + 1))
            elif re.match(r"^[^'\"\[][^:]*:(\s|$)", rest):
                # "- key: value" opens a mapping whose keys sit at the text's column
                col = i + (len(t) - len(rest))
                lines[pos] = (col, rest, where)
                out.append(mapping(col))
            else:
                pos += 1
                out.append(_scalar(rest, where))
        return out

    doc = block(0)
    if pos != len(lines):
        raise YamlError(f"{lines[pos][2]}: could not parse {lines[pos][1]!r}")
    return doc


def config_uk(text):
    """The symbols a Config.uk declares, and each one's single-symbol 'depends on' lines."""
    declared, depends, cur = set(), {}, None
    for line in text.splitlines():
        m = re.match(r"^\s*(?:menu)?config\s+([A-Z0-9_]+)", line)
        if m:
            cur = m.group(1)
            declared.add(cur)
            continue
        m = re.match(r"^\s*depends on\s+([A-Z0-9_]+)\s*$", line)
        if m and cur:
            depends.setdefault(cur, []).append(m.group(1))
        elif re.match(r"^\S", line):
            cur = None
    return declared, depends


# --- The schema ------------------------------------------------------------------

SPECS = ("v0.5", "v0.6", "0.5", "0.6")
SCALAR = (str, int, float, bool, type(None))


def check_kconfig(kc, where, errs):
    if isinstance(kc, dict):
        for k, v in kc.items():
            if not isinstance(v, SCALAR):
                errs.append(f"{where}.kconfig.{k}: must be a string, number, boolean or null")
            if not re.fullmatch(r"CONFIG_[A-Z0-9_]+", k):
                errs.append(f"{where}.kconfig: {k} is not a CONFIG_ name")
        return {k: v for k, v in kc.items()}
    if isinstance(kc, list):
        out = {}
        for item in kc:
            if not isinstance(item, str) or not re.fullmatch(r"CONFIG_[A-Z0-9_]+=.*", item):
                errs.append(f"{where}.kconfig: list item {item!r} is not CONFIG_NAME=value")
            else:
                k, v = item.split("=", 1)
                out[k] = v
        return out
    errs.append(f"{where}.kconfig: must be a mapping or a list of strings")
    return {}


def check_component(val, where, errs, kconfig):
    """unikraft/library/template/runtime: string, number, (null), or source/version/kconfig."""
    if isinstance(val, (str, int, float)) or val is None:
        return
    if not isinstance(val, dict):
        errs.append(f"{where}: must be a string or a mapping")
        return
    for k in ("source",):
        if k in val and not isinstance(val[k], str):
            errs.append(f"{where}.{k}: must be a string")
    if "version" in val and not isinstance(val["version"], (str, int, float)):
        errs.append(f"{where}.version: must be a string or number")
    if "kconfig" in val:
        kconfig.update(check_kconfig(val["kconfig"], where, errs))


def check_kraftfile(path, fragments=()):
    errs = []
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8") as f:
            doc = parse_yaml(f.read(), path)
    except (OSError, YamlError) as e:
        return [str(e)]
    if not isinstance(doc, dict):
        return [f"{path}: the top level must be a mapping"]
    spec_keys = [k for k in ("spec", "specification") if k in doc]
    if not spec_keys:
        errs.append("missing the top-level spec attribute (spec: v0.6)")
    elif len(spec_keys) > 1:
        errs.append("both spec and specification given")
    elif str(doc[spec_keys[0]]) not in SPECS:
        errs.append(f"spec {doc[spec_keys[0]]!r}: not a Kraftfile spec (v0.5, v0.6)")
    if "name" in doc and not isinstance(doc["name"], str):
        errs.append("name: must be a string")
    kconfig = {}
    if "unikraft" not in doc and "template" not in doc and "runtime" not in doc:
        errs.append("no unikraft (nor template/runtime) attribute: nothing to build the kernel from")
    for k in ("unikraft", "template", "runtime"):
        if k in doc:
            check_component(doc[k], k, errs, kconfig)
    needs = []   # (set key, the key it depends on): checked once every kconfig is read
    libs = doc.get("libraries", {}) or {}
    if not isinstance(libs, dict):
        errs.append("libraries: must be a mapping of names")
        libs = {}
    for name, lib in libs.items():
        where = f"libraries.{name}"
        if not re.fullmatch(r"[a-zA-Z0-9._-]+", name):
            errs.append(f"{where}: bad library name")
        check_component(lib, where, errs, kconfig)
        src = lib.get("source") if isinstance(lib, dict) else None
        if isinstance(src, str) and not re.match(r"^[a-z+]+://|^git@", src):
            d = os.path.normpath(os.path.join(base, src))
            missing = [f for f in ("Config.uk", "Makefile.uk") if not os.path.isfile(os.path.join(d, f))]
            if missing:
                errs.append(f"{where}.source {src}: {d} is not a Unikraft library (no {', '.join(missing)})")
            else:
                with open(os.path.join(d, "Config.uk"), encoding="utf-8") as f:
                    declared, depends = config_uk(f.read())
                for key in (lib.get("kconfig") or {}) if isinstance(lib.get("kconfig"), dict) else {}:
                    sym = key[len("CONFIG_"):]
                    if sym.startswith("LIBHEAPKIT") and sym not in declared:
                        errs.append(f"{where}.kconfig: {key} is not declared in {d}/Config.uk")
                    if str(lib["kconfig"][key]) == "y":
                        needs.extend((key, f"CONFIG_{dep}") for dep in depends.get(sym, ()))
    targets = doc.get("targets")
    if not isinstance(targets, list) or not targets:
        errs.append("targets: must be a non-empty list")
    else:
        for i, t in enumerate(targets):
            if isinstance(t, str):
                continue
            if not isinstance(t, dict):
                errs.append(f"targets[{i}]: must be a string or a mapping")
                continue
            for want in (("plat", "platform"), ("arch", "architecture")):
                got = [k for k in want if k in t]
                if not got:
                    errs.append(f"targets[{i}]: missing {want[0]}")
                elif not isinstance(t[got[0]], (str, dict)):
                    errs.append(f"targets[{i}].{got[0]}: must be a string or a mapping")
    for key, dep in needs:
        if str(kconfig.get(dep)) != "y":
            errs.append(f"{key}=y depends on {dep}, which is not set to y")
    # The target chooses platform and architecture (kraft sets these).
    for t in targets if isinstance(targets, list) else []:
        if isinstance(t, dict):
            if t.get("plat", t.get("platform")) == "qemu":
                kconfig.update(CONFIG_PLAT_KVM="y", CONFIG_KVM_VMM_QEMU="y")
            if t.get("arch", t.get("architecture")) == "x86_64":
                kconfig["CONFIG_ARCH_X86_64"] = "y"
    if "cmd" in doc:
        c = doc["cmd"]
        if not (isinstance(c, str) or (isinstance(c, list) and all(isinstance(x, str) for x in c))):
            errs.append("cmd: must be a string or a list of strings")
    for frag in fragments:
        with open(frag, encoding="utf-8") as f:
            for line in f:
                m = re.fullmatch(r"(CONFIG_[A-Z0-9_]+)=y\s*", line)
                if m and str(kconfig.get(m.group(1))) != "y":
                    errs.append(f"{m.group(1)}=y of {os.path.basename(frag)} is not in the kconfig")
    return errs


BAD = {
    "no spec": "name: x\nunikraft:\n  version: stable\ntargets:\n  - plat: qemu\n    arch: x86_64\n",
    "bad spec": "spec: v9\nunikraft: stable\ntargets:\n  - qemu/x86_64\n",
    "no targets": "spec: v0.6\nunikraft: stable\n",
    "target without arch": "spec: v0.6\nunikraft: stable\ntargets:\n  - plat: qemu\n",
    "kconfig not scalar": "spec: v0.6\nunikraft:\n  kconfig:\n    CONFIG_A:\n      - x\ntargets:\n  - qemu/x86_64\n",
    "kconfig bad name": "spec: v0.6\nunikraft:\n  kconfig:\n    LIBX: y\ntargets:\n  - qemu/x86_64\n",
    "missing local library": "spec: v0.6\nunikraft: stable\nlibraries:\n  hk:\n    source: ./nowhere\n"
                             "targets:\n  - qemu/x86_64\n",
    "bad yaml": "spec: v0.6\n  unikraft: stable\n",
    "cmd not strings": "spec: v0.6\nunikraft: stable\ntargets:\n  - qemu/x86_64\ncmd:\n  - a: b\n",
}
GOOD = "spec: v0.6\nname: ok\nunikraft:\n  version: stable\n  kconfig:\n    CONFIG_A: 'y'\n" \
       "targets:\n  - plat: qemu\n    arch: x86_64\n  - fc/arm64\ncmd: [\"a=1\", 'b']\n"


def self_test():
    import tempfile
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "Kraftfile")
        for what, text in BAD.items():
            with open(p, "w") as f:
                f.write(text)
            errs = check_kraftfile(p)
            print(f"{'rejected' if errs else 'ACCEPTED'}: {what}: {errs[:1]}")
            bad += not errs
        with open(p, "w") as f:
            f.write(GOOD)
        errs = check_kraftfile(p)
        print(f"{'REJECTED' if errs else 'accepted'}: a good Kraftfile {errs}")
        bad += bool(errs)
        doc = parse_yaml(GOOD)
        want = {"spec": "v0.6", "name": "ok", "unikraft": {"version": "stable", "kconfig": {"CONFIG_A": "y"}},
                "targets": [{"plat": "qemu", "arch": "x86_64"}, "fc/arm64"], "cmd": ["a=1", "b"]}
        if doc != want:
            print(f"PARSE WRONG: {doc}")
            bad += 1
    return 1 if bad else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    frags = []
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--configs":
        frags = [x for x in args[1].split(",") if x]
        args = args[2:]
    if not args:
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        return 2
    status = 0
    for path in args:
        errs = check_kraftfile(path, frags)
        for e in errs:
            print(f"{path}: {e}")
        print(f"{path}: {'FAIL' if errs else 'ok'}")
        status |= bool(errs)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
