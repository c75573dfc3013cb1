"""``vibemap index``: compose the pure steps and write the artifact.

The only module of the build (with artifact.py) that touches disk.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.exceptions import ConvergenceWarning

from vibemap.indexer import artifact
from vibemap.indexer.catalogue import (
    Catalogue,
    clean_catalogue,
)
from vibemap.indexer.degenerate import check_buildable, check_distinct
from vibemap.indexer.era import ERA_COLUMN, EraScaler, era_vectors, fit_era_scaler
from vibemap.indexer.exhaustive_search import normalise_rows
from vibemap.indexer.features import FEATURES
from vibemap.indexer.files import sha256_file
from vibemap.indexer.labelled_export import SpilledRows, spill_rows, write_labelled_csv
from vibemap.indexer.memory import return_freed_memory
from vibemap.indexer.personalities import (
    Personalities,
    Scaler,
    describe_signature,
    fit_personalities,
    name_vibes,
)
from vibemap.indexer.real_demo import real_demo_catalogue
from vibemap.indexer.scaling import fit_and_scale
from vibemap.indexer.scratch import ParkedArray
from vibemap.indexer.serving_arrays import NUMBER_COLUMNS
from vibemap.indexer.settings import EXACT_MAX_TRACKS, BuildSettings
from vibemap.indexer.spilled_input import load_spilled_catalogue
from vibemap.indexer.stages import ProgressFn, Stages, Tick
from vibemap.indexer.staging import staged_artifact
from vibemap.indexer.vector_index import (
    PartitionedIndex,
    index_type_for,
    partitions_from_sorted_labels,
    to_index_space,
)
from vibemap.indexer.versions import keyed_versions
from vibemap.indexer.writing import (
    FittedVibes,
    IndexedTracks,
    write_artifact,
)

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class BuildResult:
    path: Path
    manifest: dict
    vibes: list[dict]


def demo_catalogue(n_tracks: int, seed: int) -> tuple[Catalogue, dict]:
    """The synthetic demo catalogue, through the same cleaning as a user CSV."""
    from vibemap.indexer.synthetic import generator as demo
    from vibemap.indexer.synthetic.stats import DEFAULT_STATS_PATH

    frame = demo.generate_catalogue(n_tracks=n_tracks, seed=seed)
    catalogue = clean_catalogue(frame, source_name=demo.DEMO_LABEL)
    stats_path = Path(DEFAULT_STATS_PATH)
    source = {
        "file": None,
        "kind": "demo",
        "catalogue": "synthetic",
        "synthetic": True,
        "label": demo.DEMO_LABEL,
        "generator": "vibemap.indexer.synthetic.generator.generate_catalogue",
        "n_tracks": n_tracks,
        "generator_seed": seed,
        "stats_file": stats_path.name,
        "stats_sha256": sha256_file(stats_path),
    }
    return catalogue, source


def vibe_table(p: Personalities, names: list[str], scaler: Scaler) -> list[dict]:
    """Per-vibe facts for centroids.json and the manifest."""
    sizes = p.sizes()
    original = scaler.inverse_transform(p.centroids)
    return [
        {
            "vibe_id": v,
            "name": names[v],
            "size": int(sizes[v]),
            "share": round(float(sizes[v] / sizes.sum()), 6),
            "centroid_z": [round(float(x), 6) for x in p.centroids[v]],
            "centroid": {f: round(float(x), 6) for f, x in zip(FEATURES, original[v], strict=True)},
            "signature": describe_signature(p.centroids[v], FEATURES),
        }
        for v in range(p.n_clusters)
    ]


# files evaluate_artifact writes anew (the rest is copied as it is)
_REWRITTEN_ON_EVALUATE = frozenset({"metrics.json", "analysis.npz"})


def sorted_tracks(
    tracks: pd.DataFrame, labels: np.ndarray, names: list[str], order: np.ndarray
) -> pd.DataFrame:
    """The cleaned tracks in artifact order, with row, vibe_id and vibe_name. Consumes
    ``tracks``: each column is dropped from it once copied, so that one column at a time,
    not the whole table, is held twice (GBs at 10M rows)."""
    out = pd.DataFrame({"row": np.arange(len(order), dtype=np.int64)})
    for column in list(tracks.columns):
        out[column] = _taken(tracks.pop(column), order)
    sorted_labels = labels[order]
    out["vibe_id"] = sorted_labels.astype(np.int32)
    # in Arrow: an object array is 10M pointers, then converted to text anyway
    out["vibe_name"] = pa.array(names, type=pa.large_string()).take(
        pa.array(sorted_labels)).to_pandas()
    return out


def _taken(column: pd.Series, order: np.ndarray) -> pd.Series:
    """``column.take(order)`` with a fresh index. Text of several chunks (one per Parquet
    file) is joined into one first, its chunks freed, then taken: Arrow's take joins
    them itself, a third copy of the column next to the source and the result."""
    chunks = pa.array(column.array) if isinstance(column.dtype, pd.StringDtype) else None
    if not isinstance(chunks, pa.ChunkedArray) or chunks.num_chunks < 2:
        return column.take(order).reset_index(drop=True)
    del column
    text = chunks.combine_chunks()
    del chunks
    return text.take(pa.array(order)).to_pandas()


def index_vectors(Zs: np.ndarray, tracks: pd.DataFrame, settings: BuildSettings
                  ) -> tuple[np.ndarray, EraScaler]:
    """The index-space vectors of the z-scores ``Zs`` (rows in ``tracks`` order) and the
    era scaler: with ``era_weight`` 0 the nine-feature vectors of before (the scaler is
    still fitted, for the manifest); above 0, one more column ``W * z(release year)``
    (vibemap.indexer.era) before the metric's transform."""
    years = (tracks[ERA_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
             if ERA_COLUMN in tracks else np.full(len(tracks), np.nan))
    if settings.era_weight == 0:
        return to_index_space(Zs, settings.metric), fit_era_scaler(years, 0.0)
    with_era, era = era_vectors(Zs, years, settings.era_weight)
    if settings.metric == "cosine":  # a new float32 array: normalised where it is
        return normalise_rows(with_era), era
    return to_index_space(with_era, settings.metric), era


def index_sorted_tracks(tracks: pd.DataFrame, Zs: np.ndarray, settings: BuildSettings,
                        n_clusters: int) -> IndexedTracks:
    """Version keys, index vectors and the vibe-partitioned FAISS index of ``tracks``
    (sorted by vibe, with vibe_id) and their z-scores ``Zs`` in the same order; adds the
    ``version_key`` column to ``tracks``. Shared by the local and Spark engines."""
    # versions of one song (remasters, edits, mixes) share a key: results collapse on it
    tracks["version_key"], version_of = keyed_versions(tracks["name"], tracks["artist"])
    return index_tracks(tracks, index_vectors(Zs, tracks, settings), settings, n_clusters,
                        version_of)


def index_tracks(tracks: pd.DataFrame, vectors: tuple[np.ndarray, EraScaler],
                 settings: BuildSettings, n_clusters: int, version_of: np.ndarray
                 ) -> IndexedTracks:
    """The vibe-partitioned FAISS index of the index ``vectors`` (and their era scaler)
    of ``tracks``, sorted by vibe (it reads vibe_id only)."""
    partitions = partitions_from_sorted_labels(tracks["vibe_id"].to_numpy(), n_clusters)
    index = PartitionedIndex.build(
        vectors[0], partitions, settings.metric,
        kind=index_type_for(len(tracks), settings.ann_threshold), seed=settings.seed,
    )
    return IndexedTracks(*vectors, partitions, index, version_of)


def build_index(settings: BuildSettings, progress: ProgressFn | None = None,
                tick: Tick | None = None) -> BuildResult:
    """Load, clean, scale, cluster, index, evaluate (unless --no-eval) and write the
    artifact atomically. ``progress`` hears of each stage as it ends; ``tick`` of the long
    steps inside them, for progress bars."""
    return_freed_memory()
    stages = Stages(progress, tick)
    with stages.stage("load"):
        # only the labelled CSV export reads the raw rows, after clustering: on disk till then
        spill_to, rows = Path(settings.out).resolve().parent, None
        if settings.csv is not None:  # Parquet rows are spilled file by file as read
            catalogue, rows = load_spilled_catalogue(settings.csv, spill_to)
            source = catalogue.source  # file or files read, sha256 over what was read
        elif settings.demo_catalogue == "synthetic":
            catalogue, source = demo_catalogue(settings.synthetic_tracks, settings.seed)
        else:
            catalogue, source = real_demo_catalogue(settings.demo_sample, settings.seed)
        if rows is None:
            rows = spill_rows(catalogue.raw, spill_to)
        catalogue = dataclasses.replace(catalogue, raw=catalogue.raw.iloc[:0])
    n = len(catalogue.tracks)
    check_buildable(n, catalogue.report.constant_features, FEATURES,
                    settings.n_clusters, settings.evaluate)

    with stages.stage("scale"):
        # one feature at a time: no n x 9 float64 copy (0.7 GB at 10M rows), same bits
        scaler, Z = fit_and_scale([catalogue.tracks[f].to_numpy(dtype=np.float64)
                                   for f in FEATURES])
    with stages.stage("cluster"):
        with warnings.catch_warnings():  # too few distinct tracks: check_distinct says it
            warnings.simplefilter("ignore", ConvergenceWarning)
            p = fit_personalities(
                Z, settings.n_clusters, seed=settings.seed, n_init=settings.n_init
            )
        check_distinct(Z, p.sizes(), settings.n_clusters)
        names = name_vibes(p.centroids, FEATURES)
        vibes = vibe_table(p, names, scaler)
    fitted = _Fitted(catalogue, Z, source, scaler, p, names, vibes, rows)
    del catalogue, Z  # handed over: the next stages free them as soon as they can
    with staged_artifact(settings.out) as staging:
        return _index_and_write(settings, fitted, staging, stages, progress)


@dataclass
class _Fitted:
    """What the stages up to clustering hand on to the rest of the build. The catalogue
    and the z-scores are taken out (the field set to None) by their last user, so that
    nothing holds them longer: GBs each at 10M rows."""

    catalogue: Catalogue | None
    Z: np.ndarray | None
    source: dict
    scaler: Scaler
    p: Personalities
    names: list[str]
    vibes: list[dict]
    rows: SpilledRows  # the raw input rows, for the labelled CSV export


def _index_and_write(settings: BuildSettings, fitted: _Fitted, staging: Path, stages: Stages,
                     progress: ProgressFn | None) -> BuildResult:
    """Export, index, evaluate, facts and write, into the staging directory."""
    catalogue, fitted.catalogue = fitted.catalogue, None
    source, scaler, p, names, vibes = (fitted.source, fitted.scaler, fitted.p, fitted.names,
                                       fitted.vibes)
    with stages.stage("export"):
        order = np.argsort(p.labels, kind="stable")  # rows sorted by vibe, input order within
        # the sorted z-scores wait on disk while the track table is sorted and written
        parked = ParkedArray(fitted.Z[order], Path(settings.out).resolve().parent)
        fitted.Z = None
        write_labelled_csv(staging / "tracks_labelled.csv", fitted.rows, p.labels, names)
        fitted.rows.close()
        # from here on only the sorted copies and the cleaning report are needed
        report, tracks = catalogue.report, catalogue.tracks
        del catalogue
        # versions of one song (remasters, edits, mixes) share a key: results collapse on
        # it. Found in artifact order before the sort, whose copies would sit next to them
        keys, version_of = keyed_versions(tracks["name"], tracks["artist"], order)
        tracks = sorted_tracks(tracks, p.labels, names, order)
        tracks["version_key"] = keys
        del order, keys
    with stages.stage("index"):
        # the table is final: written now, its text is not held through the index and
        # write stages (the analyses read the whole frame)
        artifact.write_track_table(staging, tracks, keep=None if settings.evaluate
                                   else (*FEATURES, *NUMBER_COLUMNS, "genres", "vibe_id"))
        Zs = parked.take()
        vectors = index_vectors(Zs, tracks, settings)
        if not settings.evaluate:
            del Zs  # only the analyses read the z-scores; the index has its own vectors
        built = index_tracks(tracks, vectors, settings, p.n_clusters, version_of)
        del vectors

    metrics: dict = {"evaluated": False}
    arrays: dict[str, np.ndarray] = {}
    if settings.evaluate:
        from vibemap.indexer.validation.evaluation import evaluate_build  # heavy: loaded lazily

        with stages.stage("evaluate"):
            evaluation = evaluate_build(
                Zs,
                tracks["vibe_id"].to_numpy(),
                tracks,
                n_clusters=p.n_clusters,
                seed=settings.seed,
                n_init=settings.n_init,
                progress=progress,
                served=built.vectors if built.era.active else None,
                era_weight=built.era.weight,
                exact_max_tracks=settings.exact_budget,
                tick=stages.tick,
            )
            metrics, arrays = evaluation.metrics, evaluation.arrays

    manifest = write_artifact(
        settings, stages, staging, built, tracks,
        fitted=FittedVibes(scaler, vibes, p.n_clusters, p.inertia, p.n_iter),
        report=report, source=source, metrics=metrics, arrays=arrays, table_written=True,
    )
    return BuildResult(path=Path(settings.out), manifest=manifest, vibes=vibes)


def evaluate_artifact(path: Path, progress: ProgressFn | None = None, *,
                      exact_max_tracks: int | None = EXACT_MAX_TRACKS,
                      tick: Tick | None = None) -> dict:
    """Run the validation analyses on an existing artifact and rewrite it atomically with
    the new metrics.json / analysis.npz (for artifacts built with --no-eval); sampled above
    ``exact_max_tracks`` tracks (None: always exact)."""
    from vibemap.indexer.validation.evaluation import evaluate_build

    art = artifact.load_artifact(path)
    Z = art.scaler.transform(art.tracks[list(art.features)].to_numpy(dtype=np.float64))
    stages = Stages(progress, tick)
    with stages.stage("evaluate"):
        evaluation = evaluate_build(
            Z, art.tracks["vibe_id"].to_numpy(), art.tracks,
            n_clusters=int(art.manifest["n_clusters"]), seed=int(art.manifest["seed"]),
            n_init=int(art.manifest["build"]["n_init"]), progress=progress,
            served=None if art.era is None else np.asarray(art.vectors),
            era_weight=0.0 if art.era is None else art.era.weight,
            exact_max_tracks=exact_max_tracks, tick=tick,
        )
    with stages.stage("write"), staged_artifact(art.path) as staging:
        for rel in art.manifest["files"]:
            if rel in _REWRITTEN_ON_EVALUATE:
                continue
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(art.path / rel, staging / rel)
        artifact.write_json(staging / "metrics.json", evaluation.metrics)
        np.savez(staging / "analysis.npz", allow_pickle=False, **evaluation.arrays)
        manifest = {k: v for k, v in art.manifest.items() if k not in ("files", "format_version")}
        manifest["build"] = {**manifest["build"], **art.index.manifest_fields(), "evaluated": True}
        manifest["timings"] = {**manifest.get("timings", {}), **stages.timings}
        return artifact.finalize_manifest(staging, manifest)
