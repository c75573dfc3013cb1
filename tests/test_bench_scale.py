"""The scale benchmark at 1M tracks (slow: run with `pytest -m bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.bench
def test_one_million_tracks_meet_the_scale_targets(tmp_path: Path):
    out = tmp_path / "bench_scale.json"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_scale.py"), "--sizes", "1000000",
         "--queries", "1000", "--json", str(out)],
        check=True, cwd=REPO, timeout=1800,
    )
    (r,) = json.loads(out.read_text())["results"]
    # 1M rows are above the default ann_threshold: the approximate path is what is measured
    assert r["index"] == "ivf_flat"
    build_recall = r["recall_at_10_build"]
    assert build_recall["all"] >= 0.99 and min(build_recall["vibes"].values()) >= 0.99
    for scope, q in r["queries"].items():
        assert q["recall_at_10"] >= 0.99, scope
        # Latency on a shared machine is noisy: the hard limit is the 5 ms target (the
        # index answers in well under 1 ms when quiet), and in the same run the index
        # must beat exact flat search of the same scope by a clear margin.
        assert q["p99"] < 5.0, scope
        assert q["p50"] * 2 < q["exact_flat"]["p50"], scope
    assert r["peak_rss_mib"] < 8 * 1024
    # The 10-minute budget is for 10M rows; 1M must take a small fraction of it.
    assert r["build_s"] < 300, r["stages_s"]
    if r["build_s"] >= 60:
        warnings.warn(f"1M build took {r['build_s']:.0f} s: {r['stages_s']}", stacklevel=1)
