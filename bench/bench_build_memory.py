"""Peak memory and time of `vibemap index --no-eval` (issue 13 item 2).

    .venv/bin/python bench/bench_build_memory.py --input DIR_OR_FILE [...] [--synthetic N ...]
        [--workdir DIR] [--json OUT]

Each build runs as ``/usr/bin/time -v vibemap index INPUT --no-eval --out DIR`` in a fresh
process, as a user runs it; the figures are that process's wall time and maximum resident
set size (what the issue's targets name: 10M < 4 GiB, 1M < 600 MiB). ``--input`` takes
anything ``vibemap index`` reads (a Parquet directory such as the lead's
``/work/bench-data/demo_10m_parquet``); ``--synthetic N`` builds the synthetic demo
catalogue of N tracks (generator included, so its frame counts too). The stage times are
the manifest's. Artifacts go under ``--workdir`` (default a temporary directory) and are
removed after each build.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import command_line, emit, machine_info, machine_line, md_row, write_json  # noqa: E402

STAGES = ("load", "scale", "cluster", "export", "index", "facts")


def _time_v(text: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}: (.+)", text)
    if not match:
        raise RuntimeError(f"/usr/bin/time -v printed no {label!r}:\n{text[-2000:]}")
    return match.group(1).strip()


def _seconds(clock: str) -> float:
    """'h:mm:ss' or 'm:ss.ss' -> seconds."""
    total = 0.0
    for part in clock.split(":"):
        total = total * 60 + float(part)
    return total


def build(args: list[str], out: Path) -> dict:
    """One `vibemap index` in a fresh process: wall s, max RSS MiB, rows, stage times."""
    vibemap = Path(sys.executable).with_name("vibemap")
    cmd = ["/usr/bin/time", "-v", str(vibemap), "index", *args, "--no-eval", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    wall = _time_v(done.stderr, "Elapsed (wall clock) time (h:mm:ss or m:ss)")
    return {
        "args": args,
        "wall_s": round(_seconds(wall), 1),
        "peak_mib": round(int(_time_v(done.stderr, "Maximum resident set size (kbytes)")) / 1024),
        "rows": manifest["rows"]["kept"],
        "timings": manifest.get("timings", {}),
    }


def report(results: list[dict], argv: list[str]) -> None:
    emit()
    emit("### `vibemap index --no-eval`: peak memory and time (`/usr/bin/time -v`)")
    emit()
    emit(f"`{command_line('bench_build_memory.py', argv)}` on {machine_line()} at the end.")
    emit()
    emit(md_row("input", "rows", "wall s", "**max RSS MiB**", "stages s: "
                + " / ".join(STAGES)))
    emit("| --- | ---: | ---: | ---: | --- |")
    for r in results:
        emit(md_row(" ".join(r["args"]), f"{r['rows']:,}", f"{r['wall_s']:.0f}",
                    f"**{r['peak_mib']:,}**",
                    " / ".join(f"{r['timings'].get(s, 0):.1f}" for s in STAGES)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="*", default=[], help="inputs for vibemap index")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[],
                        help="sizes of the synthetic demo catalogue")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    runs = [[str(p)] for p in args.input] + [["--synthetic", str(n)] for n in args.synthetic]
    if not runs:
        parser.error("give at least one --input or --synthetic size")
    results = []
    with tempfile.TemporaryDirectory(prefix="vibemap-build-memory-", dir=args.workdir) as tmp:
        for i, run in enumerate(runs):
            out = Path(tmp) / f"build-{i}"
            r = build(run, out)
            shutil.rmtree(out)
            emit(f"{' '.join(run)}: {r['rows']:,} rows, {r['wall_s']:.0f} s, "
                 f"max RSS {r['peak_mib']:,} MiB")
            results.append(r)
    report(results, argv)
    write_json(args.json, {"machine": machine_info(), "argv": argv, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
