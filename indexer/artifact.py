"""The on-disk artifact ``indexes/<name>/``: the one module that writes and reads it.

Layout (all paths relative to the artifact directory)::

    manifest.json          format version, source, counts, features, parameters,
                           sha256 + size of every other file (written last)
    scaler.json            z-score mean and scale per feature, in feature order
    centroids.json         per vibe: id, name, size, centroid in z-scores and original units
    vectors.npy            float32 (n, d) index-space vectors; row i = track row i; d is
                           the manifest's build.dimension: the features, plus the era
                           column when the manifest's era.weight > 0
    tracks.arrow           the cleaned tracks sorted by vibe, as an uncompressed Arrow IPC
                           (Feather v2) file of one record batch, memory-mapped by the
                           service; row i = FAISS id i (format 3+)
    columns/, genres/folded.json, genres/label_*.npy
                           per-row arrays derived at build time (features column-major,
                           numbers, version codes, rows per folded genre):
                           :mod:`vibemap.indexer.serving_arrays` (format 3+)
    search/                the text-search structure: :mod:`vibemap.indexer.search_index`,
                           its substring postings (:mod:`vibemap.indexer.trigrams`) and the
                           facts it ranks by in grouped order (:mod:`vibemap.indexer.search_runs`)
                           (format 4)
    columns/id_hash_*.npy  id -> row as a hash table: :mod:`vibemap.indexer.id_table`
                           (format 4)
    cones/                 a cosine IVF index's rows sorted by angle within each list, for
                           exact filtered ranking: :mod:`vibemap.indexer.cone_index` (format 4)
    tracks_labelled.csv    every input column + vibe_id, vibe_name (same row order)
    metrics.json           validation results ({"evaluated": false} with --no-eval)
    vibes.json             per-vibe facts as GET /v1/vibes shows them (format 2):
                           {"features", "top_genres_limit", "typical_tracks_limit",
                            "vibes": [{vibe_id, name, slug, size, share, signature, centroid,
                            centroid_z, profile, top_genres, typical_rows}]}
    genres/vocabulary.json {"labels": [...]} distinct parsed genre labels (format 2)
    genres/offsets.npy     int64 (n + 1,): row i's labels are codes[offsets[i]:offsets[i+1]]
    genres/codes.npy       int32 (offsets[-1],): indexes into the vocabulary
    analysis.npz           per-track analysis arrays (silhouette, outlier flags, PCA
                           sample rows and coordinates); only when evaluated
    faiss/all.faiss        FAISS index over all rows (flat, or IVF-Flat above ann_threshold
                           with lists grouped by vibe)
    faiss/vibe_<v>.faiss   flat FAISS index over vibe v's contiguous rows (flat builds only)

The index type and parameters live in the manifest only (``build.index``,
``build.index_params``). Format 4 is read memory-mapped (vectors, features, the track
table, the id hash table, the search structure, the cones, the FAISS files): loading costs
the checks, not a Python object per row. Older formats are refused with a message to rebuild.

Nothing here is pickled: arrays are .npy (loaded with allow_pickle=False), tables
Arrow IPC, facts JSON, indexes FAISS's own format. A build writes into a temporary
sibling directory and swaps it into place atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
import pandas as pd
import pyarrow as pa

from vibemap.indexer import arrow_tables, id_table
from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.checksums import Identity, verified
from vibemap.indexer.cone_index import Cones, cone_files, cones_of_index, has_cones, read_cones
from vibemap.indexer.era import EraScaler
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.id_table import IdTable
from vibemap.indexer.index_io import spec_from_manifest
from vibemap.indexer.ivf_tools import IVF_FLAT
from vibemap.indexer.manifest import build_manifest, genre_summary
from vibemap.indexer.personalities import Scaler
from vibemap.indexer.search_index import (
    SearchIndex,
    derive_search,
    read_search,
    search_files,
)
from vibemap.indexer.search_runs import Runs, read_runs, runs_files
from vibemap.indexer.serving_arrays import (
    ServingColumns,
    derive_serving,
    read_serving,
    serving_files,
)
from vibemap.indexer.staging import MANIFEST
from vibemap.indexer.track_files import TRACKS, write_track_table, write_tracks
from vibemap.indexer.vector_index import Partition, PartitionedIndex
from vibemap.indexer.vibe_facts import vibes_document

__all__ = ["Artifact", "ArtifactError", "build_manifest", "finalize_manifest", "genre_summary",
           "load_artifact", "open_artifact", "read_genres", "read_manifest", "read_vibe_facts",
           "verify_files", "write_genres", "write_json", "write_track_table", "write_tracks",
           "write_vibes"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

FORMAT_VERSION = 4
# 1 and 2 held tracks.parquet and derived per-row facts on load; 3 lacks the id hash
# table, the cones/ and the search's postings and runs
READABLE_FORMATS = (4,)
VIBES = "vibes.json"
GENRE_VOCABULARY = "genres/vocabulary.json"
GENRE_OFFSETS = "genres/offsets.npy"
GENRE_CODES = "genres/codes.npy"
REQUIRED_FILES = (
    "scaler.json", "centroids.json", "vectors.npy", TRACKS, "tracks_labelled.csv",
    "metrics.json", "faiss/all.faiss", VIBES, GENRE_VOCABULARY, GENRE_OFFSETS, GENRE_CODES,
    *serving_files(), *search_files(), *runs_files(), *id_table.FILES,
)


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def finalize_manifest(directory: Path, manifest: dict) -> dict:
    """Add the sha256 and size of every file in ``directory`` and write manifest.json last."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST:
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {**manifest, "format_version": FORMAT_VERSION, "files": files}
    write_json(directory / MANIFEST, manifest)
    return manifest


def write_genres(directory: Path, genres: GenreCodes) -> None:
    """The parsed genres (see :class:`GenreCodes`) under ``genres/``."""
    (directory / "genres").mkdir(parents=True, exist_ok=True)
    write_json(directory / GENRE_VOCABULARY, {"labels": list(genres.vocabulary)})
    np.save(directory / GENRE_OFFSETS, genres.offsets.astype(np.int64), allow_pickle=False)
    np.save(directory / GENRE_CODES, genres.codes.astype(np.int32), allow_pickle=False)


def read_genres(path: Path, n_rows: int) -> GenreCodes:
    """The parsed genres of an artifact (memory-mapped), checked against its ``n_rows``."""
    path = Path(path)
    labels = _read_json(path / GENRE_VOCABULARY)["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{GENRE_VOCABULARY}: labels must be a list of strings")
    offsets = checks.read_npy(path / GENRE_OFFSETS, np.int64, (n_rows + 1,), GENRE_OFFSETS,
                              mmap=True)
    codes = checks.read_npy(path / GENRE_CODES, np.int32, (None,), GENRE_CODES, mmap=True)
    genres = GenreCodes(tuple(labels), offsets, codes)
    try:
        genres.check(n_rows)
    except ValueError as exc:
        raise ValueError(f"{GENRE_OFFSETS} / {GENRE_CODES}: {exc}") from None
    return genres


def write_vibes(directory: Path, features: Sequence[str], facts: list[dict]) -> None:
    write_json(directory / VIBES, vibes_document(features, facts))


def read_vibe_facts(path: Path) -> list[dict]:
    """The per-vibe facts of vibes.json (format 2), by ascending vibe id; each has vibe_id,
    name, slug, size, share, signature, centroid, centroid_z, profile, top_genres and
    typical_rows (catalogue rows, nearest the centroid first)."""
    doc = _read_json(Path(path) / VIBES)
    return sorted(doc["vibes"], key=lambda v: int(v["vibe_id"]))


@dataclass(frozen=True)
class Artifact:
    """A verified artifact. Row i of ``table`` is row i of ``vectors`` and FAISS id i.

    ``table`` is the track table (memory-mapped Arrow when read from disk); ``serving`` and
    ``search`` are the per-row arrays and search structure the build derived (mapped);
    None for an artifact made in memory, whose engine derives them with the build's own
    functions. ``tracks`` is the table as a pandas frame, converted on first use (the build's
    evaluate step and tests; the service never asks for it).
    """

    path: Path
    manifest: dict
    features: tuple[str, ...]
    scaler: Scaler
    vibes: list[dict]
    table: pa.Table
    vectors: np.ndarray
    index: PartitionedIndex
    metrics: dict
    analysis: dict[str, np.ndarray]
    genres: GenreCodes
    vibe_facts: list[dict]
    era: EraScaler | None = None  # set when the vectors carry the era column (weight > 0)
    serving: ServingColumns | None = None
    search: SearchIndex | None = None
    ids: IdTable | None = None
    cones: Cones | None = None  # a cosine IVF artifact's (vibemap.indexer.cone_index)
    search_runs: dict[str, Runs] | None = None  # vibemap.indexer.search_runs
    verified: dict[str, Identity] = field(default_factory=dict)  # see checksums.verified

    @property
    def metric(self) -> str:
        return str(self.manifest["build"]["metric"])

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def format_version(self) -> int:
        return int(self.manifest["format_version"])

    @property
    def n_rows(self) -> int:
        return int(self.table.num_rows)

    @cached_property
    def tracks(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def serving_columns(self) -> ServingColumns:
        """The mapped per-row arrays, or (in memory) derived as the build derives them."""
        if self.serving is not None:
            return self.serving
        return derive_serving(self.table, self.features, self.genres, self.vectors,
                              self.metric)

    def id_lookup(self) -> IdTable:
        """The mapped id -> row table, or (in memory) derived as the build derives it."""
        return self.ids if self.ids is not None else IdTable.derive(
            self.table.column("track_id"))

    def cone_index(self) -> Cones | None:
        """The mapped cones, or (in memory, a cosine IVF index) derived as the build does."""
        if self.cones is not None or self.metric != "cosine" or self.index.kind != IVF_FLAT:
            return self.cones
        return cones_of_index(faiss.extract_index_ivf(self.index.full), self.vectors)

    def search_index(self, popularity: np.ndarray) -> SearchIndex:
        """The mapped search structure, or (in memory) derived as the build derives it."""
        return self.search if self.search is not None else derive_search(self.table,
                                                                         popularity)


def read_manifest(path: Path) -> dict:
    """Read and version-check ``manifest.json`` of the artifact at ``path``."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path}: no artifact directory here (build one with `vibemap index`)")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{path}: {MANIFEST} is missing; not a complete vibemap artifact")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{manifest_path}: expected a JSON object")
    version = manifest.get("format_version")
    if isinstance(version, bool) or version not in READABLE_FORMATS:
        raise ArtifactError(
            f"{manifest_path}: artifact format version {version!r} is not one this vibemap "
            f"reads (formats {', '.join(map(str, READABLE_FORMATS))}; it writes "
            f"{FORMAT_VERSION}); rebuild it with `vibemap index`"
        )
    return manifest


def required_files(manifest: dict) -> tuple[str, ...]:
    """The files an artifact of this manifest's build must list."""
    return (*REQUIRED_FILES, *(cone_files() if has_cones(manifest["build"]) else ()))


def verify_files(path: Path, manifest: dict, every: bool = False) -> None:
    """Check every required file is listed, every listed file present at its size, and the
    files the service reads (all of them with ``every``) match their recorded sha256."""
    verified(Path(path), manifest, required_files(manifest), lambda gate, _: gate(), every)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_scaler(path: Path, features: tuple[str, ...]) -> Scaler:
    data = _read_json(path / "scaler.json")
    if list(data["features"]) != list(features):
        raise ArtifactError(f"{path}: scaler features {data['features']} do not match "
                            f"manifest features {list(features)}")
    scaler = Scaler.from_dict(data)
    d = len(features)
    if scaler.mean.shape != (d,) or scaler.scale.shape != (d,) or not (
            np.isfinite(scaler.mean).all() and np.isfinite(scaler.scale).all()
            and (scaler.scale > 0).all()):
        raise ValueError(f"scaler.json: mean and scale must be {d} finite numbers, scale > 0")
    return scaler


def _load_checked(path: Path, manifest: dict, gate: Callable[[], None],
                  verified_as: dict[str, Identity]) -> Artifact:
    """Read every file, checking its structure against the manifest (ValueError if not);
    ``gate()`` before the first Arrow or FAISS file is opened."""
    features = tuple(manifest["features"])
    d, n = checks.vector_dimension(manifest), int(manifest["rows"]["kept"])
    era = EraScaler.from_dict(manifest["era"]) if d > len(features) else None
    scaler = _read_scaler(path, features)
    vibes = list(_read_json(path / "centroids.json")["vibes"])
    partitions = [Partition(**p) for p in manifest["partitions"]]
    checks.check_partitions(partitions, [int(v["vibe_id"]) for v in vibes], n)
    vectors = checks.read_npy(path / "vectors.npy", np.float32, (n, d), mmap=True)
    gate()
    table = arrow_tables.read_table(path / TRACKS)
    if table.num_rows != n:
        raise ValueError(f"{TRACKS} has {table.num_rows} rows, the manifest {n}")
    row_ids = arrow_tables.column(table, "row").to_numpy()
    if not np.array_equal(row_ids, np.arange(n)):
        raise ValueError(f"{TRACKS} row ids are not 0..{n - 1} in order")
    checks.check_vibe_labels(arrow_tables.column(table, "vibe_id").to_numpy(), partitions)
    metrics = dict(_read_json(path / "metrics.json"))
    index = PartitionedIndex.load(path, manifest["build"]["metric"], partitions,
                                  spec_from_manifest(manifest["build"]), d)
    analysis: dict[str, np.ndarray] = {}
    if (path / "analysis.npz").is_file():
        analysis = checks.read_npz(path / "analysis.npz", n)
    ranges = {p.vibe_id: (p.start, p.stop) for p in partitions}
    genres, facts = read_genres(path, n), read_vibe_facts(path)
    checks.check_vibe_facts(facts, ranges)
    serving = read_serving(path, n, len(features), d)
    search = read_search(path, n)
    cones = read_cones(path, n, d) if has_cones(manifest["build"]) else None
    return Artifact(path, manifest, features, scaler, vibes, table, vectors, index, metrics,
                    analysis, genres, facts, era, serving, search, IdTable.read(path, n),
                    cones, read_runs(path, n, search), verified_as)


def load_artifact(path: Path, verify: bool = True) -> Artifact:
    """Load an artifact of a readable format, refusing with ArtifactError a wrong format
    version, a missing file, a checksum mismatch or a file whose structure (dtype, shape,
    row count, index dimension and size) disagrees with the manifest. Every checksum is
    verified, the labelled CSV's included: what rewrites the artifact (evaluate) copies it."""
    return open_artifact(path, lambda artifact: artifact, verify, every=True)


def open_artifact(path: Path, serve: Callable[[Artifact], T], verify: bool = True,
                  every: bool = False, trusted: Mapping[str, Identity] | None = None) -> T:
    """``serve(artifact)`` of the artifact at ``path``, loaded as :func:`load_artifact`
    does; with ``verify``, the checksums of the files the service reads (every file with
    ``every``; not those ``trusted`` as they are: :mod:`vibemap.indexer.checksums`) are
    computed while it loads and ``serve`` runs, and nothing is returned unless they match."""
    path = Path(path)
    manifest = read_manifest(path)

    def load(gate: Callable[[], None], identities: dict[str, Identity]) -> T:
        try:
            artifact = _load_checked(path, manifest, gate, identities)
        except ArtifactError:
            raise
        except (OSError, KeyError, TypeError, ValueError, IndexError, MemoryError) as exc:
            raise ArtifactError(f"{path}: unreadable artifact ({type(exc).__name__}: {exc})"
                                ) from None
        return serve(artifact)

    if not verify:
        return load(lambda: None, {})
    return verified(path, manifest, required_files(manifest), load, every, trusted)
