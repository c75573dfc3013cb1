"""A build killed with SIGKILL at any point leaves the previous artifact intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from factories import build_tiny_artifact, write_tracks_csv
from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact


def test_sigkill_during_build_never_damages_previous_artifact(tmp_path: Path) -> None:
    target = build_tiny_artifact(tmp_path, n=200, n_clusters=3, name="live")
    before = (target / "manifest.json").read_bytes()
    csv = write_tracks_csv(tmp_path / "big.csv", n=10_000, seed=9, n_blobs=4)
    rng = random.Random(0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for _ in range(3):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vibemap.cli",
                "index",
                str(csv),
                "--out",
                str(target),
                "--k",
                "4",
                "--no-eval",
                "--n-init",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        # wait for a random stage line, then kill at a random moment after it
        wanted = rng.choice(["building", "load", "cluster", "index"])
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # type: ignore[union-attr]
            if wanted in line or time.monotonic() > deadline:
                break
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # the target is always one complete artifact, old or new, never a mix
        kept = load_artifact(target).manifest["rows"]["kept"]  # verifies every checksum
        assert kept in (200, 10_000)
        if kept == 200:
            assert (target / "manifest.json").read_bytes() == before
    # whatever the kills left beside the target is staging only, and the next build clears it
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "live"]
    assert all(name.startswith(".live.tmp-") for name in leftovers), leftovers
    assert (
        main(["index", str(csv), "--out", str(target), "--k", "4", "--no-eval", "--n-init", "1"])
        == 0
    )
    assert [p.name for p in target.parent.iterdir()] == ["live"]
    assert load_artifact(target).manifest["rows"]["kept"] == 10_000
