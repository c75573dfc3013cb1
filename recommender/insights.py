"""Read-only views over an artifact's analyses, for the UI and apps: the PCA sample with
its tracks, the most atypical tracks, filtered CSV exports, and the live K-loop on a
sample (the one request that computes; the UI's "re-run live").

Functions of an Engine; they never change it.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence

import numpy as np

from vibemap.indexer.export import safe_cell
from vibemap.recommender.engine import Engine
from vibemap.recommender.errors import Busy, InvalidQuery

MAX_PCA_POINTS = 20_000
LIVE_MAX_SAMPLE = 20_000
LIVE_MIN_SAMPLE = 100
LIVE_N_INIT = 3
CSV_MAX_ROWS = 200_000


def _analysis(engine: Engine, key: str) -> np.ndarray | None:
    return engine.artifact.analysis.get(key)


def pca_points(engine: Engine, q: str | None = None, vibe: int | str | None = None,
               genre: Sequence[str] | str | None = None, year_min: int | None = None,
               year_max: int | None = None, limit: int | None = None) -> dict:
    """The stratified PCA sample's points with their tracks, filtered like /v1/tracks."""
    rows = _analysis(engine, "pca_rows")
    coords = _analysis(engine, "pca_coords")
    pca = engine.artifact.metrics.get("pca") or {}
    if rows is None or coords is None:
        return {"evaluated": False, "sample_size": 0, "total": 0, "points": [],
                "readings": pca.get("readings", [])}
    limit = MAX_PCA_POINTS if limit is None else int(limit)
    if not 1 <= limit <= MAX_PCA_POINTS:
        raise InvalidQuery(f"limit must be between 1 and {MAX_PCA_POINTS}, got {limit}")
    keep = np.ones(len(rows), dtype=bool)
    if q or vibe is not None or genre or year_min is not None or year_max is not None:
        wanted = np.zeros(engine.n_tracks, dtype=bool)
        wanted[engine.matching_rows(q, vibe, genre, year_min, year_max)] = True
        keep = wanted[rows]
    picked = np.flatnonzero(keep)
    total = len(picked)
    if total > limit:  # an even thinning keeps the vibe strata's proportions
        picked = picked[np.linspace(0, total - 1, limit).astype(np.int64)]
    points = []
    for i in picked.tolist():
        point = engine.summary(int(rows[i]))
        point["row"] = int(rows[i])
        point["pc1"] = round(float(coords[i, 0]), 4)
        point["pc2"] = round(float(coords[i, 1]), 4)
        points.append(point)
    return {"evaluated": True, "sample_size": int(len(rows)), "total": total,
            "readings": pca.get("readings", []), "points": points}


def outlier_tracks(engine: Engine, limit: int = 20) -> dict:
    """DBSCAN summary plus the most atypical tracks with their metadata."""
    outliers = engine.artifact.metrics.get("outliers")
    if not outliers:
        return {"evaluated": False, "tracks": []}
    tracks = []
    for item in outliers.get("most_atypical", [])[:limit]:
        entry = engine.summary(int(item["row"]))
        entry["k_distance"] = item["k_distance"]
        tracks.append(entry)
    summary = {k: v for k, v in outliers.items() if k != "most_atypical"}
    return {"evaluated": True, **summary, "tracks": tracks}


def tracks_csv(engine: Engine, q: str | None = None, vibe: int | str | None = None,
               genre: Sequence[str] | str | None = None, year_min: int | None = None,
               year_max: int | None = None) -> str:
    """Every matching track (search-rank order, capped) with its features, as CSV text;
    text a spreadsheet would run as a formula is neutralised (:func:`safe_cell`), numbers
    are written as they are."""
    rows = engine.matching_rows(q, vibe, genre, year_min, year_max)[:CSV_MAX_ROWS]
    out = io.StringIO()
    writer = csv.writer(out)
    fields = ["track_id", "name", "artist", "genres", "popularity", "release_year",
              "vibe_id", "vibe_name"]
    writer.writerow([*fields, *engine.features])
    F = engine.feature_rows(rows)
    for i, row in enumerate(rows.tolist()):
        s = engine.summary(row)
        s["genres"] = ";".join(s["genres"])
        writer.writerow([*(safe_cell(s[f]) for f in fields), *F[i].tolist()])
    return out.getvalue()


def live_k_loop(engine: Engine, lock: threading.Lock, sample_size: int = 5000, k_min: int = 2,
                k_max: int = 10, seed: int = 0) -> dict:
    """K-Means++ and the exact metrics for K = k_min..k_max on a seeded random sample.
    ``lock`` (the service state's) keeps it to one run at a time: it takes every core."""
    from vibemap.indexer.validation.kloop import choose_k, run_k_loop  # sklearn: lazily

    if not LIVE_MIN_SAMPLE <= sample_size <= LIVE_MAX_SAMPLE:
        raise InvalidQuery(f"sample_size must be between {LIVE_MIN_SAMPLE} and "
                           f"{LIVE_MAX_SAMPLE}, got {sample_size}")
    if not 2 <= k_min <= k_max <= 10:
        raise InvalidQuery(f"need 2 <= k_min <= k_max <= 10, got k_min={k_min}, k_max={k_max}")
    n = engine.n_tracks
    size = min(sample_size, n)
    if k_max >= size:
        raise InvalidQuery(f"k_max={k_max} needs more than {size} tracks")
    if not lock.acquire(blocking=False):
        raise Busy("a live K-loop is already running; try again in a few seconds")
    try:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
        F = engine.feature_rows(rows)
        Z = engine.scaler.transform(F)
        result = run_k_loop(Z, range(k_min, k_max + 1), seed=seed, n_init=LIVE_N_INIT)
    finally:
        lock.release()
    requested = int(engine.artifact.manifest["n_clusters"])
    out = {"sample_size": size, "seed": seed, "n_init": LIVE_N_INIT,
           "k_loop": result.to_dict()}
    if requested in result.k_values:
        k, reason = choose_k(result, requested)
        out["chosen_k"] = {"k": k, "reason": reason}
    return out
