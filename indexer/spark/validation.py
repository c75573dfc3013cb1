"""The validation that scales, on Spark: inertia, Davies-Bouldin and Calinski-Harabasz
over every row (two distributed passes), and the silhouette on uniform samples collected
to the driver, with a 95% interval from independent samples."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from vibemap.indexer.spark.clustering import VIBE, Z_COLUMNS, collect_z
from vibemap.indexer.validation.silhouette import silhouette_samples_multi

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SILHOUETTE_SAMPLE = 10_000  # rows per silhouette sample: seconds each on one core
SILHOUETTE_REPEATS = 5  # independent samples, for the interval


def _per_vibe(frame: DataFrame, centroids: np.ndarray, means: np.ndarray) -> list[dict]:
    """Per vibe, in one pass: squared distances to its centroid (summed), squared and
    plain distances to its mean (summed)."""
    from pyspark.sql import functions as F

    d = centroids.shape[1]
    table = frame.sparkSession.createDataFrame(
        [(v, *map(float, c), *map(float, m)) for v, (c, m) in enumerate(zip(
            centroids, means, strict=True))],
        [VIBE, *[f"__c{j}" for j in range(d)], *[f"__m{j}" for j in range(d)]])
    to_c = sum((F.col(z) - F.col(f"__c{j}")) ** 2 for j, z in enumerate(Z_COLUMNS))
    to_m = sum((F.col(z) - F.col(f"__m{j}")) ** 2 for j, z in enumerate(Z_COLUMNS))
    rows = (frame.join(F.broadcast(table), VIBE)
            .select(VIBE, to_c.alias("__dc"), to_m.alias("__dm"))
            .groupBy(VIBE).agg(F.sum("__dc").alias("c"), F.sum("__dm").alias("sq"),
                               F.sum(F.sqrt("__dm")).alias("d"))
            .collect())
    out = [{"c": 0.0, "sq": 0.0, "d": 0.0} for _ in range(len(centroids))]
    for r in rows:
        out[int(r[VIBE])] = {"c": float(r["c"]), "sq": float(r["sq"]), "d": float(r["d"])}
    return out


def dispersion(frame: DataFrame, centroids: np.ndarray, sizes: np.ndarray,
               sums: np.ndarray) -> dict:
    """Inertia (to the K-Means centroids) and Davies-Bouldin / Calinski-Harabasz (to the
    vibes' means, as sklearn.metrics defines them) over every row; ``sizes`` and ``sums``
    are the rows and z-score sums per vibe."""
    K, n = len(centroids), int(sizes.sum())
    means = sums / np.maximum(sizes, 1)[:, None]
    per_vibe = _per_vibe(frame, centroids, means)
    out = {"n_tracks": n, "n_clusters": K, "inertia": float(sum(p["c"] for p in per_vibe))}
    if K < 2 or n <= K:
        return out
    within = sum(p["sq"] for p in per_vibe)
    grand = sums.sum(axis=0) / n
    between = float((sizes * ((means - grand) ** 2).sum(axis=1)).sum())
    out["calinski_harabasz"] = 1.0 if within == 0 else between * (n - K) / (within * (K - 1))
    spread = np.array([per_vibe[v]["d"] / max(sizes[v], 1) for v in range(K)])
    gaps = np.sqrt(((means[:, None, :] - means[None, :, :]) ** 2).sum(axis=2))
    if np.allclose(spread, 0) or np.allclose(gaps, 0):
        out["davies_bouldin"] = 0.0
    else:
        gaps[gaps == 0] = np.inf
        ratio = (spread[:, None] + spread[None, :]) / gaps
        np.fill_diagonal(ratio, -np.inf)
        out["davies_bouldin"] = float(ratio.max(axis=1).mean())
    return out


def sampled_silhouette(frame: DataFrame, n_rows: int, seed: int,
                       sample_rows: int = SILHOUETTE_SAMPLE,
                       repeats: int = SILHOUETTE_REPEATS) -> dict:
    """Mean silhouette on ``repeats`` independent uniform samples of about ``sample_rows``
    rows each (the local build's exact silhouette code on each), with a Student-t 95%
    interval of their means; exact (one pass over every row) when the catalogue is no
    larger than a sample."""
    if n_rows <= sample_rows:
        Z, labels = collect_z(frame, 1.0, seed)
        mean = _silhouette(Z, labels)
        return {"method": "exact", "mean": mean, "ci95": [mean, mean], "rows": len(Z)}
    means, sizes = [], []
    for i in range(repeats):
        Z, labels = collect_z(frame, sample_rows / n_rows, seed + 1 + i)
        if len(np.unique(labels)) >= 2:
            means.append(_silhouette(Z, labels))
            sizes.append(len(Z))
    centre = float(np.mean(means))
    half = (float(stats.t.ppf(0.975, len(means) - 1) * np.std(means, ddof=1)
                  / math.sqrt(len(means))) if len(means) > 1 else float("nan"))
    return {"method": "sampled", "mean": round(centre, 6),
            "ci95": [round(centre - half, 6), round(centre + half, 6)],
            "samples": len(means), "rows_per_sample": sizes, "sample_means": means}


def _silhouette(Z: np.ndarray, labels: np.ndarray) -> float:
    if len(np.unique(labels)) < 2 or len(Z) <= len(np.unique(labels)):
        return float("nan")
    return round(float(silhouette_samples_multi(Z, [labels])[0].mean()), 6)
