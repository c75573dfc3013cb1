"""Serving start-up as a user sees it: seconds from `vibemap serve` to its first answers.

    .venv/bin/python bench/bench_serve_start.py --index DIR [--baseline REPO] [--rounds 3]
        [--cold] [--json OUT]

Each round starts a fresh `vibemap serve --index DIR` (this checkout's, beside the Python
running the bench, then the ``--baseline`` checkout's ``.venv/bin/vibemap``: a console
script, so the working directory's ``vibemap/`` folder cannot shadow the checkout's own
code) and records, from the
moment the command starts: the first 200 of ``GET /v1/artifact`` (ready), then of
``GET /v1/tracks/{id}/similar`` (a light route, answered in the server process) and of
``POST /v1/recommendations`` (a heavy route, answered by a heavy child process, which starts
beside the server and loads the artifact itself). ``--cold`` drops the artifact's files from
the page cache before each start (``posix_fadvise`` DONTNEED, as ``bench_cli_scale --cold``).
Sides alternate within a round, so drift from other jobs falls on both alike; compare the
sides of one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_cli_scale import evict  # noqa: E402
from bench.harness import (  # noqa: E402
    HOST,
    command_line,
    emit,
    free_port,
    http_get,
    machine_info,
    machine_line,
    md_row,
    serve,
    write_json,
)


def _first_id(index: Path) -> str:
    """A track id of the artifact (row 0 of its track table), read without vibemap."""
    import pyarrow.ipc as ipc

    with ipc.open_file(index / "tracks.arrow") as f:
        return str(f.get_batch(0).column("track_id")[0])


def _post(url: str, body: dict, timeout: float = 60.0) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback
        return r.status


def start_once(vibemap: Path, index: Path, track_id: str, cold: bool, log: Path) -> dict:
    """One `vibemap serve` (``vibemap``: a checkout's console script): seconds to each first
    answer."""
    if cold:
        evict(index)
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBEMAP_")}
    cmd = [str(vibemap), "serve", "--index", str(index), "--host", HOST, "--port", str(port)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with serve(cmd, [base + "/v1/artifact"], log, env=env, timeout=300) as server:
        out = {"ready_s": server.ready_s, "load_avg": load}
        status, _ = http_get(f"{base}/v1/tracks/{track_id}/similar", timeout=60)
        out["similar_s"] = time.perf_counter() - t0
        heavy = _post(base + "/v1/recommendations", {"seed_tracks": [track_id], "limit": 10})
        out["heavy_s"] = time.perf_counter() - t0
        if status != 200 or heavy != 200:
            raise RuntimeError(f"similar answered {status}, recommendations {heavy}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, help="another checkout (with its .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sides = {"this checkout": Path(sys.executable).parent / "vibemap"}
    if args.baseline:
        sides[f"baseline {args.baseline.name}"] = args.baseline.resolve() / ".venv/bin/vibemap"
    for script in sides.values():
        if not script.is_file():
            parser.error(f"{script}: no such console script (install that checkout)")
    track_id = _first_id(args.index)
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name, script in sides.items():
                runs[name].append(start_once(script, args.index, track_id, args.cold,
                                             Path(tmp) / "serve.log"))
    emit(f"`{command_line('bench_serve_start.py', sys.argv[1:] if argv is None else argv)}`"
         f" — {machine_line()}, {'cold' if args.cold else 'warm'} page cache")
    emit()
    emit(md_row("side", "round", "load avg", "ready (/v1/artifact), s", "first /similar, s",
                "first heavy (POST /v1/recommendations), s"))
    emit(md_row(*["---"] * 2, *["---:"] * 4))
    for name, rows in runs.items():
        for i, r in enumerate(rows, 1):
            emit(md_row(name, i, f"{r['load_avg']:.1f}", f"{r['ready_s']:.2f}",
                        f"{r['similar_s']:.2f}", f"{r['heavy_s']:.2f}"))
    write_json(args.json, {"machine": machine_info(), "index": str(args.index),
                           "cold": args.cold, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
