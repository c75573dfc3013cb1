"""Z-scores, K-Means and vibe assignment on Spark.

Two ways to fit (``SparkSettings.kmeans``):

``sample`` (default): the local build's own K-Means++ (fit_personalities, n_init restarts)
    on a uniform sample of at most ``fit_sample`` rows collected to the driver, then one
    distributed pass assigning every row to its nearest centroid. A catalogue no larger
    than the sample is clustered exactly as the local build clusters it.
``mllib``: MLlib's distributed KMeans (k-means|| initialisation), one run.

Either way the centroids are renumbered by the local rule (cluster_order) and the labels
come from the same nearest-centroid pass.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from vibemap.indexer.errors import BuildError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.personalities import Scaler, cluster_order, fit_personalities

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

Z_COLUMNS = tuple(f"__z{j}" for j in range(len(FEATURES)))
VIBE = "vibe_id"
MLLIB_MAX_ITER = 300  # sklearn's default
MLLIB_TOL = 1e-4


@dataclass(frozen=True)
class SparkFit:
    """Centroids (K, d) float64 z-scores, numbered by the local rule; sizes (K,) and
    z-score sums (K, d) per vibe; the fit's iteration count and how it was fitted."""

    centroids: np.ndarray
    sizes: np.ndarray
    sums: np.ndarray
    n_iter: int
    method: dict


def with_z_scores(tracks: DataFrame, scaler: Scaler) -> DataFrame:
    """Add the float32 z-score columns ``__z<j>``, computed as Scaler.transform does
    (float64 arithmetic, then float32)."""
    from pyspark.sql import functions as F

    return tracks.select("*", *[
        ((F.col(f) - float(m)) / float(s)).cast("float").alias(z)
        for f, m, s, z in zip(FEATURES, scaler.mean, scaler.scale, Z_COLUMNS, strict=True)])


def collect_z(frame: DataFrame, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A uniform (Bernoulli) sample of the z-scores, in input row order, with its vibe
    ids when the frame has them (else an empty array)."""
    sample = frame if fraction >= 1 else frame.sample(False, fraction, seed)
    columns = [*Z_COLUMNS, *([VIBE] if VIBE in frame.columns else [])]
    pdf = sample.select("source_row", *columns).orderBy("source_row").toPandas()
    Z = pdf[list(Z_COLUMNS)].to_numpy(dtype=np.float32)
    labels = pdf[VIBE].to_numpy(dtype=np.int32) if VIBE in pdf else np.empty(0, np.int32)
    return Z, labels


def assign(frame: DataFrame, centroids: np.ndarray) -> DataFrame:
    """``frame`` with ``vibe_id``, the row of the nearest centroid in ``centroids``
    (squared Euclidean in float64; the first of equals, as numpy's argmin). Plain SQL
    expressions: no Python worker runs on the executors."""
    from pyspark.sql import functions as F

    C = np.asarray(centroids, dtype=np.float64)
    dist = [f"__d{k}" for k in range(len(C))]
    with_d = frame.select("*", *[
        sum((F.col(z).cast("double") - float(c)) ** 2 for z, c in zip(Z_COLUMNS, row,
                                                                      strict=True)).alias(d)
        for d, row in zip(dist, C, strict=True)])
    nearest = F.least(*map(F.col, dist)) if len(dist) > 1 else F.col(dist[0])
    label = F.when(F.col(dist[0]) == nearest, 0)
    for k in range(1, len(dist)):
        label = label.when(F.col(dist[k]) == nearest, k)
    return with_d.withColumn(VIBE, label.cast("int")).drop(*dist)


def _per_vibe_sums(frame: DataFrame, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and z-score sums per vibe, in one pass: (sizes (K,), sums (K, d))."""
    from pyspark.sql import functions as F

    rows = frame.groupBy(VIBE).agg(F.count(F.lit(1)).alias("__n"),
                                   *[F.sum(z).alias(z) for z in Z_COLUMNS]).collect()
    sizes = np.zeros(n_clusters, dtype=np.int64)
    sums = np.zeros((n_clusters, len(Z_COLUMNS)))
    for r in rows:
        sizes[int(r[VIBE])] = int(r["__n"])
        sums[int(r[VIBE])] = [r[z] for z in Z_COLUMNS]
    return sizes, sums


def _fit_mllib(frame: DataFrame, n_clusters: int, seed: int) -> tuple[np.ndarray, int]:
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler

    vectors = VectorAssembler(inputCols=list(Z_COLUMNS), outputCol="__features").transform(
        frame.select(*Z_COLUMNS))
    model = KMeans(k=n_clusters, seed=seed, initMode="k-means||", maxIter=MLLIB_MAX_ITER,
                   tol=MLLIB_TOL, featuresCol="__features").fit(vectors)
    return np.array(model.clusterCenters(), dtype=np.float64), int(model.summary.numIter)


def fit_vibes(frame: DataFrame, n_rows: int, n_clusters: int, seed: int, n_init: int,
              mode: str, fit_sample: int) -> tuple[DataFrame, SparkFit]:
    """Fit K-Means on ``frame``'s z-scores and label every row; returns the labelled
    frame (``vibe_id`` numbered by the local rule) and the fit."""
    if mode == "mllib":
        centroids, n_iter = _fit_mllib(frame, n_clusters, seed)
        method = {"kmeans": "mllib", "init": "k-means||", "max_iter": MLLIB_MAX_ITER,
                  "tol": MLLIB_TOL}
    else:
        fraction = min(1.0, fit_sample / n_rows)
        Z, _ = collect_z(frame, fraction, seed)
        if len(Z) < n_clusters:
            raise BuildError(f"the K-Means sample holds {len(Z)} rows, fewer than --k "
                             f"{n_clusters}: raise the fit sample")
        with warnings.catch_warnings():  # too few distinct tracks: checked below
            warnings.simplefilter("ignore", ConvergenceWarning)
            p = fit_personalities(Z, n_clusters, seed=seed, n_init=n_init)
        centroids, n_iter = p.centroids, p.n_iter
        method = {"kmeans": "sample", "init": "k-means++", "n_init": n_init,
                  "sample_rows": len(Z), "sample_fraction": round(fraction, 6),
                  "exact": fraction >= 1}
    from pyspark.sql import functions as F

    first = assign(frame, centroids)
    found, sums = _per_vibe_sums(first, n_clusters)
    order = cluster_order(centroids, found)
    remap = np.empty(n_clusters, dtype=np.int64)
    remap[order] = np.arange(n_clusters)
    labelled = first.withColumn(VIBE, F.element_at(
        F.array(*[F.lit(int(r)) for r in remap]), F.col(VIBE) + 1))
    sizes = found[order]
    if not (sizes > 0).all():
        raise BuildError(f"fewer distinct feature vectors than --k {n_clusters}: "
                         f"{int((sizes == 0).sum())} vibe(s) came out empty; lower --k")
    return labelled, SparkFit(centroids[order], sizes, sums[order], n_iter, method)
