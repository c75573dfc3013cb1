"""bench/bench_cli_scale.py end to end at a toy size, so the script cannot rot unnoticed
(its real sizes, 1M and 10M, run by hand: see bench/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_cli_scale_runs_build_and_engine_at_a_toy_size(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_cli_scale.py"), "--sizes", "3000",
         "--queries", "20", "--json", str(out), "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (r,) = json.loads(out.read_text())["results"]
    assert r["rows"] == 3000 and r["index"] == "flat"
    assert 0 < r["build_s"] and 0 < r["build_peak_gib"] and 0 < r["load_peak_gib"]
    assert set(r["timings"]) >= {"load", "cluster", "index", "write"}
    for name, q in r["queries"].items():
        assert 0 < q["p50_ms"] <= q["p99_ms"], name
    assert "| **build peak RSS**, GiB |" in done.stdout
    assert list(tmp_path.glob("vibemap-cli-scale-*")) == []  # the artifacts were removed


def test_bench_cli_scale_serves_an_artifact_already_built(tmp_path: Path) -> None:
    from factories import build_tiny_artifact

    art = build_tiny_artifact(tmp_path, n=300, n_clusters=3)
    out = tmp_path / "serve.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_cli_scale.py"), "--artifacts", str(art),
         "--queries", "20", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (r,) = json.loads(out.read_text())["results"]
    assert r["rows"] == 300 and "build_s" not in r and 0 < r["load_s"]
    assert "| **Engine.load** (what `vibemap serve` does first), s |" in done.stdout
    assert art.is_dir()  # kept


def test_bench_serve_start_times_a_real_serve_against_a_baseline(tmp_path: Path) -> None:
    """bench/bench_serve_start.py on a tiny artifact, this checkout as its own baseline:
    ready, first light and first heavy answer, in order, for both sides."""
    from factories import build_tiny_artifact

    art = build_tiny_artifact(tmp_path, n=300, n_clusters=3)
    out = tmp_path / "start.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_serve_start.py"), "--index", str(art),
         "--baseline", str(REPO), "--rounds", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 2
    for (r,) in runs.values():
        assert 0 < r["ready_s"] <= r["similar_s"] <= r["heavy_s"]
    assert "| first heavy (POST /v1/recommendations), s |" in done.stdout


def test_bench_similar_parts_times_every_part_at_a_toy_size(tmp_path: Path) -> None:
    from factories import build_tiny_artifact

    art = build_tiny_artifact(tmp_path, n=300, n_clusters=3)
    out = tmp_path / "parts.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_similar_parts.py"), "--index", str(art),
         "--seeds", "20", "--passes", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())["us_per_call"]
    assert len(figures) == 10 and all(us > 0 for us in figures.values())
    assert "| Engine.similar |" in done.stdout
