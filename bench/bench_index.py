"""Time `vibemap index --no-eval` on the 96k demo catalogue, stage by stage.

    .venv/bin/python bench/bench_index.py [--n 96000] [--repeat 3] [--csv PATH] [--eval]
        [--json OUT]

Each build runs in a fresh subprocess (cold imports included, as a user would see it);
stage times come from the artifact's manifest, wall time from the subprocess. Prints the
median of each and a markdown snippet for bench/RESULTS.md. Target: wall < 10 s for the
96k demo without evaluation on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import command_line, emit, machine_info, machine_line, md_row, write_json  # noqa: E402


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
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    walls, stages = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            wall, manifest = one_build(args, Path(tmp) / f"b{i}")
            walls.append(wall)
            for name, secs in manifest["timings"].items():
                stages.setdefault(name, []).append(secs)
            emit(f"run {i + 1}: wall {wall:.2f} s, stages {manifest['timings']}")
        rows = manifest["rows"]["kept"]
    what = args.csv or f"synthetic demo catalogue, {args.n:,} tracks"
    medians = {name: round(statistics.median(v), 3) for name, v in stages.items()}
    wall = statistics.median(walls)
    lines = [
        "",
        f"### `vibemap index{'' if args.eval else ' --no-eval'}` — {what}",
        "",
        f"Machine: {machine_line()}. Command: `{command_line('bench_index.py', sys.argv[1:])}` "
        f"(median of {args.repeat} fresh processes; {rows:,} tracks kept).",
        "",
        "| stage | median s |",
        "| --- | ---: |",
        *[md_row(name, f"{v:.2f}") for name, v in medians.items()],
        md_row("**wall, incl. interpreter start and imports**", f"**{wall:.2f}**"),
    ]
    for line in lines:
        emit(line)
    write_json(args.json, {"machine": machine_info(), "argv": sys.argv[1:], "rows": rows,
                           "wall_s": round(wall, 3), "stages_s": medians})


if __name__ == "__main__":
    main()
