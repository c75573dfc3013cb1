"""``vibemap index --engine spark``: the local build's stages on Spark, then the local
build's own index and write stages (pipeline.index_sorted_tracks / write_artifact), so
the artifact is the same format, checked, staged and swapped into place the same way.

What runs where: reading, cleaning, the scaler's moments, vibe assignment, the sort by
vibe and the validation over all rows run on the executors; the K-Means fit (``sample``
mode), the silhouette samples, and the artifact's assembly (FAISS index, facts, files)
run on the driver, which reads the sorted, cleaned rows back from the Parquet files the
executors write (collect.py; the artifact is one set of files that every serving machine
maps).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from vibemap.indexer.degenerate import check_buildable
from vibemap.indexer.features import FEATURES
from vibemap.indexer.labelled_export import CSV_CHUNK_ROWS, write_sorted_labelled_csv
from vibemap.indexer.personalities import Personalities, name_vibes, scaler_from_moments
from vibemap.indexer.pipeline import (
    BuildResult,
    FittedVibes,
    index_sorted_tracks,
    sorted_tracks,
    vibe_table,
    write_artifact,
)
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.spark.cleaning import RAW_PREFIX, clean_spark
from vibemap.indexer.spark.clustering import VIBE, fit_vibes, with_z_scores
from vibemap.indexer.spark.collect import check_order, rows_through_files, scratch_folder
from vibemap.indexer.spark.reading import read_spark_input
from vibemap.indexer.spark.session import (
    SparkSettings,
    check_requirements,
    spark_failures,
    spark_session,
)
from vibemap.indexer.spark.validation import dispersion, sampled_silhouette
from vibemap.indexer.stages import ProgressFn, Stages
from vibemap.indexer.staging import staged_artifact

logger = logging.getLogger(__name__)


def _engine_entry(spark, spark_settings: SparkSettings, method: dict) -> dict:
    """The manifest's ``engine``: what ran the build. Setting values are left out (they
    can hold credentials); their keys are recorded."""
    return {"name": "spark", "spark_version": spark.version, "master": spark_settings.master,
            "conf_keys": sorted(spark_settings.conf), **method,
            "scaler": "population std (the local scaler's definition), computed distributed"}


def build_index_spark(settings: BuildSettings, spark_settings: SparkSettings,
                      progress: ProgressFn | None = None) -> BuildResult:
    """Build ``settings.out`` from ``settings.csv`` on Spark; see the module docstring."""
    if settings.csv is None:
        from vibemap.indexer.errors import BuildError

        raise BuildError("--engine spark builds from an INPUT file, directory, glob or URI; "
                         "the demo catalogues are built by the local engine")
    check_requirements()
    stages = Stages(progress)
    with ExitStack() as stack, spark_failures():
        # the session ends once the executors have written the rows; the scratch
        # files they wrote stay until the artifact is written
        with spark_session(spark_settings) as spark:
            with stages.stage("load"):
                data = read_spark_input(spark, str(settings.csv))
                catalogue = clean_spark(data)
            report, n = catalogue.report, catalogue.report.rows_kept
            check_buildable(n, report.constant_features, FEATURES, settings.n_clusters,
                            settings.evaluate)
            with stages.stage("scale"):
                scaler = scaler_from_moments(*catalogue.moments)
                zframe = with_z_scores(catalogue.tracks, scaler).persist()
            with stages.stage("cluster"):
                labelled, fit = fit_vibes(zframe, n, settings.n_clusters, settings.seed,
                                          settings.n_init, spark_settings.kmeans,
                                          spark_settings.fit_sample)
                labelled = labelled.persist()
                names = name_vibes(fit.centroids, FEATURES)
                spread = dispersion(labelled, fit.centroids, fit.sizes, fit.sums)
            metrics: dict = {"evaluated": False, "engine": "spark", "at_scale": spread}
            if settings.evaluate:
                with stages.stage("evaluate"):
                    metrics["at_scale"]["silhouette"] = sampled_silhouette(labelled, n,
                                                                           settings.seed)
            with stages.stage("collect"):
                z_columns = [c for c in labelled.columns if c.startswith("__z")]
                rows = stack.enter_context(rows_through_files(
                    labelled.drop(*z_columns).orderBy(VIBE, "source_row"),
                    scratch_folder(spark_settings.scratch, settings.out)))
                labelled.unpersist()
                zframe.unpersist()
                engine = _engine_entry(spark, spark_settings, fit.method)
                columns = [c for c in labelled.columns if c not in z_columns]
        raw_names = [f"{RAW_PREFIX}{i}" for i in range(len(catalogue.raw_columns))]
        with stages.stage("read rows"):  # into the driver's Python, one column at a time
            table = rows.read([c for c in columns if c not in raw_names])
        labels = table.column(VIBE).to_numpy().astype(np.int32)
        check_order(labels, table.column("source_row").to_numpy())
        frame = table.drop_columns([VIBE]).to_pandas()
        del table
        frame["release_year"] = frame["release_year"].astype("Int64")
        p = Personalities(labels, fit.centroids, spread["inertia"], fit.n_iter)
        vibes = vibe_table(p, names, scaler)
        with stages.stage("index"):
            tracks = sorted_tracks(frame, labels, names, np.arange(n))
            del frame
            Zs = scaler.transform(tracks[list(FEATURES)].to_numpy(dtype=np.float64))
            built = index_sorted_tracks(tracks, Zs, settings, p.n_clusters)
            del Zs
        with staged_artifact(settings.out) as staging:
            with stages.stage("export"):  # the raw rows arrive in artifact order already
                write_sorted_labelled_csv(
                    staging / "tracks_labelled.csv",
                    (batch.rename_columns(catalogue.raw_columns)
                     for batch in rows.batches(raw_names, CSV_CHUNK_ROWS)), labels, names)
            manifest = write_artifact(
                settings, stages, staging, built, tracks,
                fitted=FittedVibes(scaler, vibes, p.n_clusters, p.inertia, p.n_iter),
                report=report, source=data.source, metrics=metrics, arrays={}, engine=engine,
            )
    return BuildResult(path=Path(settings.out), manifest=manifest, vibes=vibes)
