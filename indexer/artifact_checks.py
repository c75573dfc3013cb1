"""Structure checks of an artifact's files against its manifest, run on load after the
checksums: a file can match its sha256 and still be malformed (written by another tool,
or by a bug), and must then be refused with a ValueError naming what disagrees, never
read into an absurd allocation or a faiss error."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


def _npy_header(fh: IO[bytes], size: int, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an .npy stream of ``size`` bytes, checked to hold exactly that."""
    try:
        version = np.lib.format.read_magic(fh)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _fortran, dtype = reader(fh)
    except (ValueError, OSError, SyntaxError) as exc:
        raise ValueError(f"{name}: not a valid .npy array ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{name}: holds Python objects (dtype {dtype}); refused")
    expected = fh.tell() + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if expected != size:
        raise ValueError(f"{name}: header promises shape {shape} of {dtype} ({expected} bytes) "
                         f"but the file holds {size} bytes")
    return tuple(int(s) for s in shape), dtype


def _check_shape(name: str, shape: tuple[int, ...], dtype: np.dtype,
                 want_shape: Sequence[int | None], want_dtype: np.dtype | None) -> None:
    if want_dtype is not None and dtype != want_dtype:
        raise ValueError(f"{name}: dtype {dtype}, expected {np.dtype(want_dtype)}")
    if len(shape) != len(want_shape) or any(
            w is not None and s != w for s, w in zip(shape, want_shape, strict=False)):
        want = tuple("*" if w is None else w for w in want_shape)
        raise ValueError(f"{name}: shape {shape}, expected {want}")


def read_npy(path: Path, dtype: np.dtype | type | None, shape: Sequence[int | None],
             name: str | None = None, mmap: bool = False) -> np.ndarray:
    """Load an .npy file after checking its header (``None`` in ``shape``: any length);
    ``name`` is how errors call the file (its artifact-relative path). With ``mmap`` the
    array is a read-only view of the file (pages shared by every process mapping it)."""
    path = Path(path)
    name = name or path.name
    with open(path, "rb") as fh:
        got_shape, got_dtype = _npy_header(fh, path.stat().st_size, name)
    _check_shape(name, got_shape, got_dtype, shape,
                 None if dtype is None else np.dtype(dtype))
    if mmap and int(np.prod(got_shape)) > 0:
        # a plain ndarray view (not np.memmap): results computed from it are ordinary arrays
        return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
    return np.load(path, allow_pickle=False)


def read_npz(path: Path, n_rows: int, sample_prefix: str = "pca_") -> dict[str, np.ndarray]:
    """Load every array of an .npz after checking each header; arrays not named
    ``sample_prefix*`` (which hold a sample) must have ``n_rows`` rows."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename.removesuffix(".npy")
                with zf.open(info) as fh:
                    shape, _ = _npy_header(fh, info.file_size, f"{path.name}:{key}")
                if not key.startswith(sample_prefix) and (not shape or shape[0] != n_rows):
                    raise ValueError(f"{path.name}: {key} has shape {shape}, expected "
                                     f"{n_rows} rows")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path.name}: not a valid .npz archive ({exc})") from None
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def check_partitions(partitions: Sequence, vibe_ids: Sequence[int], n_rows: int) -> None:
    """Partitions must tile rows ``[0, n_rows)`` in order, one per vibe of centroids.json."""
    if sorted(p.vibe_id for p in partitions) != sorted(vibe_ids):
        raise ValueError(f"manifest partitions are for vibes {[p.vibe_id for p in partitions]}, "
                         f"centroids.json has {sorted(vibe_ids)}")
    at = 0
    for p in sorted(partitions, key=lambda p: p.start):
        if p.start != at or p.stop < p.start:
            raise ValueError(f"manifest partitions do not tile the {n_rows} rows in order "
                             f"(vibe {p.vibe_id}: [{p.start}, {p.stop}))")
        at = p.stop
    if at != n_rows:
        raise ValueError(f"manifest.json: partitions cover {at} rows, rows.kept says {n_rows}")


def check_vibe_labels(vibe_of_row: np.ndarray, partitions: Sequence) -> None:
    """Every row of a partition carries that partition's vibe id in tracks.arrow."""
    for p in partitions:
        block = vibe_of_row[p.start:p.stop]
        if len(block) and not (block == p.vibe_id).all():
            raise ValueError(f"tracks.arrow vibe_id disagrees with the partition of vibe "
                             f"{p.vibe_id} (rows {p.start}..{p.stop - 1})")


def check_vibe_facts(facts: Sequence[Mapping], partitions: Mapping[int, tuple[int, int]]) -> None:
    """vibes.json names every vibe once, and its typical rows lie in the vibe's rows."""
    ids = [int(f["vibe_id"]) for f in facts]
    if sorted(ids) != sorted(partitions):
        raise ValueError(f"vibes.json lists vibes {ids}, the manifest {sorted(partitions)}")
    for f in facts:
        start, stop = partitions[int(f["vibe_id"])]
        rows = [int(r) for r in f["typical_rows"]]
        if any(not start <= r < stop for r in rows):
            raise ValueError(f"vibes.json typical rows of vibe {f['vibe_id']} fall outside "
                             f"its rows [{start}, {stop})")


def vector_dimension(manifest: Mapping) -> int:
    """The index vectors' width the manifest promises: one column per feature, plus the
    era column when ``era.weight`` > 0 (vibemap.indexer.era). ``build.dimension``, when
    recorded, must agree (artifacts from before the era dimension do not record it)."""
    d = len(manifest["features"])
    era = manifest.get("era")
    if era is not None:
        if not isinstance(era, Mapping):
            raise ValueError("manifest.json: era must be an object")
        if float(era["weight"]) > 0:
            d += 1
    recorded = (manifest.get("build") or {}).get("dimension", d)
    if isinstance(recorded, bool) or recorded != d:
        raise ValueError(f"manifest.json: build.dimension is {recorded!r}, but "
                         f"{len(manifest['features'])} features and the era weight give {d}")
    return d
