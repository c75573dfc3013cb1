"""`make demo` from the user's side: seconds from `vibemap demo` to the UI answering.

Runs ``vibemap demo --index <fresh dir> --port <free>`` twice: first with no artifact (the
real demo catalogue is built, evaluated, then served: what a clean clone's `make demo` does
after the install), then again on the artifact the first run left (load and serve only).
"Ready" is GET /ui/ and GET /health both answering 200 (the UI page answers before the API
has loaded the artifact). The venv install is not timed (pip's time is the network's).

    .venv/bin/python bench/bench_demo.py [--demo-sample N] [--no-eval] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    HOST,
    command_line,
    emit,
    free_port,
    machine_info,
    machine_line,
    md_row,
    serve,
    write_json,
)


def time_demo(index: Path, extra: list[str], log: Path) -> float:
    """Seconds from starting `vibemap demo` until the UI and the API both answer."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    cmd = [str(Path(sys.executable).with_name("vibemap")), "demo", "--index", str(index),
           "--port", str(port), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBEMAP_")}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    with serve(cmd, [f"{base}/ui/", f"{base}/health"], log, env=env, timeout=900) as server:
        return server.ready_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo-sample", type=int, metavar="N",
                   help="a seeded sample of N real tracks (a quick smoke run)")
    p.add_argument("--no-eval", action="store_true", help="build without the analyses")
    p.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    extra = [*(["--demo-sample", str(args.demo_sample)] if args.demo_sample else []),
             *(["--no-eval"] if args.no_eval else [])]
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        index = Path(tmp) / "indexes" / "demo"
        t0 = time.perf_counter()
        cold = time_demo(index, extra, Path(tmp) / "cold.log")
        warm = time_demo(index, extra, Path(tmp) / "warm.log")
        total = time.perf_counter() - t0
    catalogue = (f"real demo, sample of {args.demo_sample:,}" if args.demo_sample
                 else "real demo (31,956 tracks)") + (", --no-eval" if args.no_eval else "")
    report = {"machine": machine_info(), "command": command_line("bench_demo.py", argv or
                                                                 sys.argv[1:]),
              "catalogue": catalogue, "cold_ready_s": round(cold, 1),
              "warm_ready_s": round(warm, 1), "total_s": round(total, 1)}
    emit(f"`{report['command']}` on {machine_line()}")
    emit()
    emit(md_row("catalogue", "no artifact: build + serve, s", "artifact present: serve, s"))
    emit(md_row("---", "---:", "---:"))
    emit(md_row(catalogue, f"{cold:.1f}", f"{warm:.1f}"))
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
