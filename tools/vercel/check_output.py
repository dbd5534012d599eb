#!/usr/bin/env python3
"""Check the Build Output (`.vercel/output`) that `vercel build` left in a
copy of the repo, against that copy's own api/, Cargo.toml and vercel.json
(nothing here is a hard-coded list):

- config.json is Build Output API version 3, and its crons are vercel.json's;
- every vercel.json rewrite, tried on a concrete path, is routed by
  config.json's routes to its destination (parameters carried over);
- exactly one `functions/<path>.func` per `.rs` file under api/ (Vercel
  skips files starting with `_` or `.`), and no other function;
- each `.vc-config.json` names the Rust runtime @vercel/rust 20 emits
  (`runtime`/`handler` "executable", x86_64) with vercel.json's memory and
  maxDuration for that file, and its executable is an executable ELF file,
  byte for byte the release binary of that file's [[bin]];
- every file in public/ (outputDirectory) is in static/.

    check_output.py <copy of the repo>

Python 3.11+ standard library only.
"""

import fnmatch
import hashlib
import json
import os
import re
import sys
import tomllib

errors = []


def check(ok, message):
    if not ok:
        errors.append(message)
    return ok


def glob_to_re(pattern):
    # vercel.json `functions` keys: `**/` is any depth, `*` stays in a segment.
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def concrete(path, values):
    return re.sub(r":(\w+)", lambda m: values.setdefault(m.group(1), f"v{len(values)}x{m.group(1)}"), path)


def route(routes, path):
    """The destination path config.json's routes send `path` to (the first
    route with a dest whose src matches), or None."""
    for r in routes:
        src, dest = r.get("src"), r.get("dest")
        if src is None or dest is None:
            continue
        m = re.match(src, path)
        if not m:
            continue
        dest = re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))) or "", dest)
        dest = re.sub(r"\$(\w+)", lambda g: m.groupdict().get(g.group(1)) or "", dest)
        return dest
    return None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    root = sys.argv[1]
    out = os.path.join(root, ".vercel", "output")
    with open(os.path.join(root, "vercel.json")) as f:
        vercel = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        bins = {b["path"]: b["name"] for b in tomllib.load(f)["bin"]}
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))

    check(config.get("version") == 3, f"config.json version {config.get('version')!r}, not 3")
    check(config.get("crons") == vercel.get("crons"),
          f"config.json crons {config.get('crons')!r} != vercel.json's {vercel.get('crons')!r}")

    routes = config.get("routes", [])
    for rw in vercel.get("rewrites", []):
        values = {}
        path = concrete(rw["source"], values)
        want = concrete(rw["destination"], values)
        got = route(routes, path)
        got_path = got.split("?", 1)[0] if got else None
        check(got_path == want, f"rewrite {rw['source']} -> {rw['destination']}: "
              f"{path} is routed to {got!r}, not {want}")

    api = os.path.join(root, "api")
    expected = set()
    for dirpath, dirnames, filenames in os.walk(api):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        for name in filenames:
            if name.endswith(".rs") and not name.startswith((".", "_")):
                expected.add(os.path.relpath(os.path.join(dirpath, name), root))
    functions = os.path.join(out, "functions")
    found = set()
    for dirpath, dirnames, _ in os.walk(functions):
        for d in list(dirnames):
            if d.endswith(".func"):
                found.add(os.path.relpath(os.path.join(dirpath, d), functions)[: -len(".func")])
                dirnames.remove(d)
    want_funcs = {f[: -len(".rs")] for f in expected}
    check(found == want_funcs,
          f"functions: missing {sorted(want_funcs - found)}, unexpected {sorted(found - want_funcs)}")

    settings = [(glob_to_re(k), v) for k, v in vercel.get("functions", {}).items()]
    sizes, hashes = {}, {}
    for file in sorted(expected):
        func = os.path.join(functions, file[: -len(".rs")] + ".func")
        vc_path = os.path.join(func, ".vc-config.json")
        if not check(os.path.isfile(vc_path), f"{file}: no {vc_path}"):
            continue
        with open(vc_path) as f:
            vc = json.load(f)
        want = {"runtime": "executable", "handler": "executable",
                "architecture": "x86_64", "runtimeLanguage": "rust"}
        for pattern, values in settings:
            if pattern.match(file):
                want.update({k: values[k] for k in ("memory", "maxDuration") if k in values})
        for key, value in want.items():
            check(vc.get(key) == value, f"{file}: .vc-config.json {key} = {vc.get(key)!r}, want {value!r}")
        # A local `vercel build` leaves the binary where cargo put it and
        # names it in filePathMap (relative to the project root); the
        # deploy uploads it as the function's `handler` file.
        handler = vc.get("handler", "")
        mapped = vc.get("filePathMap", {}).get(handler)
        exe = os.path.join(root, mapped) if mapped else os.path.join(func, handler)
        if not check(os.path.isfile(exe) and os.access(exe, os.X_OK), f"{file}: {exe} is not an executable file"):
            continue
        with open(exe, "rb") as f:
            check(f.read(4) == b"\x7fELF", f"{file}: {exe} is not an ELF binary")
        bin_name = bins.get(file)
        if check(bin_name is not None, f"{file}: no [[bin]] in Cargo.toml"):
            built = os.path.join(target, "release", bin_name)
            check(os.path.realpath(exe) == os.path.realpath(built),
                  f"{file}: its executable is {exe}, not the release binary {built}")
        sizes[file] = os.path.getsize(exe)
        hashes.setdefault(sha256(exe), []).append(file)
        extra = sorted(set(os.listdir(func)) - {".vc-config.json", handler})
        check(not extra, f"{file}: unexpected files in the function: {extra}")
    for files in hashes.values():
        check(len(files) == 1, f"identical executables: {files}")

    public = os.path.join(root, vercel.get("outputDirectory", "public"))
    static = os.path.join(out, "static")
    for dirpath, _, filenames in os.walk(public):
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), public)
            check(os.path.isfile(os.path.join(static, rel)), f"static/{rel} missing")

    if errors:
        for e in errors:
            print(f"check_output: FAIL: {e}")
        sys.exit(1)
    total = sum(sizes.values())
    print(f"check_output: {len(found)} functions, one per api/ file; "
          f"{len(vercel.get('rewrites', []))} rewrites and {len(vercel.get('crons', []))} cron(s) as in vercel.json; "
          f"runtime executable/x86_64")
    print(f"check_output: executables {min(sizes.values()) / 2**20:.1f}-{max(sizes.values()) / 2**20:.1f} MiB, "
          f"{total / 2**20:.0f} MiB in all")


if __name__ == "__main__":
    main()
