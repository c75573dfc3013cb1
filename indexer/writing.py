"""The build's facts and write stages, shared by the local and Spark engines: every file
of the artifact from the fitted vibes, the sorted tracks and their index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from vibemap.indexer import artifact
from vibemap.indexer.catalogue import CleaningReport
from vibemap.indexer.cone_index import index_lists, write_index_cones
from vibemap.indexer.era import EraScaler
from vibemap.indexer.features import FEATURES
from vibemap.indexer.genre_labels import encode_genres
from vibemap.indexer.personalities import Scaler
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.stages import Stages
from vibemap.indexer.vector_index import Partition, PartitionedIndex
from vibemap.indexer.vibe_facts import vibe_facts


def vibemap_version() -> str:
    try:
        return metadata.version("vibemap")
    except metadata.PackageNotFoundError:
        return "0+unknown"



@dataclass(frozen=True)
class IndexedTracks:
    """The index-space vectors of the sorted tracks, their era scaler, the vibe row ranges
    and the FAISS index over them."""

    vectors: np.ndarray
    era: EraScaler
    partitions: list[Partition]
    index: PartitionedIndex
    version_of: np.ndarray | None = None  # the version_key column's codes (serving_arrays)


@dataclass(frozen=True)
class FittedVibes:
    """What the clustering stage hands to the writer, whatever engine ran it."""

    scaler: Scaler
    vibes: list[dict]
    n_clusters: int
    inertia: float
    n_iter: int


class FeatureRows:
    """``tracks[features].to_numpy()`` as far as vibe_facts reads it (``shape``, and row
    slices, Fortran-ordered as pandas gives the matrix), one slice at a time from the
    columns: never the whole n x d float64 matrix (0.7 GB at 10M rows)."""

    def __init__(self, columns: list[np.ndarray]) -> None:
        self.columns = columns
        self.shape = (len(columns[0]), len(columns))

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise IndexError("FeatureRows takes contiguous row slices only")
        out = np.empty((max(stop - start, 0), self.shape[1]), dtype=np.float64, order="F")
        for j, column in enumerate(self.columns):
            out[:, j] = column[start:stop]
        return out


def write_artifact(
    settings: BuildSettings, stages: Stages, staging: Path, built: IndexedTracks,
    tracks: pd.DataFrame, *, fitted: FittedVibes, report: CleaningReport, source: dict,
    metrics: dict, arrays: dict[str, np.ndarray], engine: dict | None = None,
    table_written: bool = False,
) -> dict:
    """The facts and write stages: every file of the artifact but the labelled CSV export
    (the caller writes it first, while it still has the raw rows) into ``staging``;
    returns the finalised manifest. Shared by both engines.

    Consumes ``tracks`` (the track table takes its columns) and ``built.index`` (its FAISS
    structures are released once saved): each is GBs at 10M rows, and the write stage
    holds the table and the arrays derived from it. ``table_written``: the caller wrote
    tracks.arrow already (artifact.write_track_table) and ``tracks`` holds the features,
    the numbers and the genres."""
    scaler, vibes, partitions, index = fitted.scaler, fitted.vibes, built.partitions, built.index
    with stages.stage("facts"):
        genres = encode_genres(tracks["genres"] if "genres" in tracks else [None] * len(tracks))
        # from the values as stored, so that a reader recomputing them would agree
        stored_scaler = Scaler.from_dict(scaler.to_dict(FEATURES))
        facts = vibe_facts(FEATURES, FeatureRows([tracks[f].to_numpy(dtype=np.float64)
                                                  for f in FEATURES]),
                           stored_scaler, vibes,
                           {q.vibe_id: (q.start, q.stop) for q in partitions}, genres)

    with stages.stage("write"):
        artifact.write_json(staging / "scaler.json", scaler.to_dict(FEATURES))
        artifact.write_json(
            staging / "centroids.json", {"features": list(FEATURES), "vibes": vibes}
        )
        np.save(staging / "vectors.npy", built.vectors, allow_pickle=False)
        artifact.write_json(staging / "metrics.json", metrics)
        if arrays:
            np.savez(staging / "analysis.npz", allow_pickle=False, **arrays)
        index.save(staging)
        artifact.write_genres(staging, genres)
        artifact.write_vibes(staging, FEATURES, facts)
        manifest = artifact.build_manifest(
            name=Path(settings.out).name,
            vibemap_version=vibemap_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            source=source,
            report=report,
            features=FEATURES,
            n_clusters=fitted.n_clusters,
            seed=settings.seed,
            metric=settings.metric,
            n_init=settings.n_init,
            kmeans_inertia=fitted.inertia,
            kmeans_n_iter=fitted.n_iter,
            evaluated=bool(metrics.get("evaluated", False)),
            index=index,
            vibes=vibes,
            partitions=partitions,
            genres=genres,
            timings=stages.timings,
            era=built.era.to_dict(),
            dimension=built.vectors.shape[1],
            engine=engine,
        )
        lists = index_lists(index)
        index.release()  # saved, and described in the manifest: the table needs the room
        write_index_cones(staging, lists, built.vectors)
        del lists
        artifact.write_tracks(staging, tracks, FEATURES, genres, built.vectors, settings.metric,
                              version_of=built.version_of, table_written=table_written)
        return artifact.finalize_manifest(staging, manifest)
