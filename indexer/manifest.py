"""The manifest of a build (``manifest.json`` before its checksums): one function taking
typed inputs, so that the pipeline composes steps and this module owns the format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from vibemap.indexer.genre_labels import GenreCodes

if TYPE_CHECKING:
    from vibemap.indexer.catalogue import CleaningReport
    from vibemap.indexer.vector_index import Partition, PartitionedIndex


def genre_summary(genres: GenreCodes) -> dict:
    """The manifest's ``genres`` entry: how much genre information the tracks carry."""
    return {"labels": len(genres.vocabulary), "assignments": len(genres.codes),
            "rows_with_genres": int((np.diff(genres.offsets) > 0).sum())}


def build_manifest(
    *,
    name: str,
    vibemap_version: str,
    created_at: str,
    source: Mapping,
    report: CleaningReport,
    features: Sequence[str],
    n_clusters: int,
    seed: int,
    metric: str,
    n_init: int,
    kmeans_inertia: float,
    kmeans_n_iter: int,
    evaluated: bool,
    index: PartitionedIndex,
    vibes: Sequence[Mapping],
    partitions: Sequence[Partition],
    genres: GenreCodes,
    timings: Mapping[str, float],
    era: Mapping | None = None,
    dimension: int | None = None,
    engine: Mapping | None = None,
) -> dict:
    """The manifest of a build, before :func:`finalize_manifest` adds the file checksums
    and the format version. The index parameters are recorded here only.

    era : ``EraScaler.to_dict()`` (weight, mean, scale, missing-year policy), recorded
        whatever the weight; dimension : the index vectors' width (``len(features)``, plus
        one when the era weight is > 0; read back by
        :func:`vibemap.indexer.artifact_checks.vector_dimension`); engine : which build
        engine ran and how (``{"name": "spark", ...}``), absent for the local build.
    """
    return {
        "vibemap_version": vibemap_version,
        "created_at": created_at,
        "name": name,
        "source": dict(source),
        "rows": {
            "read": report.rows_read,
            "kept": report.rows_kept,
            "dropped": report.rows_dropped,
            "dropped_by_reason": report.dropped,
        },
        "cleaning": report.to_dict(),
        "features": list(features),
        "n_clusters": n_clusters,
        "seed": seed,
        "build": {
            "metric": metric,
            **index.manifest_fields(),  # index (type), index_params, recall_at_10
            "n_init": n_init,
            "kmeans_inertia": kmeans_inertia,
            "kmeans_n_iter": kmeans_n_iter,
            "evaluated": evaluated,
            "dimension": len(features) if dimension is None else int(dimension),
        },
        **({"era": dict(era)} if era is not None else {}),
        **({"engine": dict(engine)} if engine is not None else {}),
        "vibes": [{k: v[k] for k in ("vibe_id", "name", "size", "share")} for v in vibes],
        "partitions": [{"vibe_id": q.vibe_id, "start": q.start, "stop": q.stop}
                       for q in partitions],
        "genres": genre_summary(genres),
        "timings": dict(timings),
    }
