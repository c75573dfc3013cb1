"""The real `vibemap index` and the recommender Engine on 1M-10M synthetic demo tracks.

    .venv/bin/python bench/bench_cli_scale.py --sizes 1000000 10000000 [--queries 1000]
        [--seed 0] [--json OUT] [--workdir DIR]
    .venv/bin/python bench/bench_cli_scale.py --artifacts DIR [DIR ...]   # serve step only

``bench_scale.py`` measures the vector index alone on features; this one measures what a
user runs, end to end. For each size, in fresh child processes (so one step's memory does
not count against the next):

1. build: ``vibemap index --no-eval --demo-tracks N`` (the CLI's own ``main``: the demo
   generator with its text metadata, cleaning, K-Means, the index with recall tuning, and
   the whole artifact incl. the labelled CSV export): wall time and peak RSS;
2. serve: ``Engine.load`` of that artifact, as ``vibemap serve`` does before it answers
   (the checksums of the files it reads verified): load time and CPU time, peak and settled
   RSS; then, on one search thread,
   ``--queries`` random calls of ``similar`` (scope same, and any), ``recommend`` with one
   seed and a ``min_energy`` filter (exact over the filtered rows), and ``search_tracks``
   with a 4-letter prefix of a track name: p50 / p99 ms.

The load's CPU time (``process_time``, every thread) depends far less than its wall time
on what else runs.
Peak RSS is the child's ``ru_maxrss``; settled RSS its VmRSS after the load (format 3 maps
the artifact's files: mapped pages count once touched, and are shared between workers).
The artifacts go to ``--workdir`` (default a temporary directory; 10M takes about 5 GB of
disk) and are removed at the end; ``--artifacts`` measures the serve step of artifacts
already built (e.g. by ``vibemap index --no-eval --demo-tracks N``) and keeps them.
``--cold`` evicts each artifact's files from the page cache first (``posix_fadvise``
DONTNEED per file, symlinks followed), as after a reboot or another job's reads: the
load is then bound by the disk. Each serve step records the load average before it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    command_line,
    emit,
    machine_info,
    machine_line,
    md_row,
    peak_rss_mib,
    status_kib,
    write_json,
)

TARGET_BUILD_S = 600.0
TARGET_PEAK_GIB = 8.0 * 1e9 / 2**30  # the "8 GB"


def _gib(kib: float) -> float:
    return round(kib / 2**20, 2)


def _gib_of_mib(mib: float) -> float:
    return round(mib / 1024, 2)


# ------------------------------------------------------------------ child steps
def _build(n: int, out: Path, seed: int) -> dict:
    from vibemap.cli import main

    t0 = time.perf_counter()
    printed = io.StringIO()
    stdout, sys.stdout = sys.stdout, printed
    try:
        rc = main(["index", "--no-eval", "--demo-tracks", str(n), "--seed", str(seed),
                   "--out", str(out)])
    finally:
        sys.stdout = stdout
    if rc != 0:
        raise RuntimeError(f"vibemap index exited with {rc}:\n{printed.getvalue()[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    timings = dict(manifest["timings"])  # the stages before the write, which it records
    write = re.search(r"write\s+([0-9.]+) s", printed.getvalue())
    if write:
        timings["write"] = float(write.group(1))
    return {"build_s": round(time.perf_counter() - t0, 1),
            "build_peak_gib": _gib_of_mib(peak_rss_mib()),
            "timings": timings, "index": manifest["build"]["index"],
            "rows": manifest["rows"]["kept"],
            "artifact_gib": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
                                  / 2**30, 2)}


def _pcts(fn, args: list) -> dict:
    for a in args[:20]:
        fn(a)  # warm-up
    ms = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        ms.append((time.perf_counter() - t0) * 1e3)
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3), "calls": len(ms)}


def _serve(out: Path, queries: int, seed: int) -> dict:
    from vibemap.recommender.engine import Engine, set_search_threads

    set_search_threads(1)
    t0, cpu0 = time.perf_counter(), time.process_time()
    engine = Engine.load(out)
    load_s = time.perf_counter() - t0
    result = {"load_s": round(load_s, 2), "load_cpu_s": round(time.process_time() - cpu0, 2),
              "load_peak_gib": _gib_of_mib(peak_rss_mib()),
              "settled_gib": _gib(status_kib("VmRSS"))}
    rng = np.random.default_rng(seed)
    rows = rng.choice(engine.n_tracks, size=queries, replace=False).tolist()
    ids = [engine.summary(r)["track_id"] for r in rows]
    prefixes = [engine.summary(r)["name"][:4] or "a" for r in rows]
    few = max(20, queries // 10)  # filtered and text queries scan every row: fewer calls
    result["queries"] = {
        "similar, scope same": _pcts(lambda t: engine.similar(t), ids),
        "similar, scope any": _pcts(lambda t: engine.similar(t, scope="any"), ids),
        "recommend, 1 seed + min_energy 0.5": _pcts(
            lambda t: engine.recommend([t], min_energy=0.5), ids[:few]),
        "search_tracks, 4-letter prefix": _pcts(
            lambda q: engine.search_tracks(q), prefixes[:few]),
    }
    return result


def evict(directory: Path) -> None:
    """Drop ``directory``'s files (symlinks followed) from the page cache."""
    for f in directory.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _child(step: str, n: int, out: Path, args: argparse.Namespace) -> dict:
    result = out.with_suffix(f".{step}.json")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_step", step, "--_n", str(n),
           "--_out", str(out), "--_result", str(result), "--queries", str(args.queries),
           "--seed", str(args.seed)]
    if step == "serve" and args.cold:
        evict(out)
    load_avg = round(os.getloadavg()[0], 2)
    subprocess.run(cmd, check=True, cwd=REPO)
    return {**json.loads(result.read_text()), "load_avg": load_avg}


def _report(results: list[dict], argv: list[str]) -> None:
    emit()
    emit("### `vibemap index` and the Engine at scale (synthetic demo catalogue, K=4, cosine)")
    emit()
    emit(f"`{command_line('bench_cli_scale.py', argv)}` on {machine_line()} at the end.")
    emit()
    emit(md_row("", *(f"{r['rows']:,}" for r in results)))
    emit("| --- |" + " ---: |" * len(results))

    def row(label: str, fn) -> None:
        emit(md_row(label, *(fn(r) for r in results)))

    built = "build_s" in results[0]
    if built:
        row("**build** (`vibemap index --no-eval`), s", lambda r: f"**{r['build_s']:.0f}**")
        row("of which load / cluster / index / write, s", lambda r: " / ".join(
            f"{r['timings'].get(k, 0):.1f}" for k in ("load", "cluster", "index", "write")))
        row("**build peak RSS**, GiB", lambda r: f"**{r['build_peak_gib']:.2f}**")
    row("artifact on disk, GiB", lambda r: f"{r['artifact_gib']:.2f}")
    row("index", lambda r: r["index"])
    row("**Engine.load** (what `vibemap serve` does first), s",
        lambda r: f"**{r['load_s']:.1f}**")
    row("its CPU time (all threads), s; load average before it",
        lambda r: f"{r['load_cpu_s']:.1f}; {r['load_avg']:.1f}")
    row("Engine peak / settled RSS, GiB",
        lambda r: f"{r['load_peak_gib']:.2f} / {r['settled_gib']:.2f}")
    for name in results[0]["queries"]:
        row(f"{name}: p50 / p99 ms", lambda r, name=name: "{p50_ms:.2f} / {p99_ms:.2f}".format(
            **r["queries"][name]))
    emit()
    for r in results if built else []:
        build_ok = r["build_s"] < TARGET_BUILD_S and r["build_peak_gib"] < TARGET_PEAK_GIB
        emit(f"{r['rows']:,} tracks: the build {'meets' if build_ok else 'MISSES'} the targets "
             f"(< 10 min, < 8 GB = {TARGET_PEAK_GIB:.2f} GiB peak); the engine's peak is "
             f"{'under' if r['load_peak_gib'] < TARGET_PEAK_GIB else 'OVER'} 8 GB.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workdir", type=Path, help="where the artifacts go (default: a "
                                                     "temporary directory)")
    parser.add_argument("--artifacts", type=Path, nargs="+",
                        help="serve step only, on these built artifacts")
    parser.add_argument("--cold", action="store_true", help="evict each artifact's files "
                        "from the page cache before its serve step")
    parser.add_argument("--_step", choices=["build", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--_n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._step:
        result = (_build(args._n, args._out, args.seed) if args._step == "build"
                  else _serve(args._out, args.queries, args.seed))
        write_json(args._result, result)
        return 0
    if any(n < 1000 for n in args.sizes) or args.queries < 20:
        parser.error("--sizes must be >= 1000 and --queries >= 20")

    results = []
    if args.artifacts:
        for out in args.artifacts:
            manifest = json.loads((out / "manifest.json").read_text())
            r = {"rows": manifest["rows"]["kept"], "index": manifest["build"]["index"],
                 "artifact_gib": round(sum(f.stat().st_size for f in out.rglob("*")
                                           if f.is_file()) / 2**30, 2)}
            r.update(_child("serve", r["rows"], out, args))
            emit(f"{r['rows']:,} tracks: engine load {r['load_s']:.1f} s ({r['load_cpu_s']:.1f} s "
                 f"CPU, load average {r['load_avg']:.1f}), peak "
                 f"{r['load_peak_gib']:.2f} GiB, settled {r['settled_gib']:.2f} GiB")
            results.append(r)
        _report(results, argv)
        write_json(args.json, {"machine": machine_info(), "argv": argv, "results": results})
        return 0
    with tempfile.TemporaryDirectory(prefix="vibemap-cli-scale-", dir=args.workdir) as tmp:
        for n in args.sizes:
            out = Path(tmp) / f"demo-{n}"
            emit(f"{n:,} tracks: building {out} ...")
            r = _child("build", n, out, args)
            emit(f"  build {r['build_s']:.0f} s, peak {r['build_peak_gib']:.2f} GiB")
            r.update(_child("serve", n, out, args))
            emit(f"  engine load {r['load_s']:.0f} s, peak {r['load_peak_gib']:.2f} GiB, "
                 f"settled {r['settled_gib']:.2f} GiB")
            results.append(r)
            for f in Path(tmp).glob(f"demo-{n}*"):  # free the disk before the next size
                subprocess.run(["rm", "-rf", str(f)], check=True)
    _report(results, argv)
    write_json(args.json, {"machine": machine_info(), "argv": argv, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
