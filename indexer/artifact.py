"""The on-disk artifact ``indexes/<name>/``: the one module that writes and reads it.

Layout (all paths relative to the artifact directory)::

    manifest.json          format version, source, counts, features, parameters,
                           sha256 + size of every other file (written last)
    scaler.json            z-score mean and scale per feature, in feature order
    centroids.json         per vibe: id, name, size, centroid in z-scores and original units
    vectors.npy            float32 (n, d) index-space vectors; row i = track row i
    tracks.parquet         the cleaned tracks sorted by vibe; row i = FAISS id i
    tracks_labelled.csv    every input column + vibe_id, vibe_name (same row order)
    metrics.json           validation results ({"evaluated": false} with --no-eval)
    analysis.npz           per-track analysis arrays (silhouette, outlier flags, PCA
                           sample rows and coordinates); only when evaluated
    faiss/all.faiss        FAISS index over all rows (flat, or IVF-Flat above ann_threshold
                           with lists grouped by vibe)
    faiss/vibe_<v>.faiss   flat FAISS index over vibe v's contiguous rows (flat builds only)
    faiss/index.json       index type and parameters (nprobe per scope for IVF)

Nothing here is pickled: arrays are .npy (loaded with allow_pickle=False), tables
parquet, facts JSON, indexes FAISS's own format. A build writes into a temporary
sibling directory and swaps it into place atomically.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.personalities import Scaler
from vibemap.indexer.vector_index import Partition, PartitionedIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = (
    "scaler.json",
    "centroids.json",
    "vectors.npy",
    "tracks.parquet",
    "tracks_labelled.csv",
    "metrics.json",
    "faiss/all.faiss",
)


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries (Linux renameat2 RENAME_EXCHANGE)."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def _artifact_entries(root: Path, manifest: object) -> str | None:
    """None when ``root`` holds only what ``manifest`` lists (plus manifest.json and the
    folders of listed files); else the first other entry, relative to ``root``."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or "format_version" not in manifest:
        return MANIFEST  # not a manifest vibemap wrote
    listed = {MANIFEST, *map(str, files)}
    folders = {parent.as_posix() for rel in listed for parent in Path(rel).parents}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath).relative_to(root)
        for name in sorted(dirnames):
            rel = (base / name).as_posix()
            if rel not in folders or (Path(dirpath) / name).is_symlink():
                return rel + "/"
        for name in sorted(filenames):
            rel = (base / name).as_posix()
            if rel not in listed or (Path(dirpath) / name).is_symlink():
                return rel
    return None


def check_replaceable(target: Path) -> None:
    """Refuse to build over anything but a missing path, an empty directory or a vibemap
    artifact holding only its own files: a build replaces ``target`` wholesale, so
    anything else in it (the input CSV, a home directory) would be deleted.

    Symlinks are followed: the directory they point at must pass the same test.
    """
    shown = Path(target)
    real = shown.resolve()
    if not real.exists():
        if shown.is_symlink():
            raise ArtifactError(f"{shown}: is a broken symbolic link; choose another --out")
        return
    if not real.is_dir():
        raise ArtifactError(
            f"{shown}: exists and is not a directory; refusing to replace it (choose another --out)"
        )
    if not any(real.iterdir()):
        return
    manifest_path = real / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    extra = _artifact_entries(real, manifest)
    if extra == MANIFEST:
        raise ArtifactError(
            f"{shown}: is not empty and is not a vibemap artifact (no valid {MANIFEST}); "
            "refusing to replace it: choose a new or empty --out directory"
        )
    if extra is not None:
        raise ArtifactError(
            f"{shown}: holds {extra!r}, which is not part of its vibemap artifact; refusing "
            "to replace it: move that file out or choose another --out directory"
        )


def _swap_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` become ``target``; the previous ``target`` is never left half-replaced.

    ``target`` has passed :func:`check_replaceable`, so what is removed is an old artifact.
    """
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous artifact
        return
    # Fallback without renameat2: two renames. The previous artifact survives as .old
    # if a crash falls between them.
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _staging_name(target: Path) -> str:
    return f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _remove_stale_staging(target: Path) -> None:
    """Delete leftovers of builds that died before their swap (their pid is gone). Only
    directories named exactly as :func:`_staging_name` names them are candidates."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-(\d+)-[0-9a-f]{{8}}")
    for path in target.parent.glob(f".{target.name}.tmp-*"):
        match = pattern.fullmatch(path.name)
        if not match or path.is_symlink() or not path.is_dir():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staged_artifact(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success swap it into ``target``.

    ``target`` must pass :func:`check_replaceable` (checked before staging and again just
    before the swap); a symlink is followed and the directory it names is replaced.
    On any exception the staging directory is removed and ``target`` is untouched.
    The caller must have written ``manifest.json`` (see :func:`finalize_manifest`).
    """
    check_replaceable(target)
    real = Path(target).resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(real)
    staging = real.with_name(_staging_name(real))
    staging.mkdir()
    try:
        yield staging
        if not (staging / MANIFEST).is_file():
            raise ArtifactError("internal: artifact staged without a manifest")
        _fsync_tree(staging)
        check_replaceable(target)  # the build can take minutes; look again
        _swap_into_place(staging, real)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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


@dataclass(frozen=True)
class Artifact:
    """A verified artifact in memory. Row i of ``tracks`` is row i of ``vectors`` and FAISS id i."""

    path: Path
    manifest: dict
    features: tuple[str, ...]
    scaler: Scaler
    vibes: list[dict]
    tracks: pd.DataFrame
    vectors: np.ndarray
    index: PartitionedIndex
    metrics: dict
    analysis: dict[str, np.ndarray]

    @property
    def metric(self) -> str:
        return str(self.manifest["build"]["metric"])

    @property
    def name(self) -> str:
        return self.path.name


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
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{manifest_path}: artifact format version {version!r} does not match this "
            f"vibemap's format version {FORMAT_VERSION}; rebuild it with `vibemap index`"
        )
    return manifest


def verify_files(path: Path, manifest: dict) -> None:
    """Check every required file is listed, present, and matches its recorded sha256."""
    files = manifest.get("files") or {}
    for rel in REQUIRED_FILES:
        if rel not in files:
            raise ArtifactError(f"{path}: manifest lists no {rel}; incomplete artifact")
    for rel, meta in files.items():
        file = path / rel
        if not file.is_file():
            raise ArtifactError(f"{file}: missing (listed in {MANIFEST})")
        actual = sha256_file(file)
        if actual != meta.get("sha256"):
            raise ArtifactError(
                f"{file}: checksum mismatch (manifest sha256 {str(meta.get('sha256'))[:12]}…, "
                f"file sha256 {actual[:12]}…); the artifact was modified or corrupted"
            )


def _read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def load_artifact(path: Path, verify: bool = True) -> Artifact:
    """Load an artifact, refusing a wrong format version, a missing file or a checksum mismatch."""
    path = Path(path)
    manifest = read_manifest(path)
    if verify:
        verify_files(path, manifest)
    try:
        features = tuple(manifest["features"])
        scaler_data = _read_json(path / "scaler.json")
        if list(scaler_data["features"]) != list(features):
            raise ArtifactError(
                f"{path}: scaler features {scaler_data['features']} do not match "
                f"manifest features {list(features)}"
            )
        scaler = Scaler.from_dict(scaler_data)
        vibes = list(_read_json(path / "centroids.json")["vibes"])
        vectors = np.load(path / "vectors.npy", allow_pickle=False)
        tracks = pd.read_parquet(path / "tracks.parquet")
        metrics = dict(_read_json(path / "metrics.json"))
        partitions = [Partition(**p) for p in manifest["partitions"]]
        index = PartitionedIndex.load(path, manifest["build"]["metric"], partitions)
        analysis: dict[str, np.ndarray] = {}
        if (path / "analysis.npz").is_file():
            with np.load(path / "analysis.npz", allow_pickle=False) as npz:
                analysis = {key: npz[key] for key in npz.files}
    except ArtifactError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable artifact ({type(exc).__name__}: {exc})") from None
    n = int(manifest["rows"]["kept"])
    if not (len(tracks) == vectors.shape[0] == index.ntotal == n):
        raise ArtifactError(
            f"{path}: row counts disagree (manifest {n}, tracks {len(tracks)}, "
            f"vectors {vectors.shape[0]}, faiss {index.ntotal})"
        )
    if vectors.shape[1] != len(features):
        raise ArtifactError(
            f"{path}: vectors have {vectors.shape[1]} columns, features {len(features)}"
        )
    if not np.array_equal(tracks["row"].to_numpy(), np.arange(n)):
        raise ArtifactError(f"{path}: tracks.parquet row ids are not 0..{n - 1} in order")
    for key, values in analysis.items():
        if not key.startswith("pca_") and len(values) != n:  # pca_* hold a sample
            raise ArtifactError(f"{path}: analysis.npz {key} has {len(values)} rows, expected {n}")
    return Artifact(
        path, manifest, features, scaler, vibes, tracks, vectors, index, metrics, analysis
    )
