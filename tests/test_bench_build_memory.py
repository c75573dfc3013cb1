"""bench/bench_build_memory.py at a toy size, so the script cannot rot unnoticed (its real
sizes, 1M and 10M, run by hand: see bench/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from factories import write_tracks_csv

REPO = Path(__file__).resolve().parents[1]


def test_bench_build_memory_runs_a_csv_at_a_toy_size(tmp_path: Path) -> None:
    csv = write_tracks_csv(tmp_path / "toy.csv", n=300)
    out = tmp_path / "mem.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_build_memory.py"), "--input", str(csv),
         "--json", str(out), "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (r,) = json.loads(out.read_text())["results"]
    assert r["rows"] == 300 and r["peak_mib"] > 0 and r["wall_s"] > 0
    assert {"load", "export", "index"} <= set(r["timings"])
    assert "**max RSS MiB**" in done.stdout
    assert list(tmp_path.glob("vibemap-build-memory-*")) == []  # the artifacts were removed
