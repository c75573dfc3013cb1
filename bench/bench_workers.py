"""Scaling with `vibemap serve --workers N`: GET /v1/tracks/{id}/similar req/s per N, with wrk.

    .venv/bin/python bench/bench_workers.py --index /tmp/demo [--workers 1,2] [--duration 20]
        [--rounds 2] [--connections 32] [--wrk-threads 1] [--json OUT]

For each round and each N (interleaved, so drift from other jobs falls on every N alike) a
fresh `vibemap serve --workers N` starts, wrk warms it up, then drives it for
``--duration / --rounds`` seconds over ``--ids`` track ids (bench_http's Lua script and wrk
parser). Reported: req/s per N, the speed-up over one worker and the efficiency
(speed-up / N; the issue's target is >= 0.8 for N up to the core count). wrk shares the
machine's cores with the server: on a 2-core machine it takes a good part of one, so the
figure for N = 2 says as much about the load generator as about the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_http import LUA, WARMUP_S, _combine, _track_ids, _wrk  # noqa: E402
from bench.harness import (  # noqa: E402
    HOST,
    command_line,
    cores,
    emit,
    free_port,
    machine_info,
    machine_line,
    md_row,
    serve,
    write_json,
)


def measure(wrk: str, index: Path, workers: int, script: Path, seconds: int, args,
            log: Path) -> dict:
    """One server with ``workers`` workers: warm-up, then one measured wrk run."""
    base = f"http://{HOST}:{free_port()}"
    cmd = [str(REPO / ".venv" / "bin" / "vibemap"), "serve", "--index", str(index), "--host",
           HOST, "--port", base.rsplit(":", 1)[1], "--workers", str(workers)]
    env = {**os.environ, "VIBEMAP_SEARCH_THREADS": "1"}
    with serve(cmd, [base + "/health"], log, env=env, timeout=180):
        _wrk(wrk, base, script, WARMUP_S, args.connections, args.wrk_threads)
        return _wrk(wrk, base, script, seconds, args.connections, args.wrk_threads)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="artifact directory")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--duration", type=int, default=20, help="measured seconds per N, in all")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--ids", type=int, default=2000)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    if not Path(wrk).is_file():
        p.error("wrk is not installed (apt-get install -y wrk)")
    seconds = max(1, args.duration // args.rounds)
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="vibemap-workers-") as tmp_name:
        tmp = Path(tmp_name)
        ids = _track_ids(args.index, args.ids, 0)
        script = tmp / "similar.lua"
        script.write_text(LUA % {"ids": ", ".join(json.dumps(t) for t in ids),
                                 "prefix": "/v1/tracks/"})
        for i in range(args.rounds):
            for n in counts[i % len(counts):] + counts[:i % len(counts)]:
                r = measure(wrk, args.index, n, script, seconds, args, tmp / f"serve_{n}.log")
                runs[n].append(r)
                emit(f"round {i + 1}, {n} worker(s): {r['rps']:,.0f} req/s, "
                     f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, {r['errors']} errors")
    results = {n: _combine(rs) for n, rs in runs.items()}
    one = results[counts[0]]["rps"] if counts[0] == 1 else None
    emit()
    emit(f"`{command_line('bench_workers.py', argv)}` on {machine_line()} (cores usable: "
         f"{cores()}; wrk {args.wrk_threads} thread(s), {args.connections} connections, on the "
         "same cores)")
    emit()
    emit(md_row("workers", "req/s", "rounds", "speed-up", "efficiency", "p50 ms", "p99 ms",
                "errors"))
    emit(md_row(*["---:"] * 8))
    for n, r in results.items():
        speed = r["rps"] / one if one else float("nan")
        r["speedup"], r["efficiency"] = round(speed, 3), round(speed / n, 3)
        emit(md_row(n, f"{r['rps']:,.0f}", " / ".join(f"{x:,.0f}" for x in r["rounds_rps"]),
                    f"{speed:.2f}x", f"{speed / n:.2f}", r["p50_ms"], r["p99_ms"],
                    r["errors"] + r["non_2xx"]))
    write_json(args.json, {"argv": argv, "machine": machine_info(), "cores": cores(),
                           "results": {str(n): r for n, r in results.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
