"""Tiny catalogues built in code, for tests that need a CSV or a whole artifact."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from vibemap.indexer.features import FEATURES

GENRES = ("dance pop", "indie folk", "hard rock", "rap", "ambient")


def make_tracks(n: int = 300, seed: int = 0, n_blobs: int = 3) -> pd.DataFrame:
    """A frame in the public single_genre_artists.csv layout with ``n_blobs`` clear
    clusters in feature space; every value inside its valid range."""
    rng = np.random.default_rng(seed)
    blob = rng.integers(0, n_blobs, size=n)
    centers = rng.uniform(0.15, 0.85, size=(n_blobs, len(FEATURES)))
    unit = np.clip(centers[blob] + rng.normal(0, 0.03, size=(n, len(FEATURES))), 0.0, 1.0)
    cols = {f: unit[:, j] for j, f in enumerate(FEATURES)}
    cols["loudness"] = -60 + 60 * cols["loudness"]  # dB in [-60, 0]
    cols["tempo"] = 60 + 140 * cols["tempo"]  # BPM in [60, 200]
    n_artists = max(1, n // 5)
    artist = rng.integers(0, n_artists, size=n)
    frame = pd.DataFrame(
        {
            "id_songs": [f"trk{i:06d}" for i in range(n)],
            "name_song": [f"Song {i}" for i in range(n)],
            "popularity_songs": rng.integers(0, 100, size=n),
            "duration_ms": rng.integers(90_000, 400_000, size=n),
            "explicit": rng.integers(0, 2, size=n),
            "id_artists": [f"art{a:04d}" for a in artist],
            "release_date": [f"{y}-01-01" for y in rng.integers(1960, 2024, size=n)],
            **{f: cols[f] for f in FEATURES},
            "key": rng.integers(0, 12, size=n),
            "mode": rng.integers(0, 2, size=n),
            "time_signature": 4,
            "followers": rng.integers(0, 10**6, size=n),
            "genres": [f"['{GENRES[a % len(GENRES)]}']" for a in artist],
            "name_artists": [f"Artist {a}" for a in artist],
            "popularity_artists": rng.integers(0, 100, size=n),
        }
    )
    frame.attrs["blob"] = blob.tolist()  # ground-truth cluster per row
    return frame


def write_tracks_csv(path: Path, n: int = 300, seed: int = 0, n_blobs: int = 3) -> Path:
    make_tracks(n, seed, n_blobs).to_csv(path, index=False)
    return path


def build_tiny_artifact(
    tmp_path: Path,
    n: int = 300,
    n_clusters: int = 3,
    seed: int = 0,
    metric: str = "cosine",
    name: str = "tiny",
    ann_threshold: int | None = None,
    era_weight: float | None = None,
) -> Path:
    """Build a real artifact from a tiny CSV (no evaluation) and return its directory;
    ``ann_threshold=0`` forces the IVF-Flat index (None: the settings' default), and
    ``era_weight`` sets the era dimension's weight (None: the settings' default)."""
    from vibemap.indexer.pipeline import build_index
    from vibemap.indexer.settings import BuildSettings

    csv = write_tracks_csv(tmp_path / f"{name}.csv", n=n, seed=seed, n_blobs=n_clusters)
    out = tmp_path / "indexes" / name
    extra: dict = {} if ann_threshold is None else {"ann_threshold": ann_threshold}
    if era_weight is not None:
        extra["era_weight"] = era_weight
    build_index(
        BuildSettings(
            csv=csv,
            out=out,
            n_clusters=n_clusters,
            seed=seed,
            metric=metric,
            evaluate=False,
            n_init=3,
            **extra,
        )
    )
    return out


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as a module (bench/ is scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def assert_clean_reloads(result: dict, min_reloads: int) -> str:
    """The checks every load-with-reloads run must pass (bench_load's report): no failed
    request, no answer from a mixed artifact, at least ``min_reloads`` reloads and none
    failed, answers from both artifacts. Returns the report's summary line (printed)."""
    summary = json.dumps({k: v for k, v in result.items()
                          if k not in ("failure_samples", "mismatch_samples")})
    print(summary)
    assert result["failed"] == 0, result["failure_samples"]
    assert result["mismatches"] == 0, result["mismatch_samples"]
    assert result["reloads"] >= min_reloads and result["reloads_failed"] == 0, \
        result["reload_errors"]
    assert set(result["by_artifact"]) == {"alpha", "beta"}, summary
    return summary
