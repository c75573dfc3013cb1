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


def _per_vibe(frame: DataFrame, centres: np.ndarray, name: str) -> dict[int, tuple]:
    """Per vibe: sum of squared and of plain distances to ``centres[vibe]``."""
    from pyspark.sql import functions as F

    table = frame.sparkSession.createDataFrame(
        [(v, *map(float, c)) for v, c in enumerate(centres)],
        [VIBE, *[f"__c{j}" for j in range(centres.shape[1])]])
    sq = sum((F.col(z) - F.col(f"__c{j}")) ** 2 for j, z in enumerate(Z_COLUMNS))
    rows = (frame.join(F.broadcast(table), VIBE).withColumn(name, sq)
            .groupBy(VIBE).agg(F.sum(name).alias("sq"), F.sum(F.sqrt(name)).alias("d"))
            .collect())
    return {int(r[VIBE]): (float(r["sq"]), float(r["d"])) for r in rows}


def dispersion(frame: DataFrame, centroids: np.ndarray, sizes: np.ndarray) -> dict:
    """Inertia (to the K-Means centroids) and Davies-Bouldin / Calinski-Harabasz (to the
    vibes' means, as sklearn.metrics defines them) over every row."""
    from pyspark.sql import functions as F

    K, n = len(centroids), int(sizes.sum())
    rows = frame.groupBy(VIBE).agg(*[F.sum(z).alias(z) for z in Z_COLUMNS]).collect()
    sums = np.zeros_like(centroids)
    for r in rows:
        sums[int(r[VIBE])] = [r[z] for z in Z_COLUMNS]
    means = sums / np.maximum(sizes, 1)[:, None]
    inertia = sum(sq for sq, _ in _per_vibe(frame, centroids, "__dc").values())
    to_means = _per_vibe(frame, means, "__dm")
    out = {"n_tracks": n, "n_clusters": K, "inertia": float(inertia)}
    if K < 2 or n <= K:
        return out
    within = sum(sq for sq, _ in to_means.values())
    grand = sums.sum(axis=0) / n
    between = float((sizes * ((means - grand) ** 2).sum(axis=1)).sum())
    out["calinski_harabasz"] = 1.0 if within == 0 else between * (n - K) / (within * (K - 1))
    spread = np.array([to_means.get(v, (0.0, 0.0))[1] / max(sizes[v], 1) for v in range(K)])
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
