"""Time `vibemap index --no-eval` on the 96k demo catalogue, stage by stage.

    .venv/bin/python bench/bench_index.py [--n 96000] [--repeat 3] [--csv PATH] [--eval]

Each build runs in a fresh subprocess (cold imports included, as a user would see it);
stage times come from the artifact's manifest, wall time from the subprocess. Prints the
median of each and a markdown snippet for bench/RESULTS.md. Target: wall < 10 s for the
96k demo without evaluation on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model  # noqa: E402  (bench/machine.py)

REPO = Path(__file__).resolve().parents[1]


def one_build(args: argparse.Namespace, out: Path) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "vibemap.cli", "index", "--out", str(out)]
    cmd += [args.csv] if args.csv else ["--demo-tracks", str(args.n)]
    if not args.eval:
        cmd.append("--no-eval")
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    manifest = json.loads((out / "manifest.json").read_text())
    # the CLI prints "✓ <stage> <seconds> s" as each stage ends (the write stage included)
    stages = {m[1]: float(m[2]) for m in re.finditer(r"✓ (\S+)\s+([\d.]+) s", proc.stdout)}
    return wall, {**manifest, "timings": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=96_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--csv", help="index this CSV instead of the demo catalogue")
    parser.add_argument("--eval", action="store_true", help="include the validation analyses")
    args = parser.parse_args()
    walls, stages = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            wall, manifest = one_build(args, Path(tmp) / f"b{i}")
            walls.append(wall)
            for name, secs in manifest["timings"].items():
                stages.setdefault(name, []).append(secs)
            sys.stdout.write(f"run {i + 1}: wall {wall:.2f} s, stages {manifest['timings']}\n")
        rows = manifest["rows"]["kept"]
    what = args.csv or f"synthetic demo catalogue, {args.n:,} tracks"
    cmd = " ".join(["bench/bench_index.py", *sys.argv[1:]])
    lines = [
        f"### `vibemap index{'' if args.eval else ' --no-eval'}` — {what}",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}. Command: `.venv/bin/python {cmd}` "
        f"(median of {args.repeat} fresh processes; {rows:,} tracks kept).",
        "",
        "| stage | median s |",
        "| --- | ---: |",
        *[f"| {name} | {statistics.median(v):.2f} |" for name, v in stages.items()],
        f"| **wall, incl. interpreter start and imports** | **{statistics.median(walls):.2f}** |",
    ]
    sys.stdout.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
