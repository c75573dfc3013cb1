"""Index files on disk (as faiss contrib's vecs_io): write the FAISS files of a
:class:`PartitionedIndex`, and read them back checked against what the manifest promises
(type, dimension, metric, row counts, list layout), so that a malformed file that passes
its checksum is refused with a ValueError, never a faiss error or a huge allocation.
Indexes are read memory-mapped (``IO_FLAG_MMAP_IFC``), shared by every process serving them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import faiss

from vibemap.indexer.exhaustive_search import faiss_metric, flat_index
from vibemap.indexer.ivf_tools import IVF_FLAT

if TYPE_CHECKING:
    from vibemap.indexer.vector_index import Partition, PartitionedIndex

FLAT = "flat"
INDEX_TYPES = (FLAT, IVF_FLAT)
ALL_FILE = "faiss/all.faiss"


def part_file(vibe_id: int) -> str:
    return f"faiss/vibe_{vibe_id}.faiss"


def save_index(index: PartitionedIndex, directory: Path) -> list[str]:
    """Write every index file under ``directory``; returns their relative paths. The index
    parameters go to the manifest only (:func:`manifest_fields`)."""
    written = []
    for rel, idx in index.file_names().items():
        path = Path(directory) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(idx, str(path))
        written.append(rel)
    return written


def manifest_fields(index: PartitionedIndex) -> dict:
    """``build`` fields of the manifest: ``index`` (the type, as the API reports it),
    ``index_params`` (the one record of the index parameters) and ``recall_at_10`` (None
    for exact search)."""
    files = sorted(index.file_names())
    if index.kind == FLAT:
        params: dict = {"exact": True, "files": files}
    else:
        params = {**{k: v for k, v in index.spec.items() if k != "type"}, "files": files}
        if index.build_seconds:
            params["build_seconds"] = dict(index.build_seconds)
    return {"index": index.kind, "index_params": params, "recall_at_10": index.recall_at_10}


def spec_from_manifest(build: dict) -> dict:
    """The index spec (``type`` plus parameters) recorded in a manifest's ``build``."""
    kind = build.get("index", FLAT)
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r} (this vibemap reads {INDEX_TYPES})")
    if kind == FLAT:
        return {"type": FLAT}
    params = build.get("index_params")
    if not isinstance(params, dict):
        raise ValueError(f"manifest build.index_params is missing; an {IVF_FLAT} index needs "
                         "its list layout")
    return {**params, "type": kind, "recall_at_10": build.get("recall_at_10")}


def _flat_bytes(d: int, n: int, metric: str) -> int:
    """The exact size of a FAISS flat index file of ``n`` rows of dimension ``d``."""
    header = len(faiss.serialize_index(flat_index(d, metric)))
    return header + 4 * d * n


def read_checked(path: Path, d: int, n: int, metric: str, kind: str) -> faiss.Index:
    """Read one FAISS file, refusing (ValueError) a file whose size, type, dimension,
    metric or row count is not what the manifest promises."""
    name = f"{path.parent.name}/{path.name}"  # faiss/<file>, as the manifest lists it
    size = path.stat().st_size
    if kind == FLAT and size != _flat_bytes(d, n, metric):
        raise ValueError(f"{name}: {size} bytes, expected {_flat_bytes(d, n, metric)} for a "
                         f"flat index of {n} rows x {d} dims (truncated or not this "
                         "artifact's index)")
    if kind == IVF_FLAT and size < n * (4 * d + 8):  # each row: d float32 and an int64 id
        raise ValueError(f"{name}: {size} bytes, too small for an IVF-Flat index of {n} rows "
                         f"x {d} dims (truncated or not this artifact's index)")
    try:  # memory-mapped: the codes (flat) or inverted lists (IVF) stay in the page cache
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except (RuntimeError, MemoryError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{name}: not a readable FAISS index ({first[:200]})") from None
    want = faiss.IndexIVFFlat if kind == IVF_FLAT else faiss.IndexFlat
    if not isinstance(index, want):
        raise ValueError(f"{name}: a {type(index).__name__}, expected {want.__name__}")
    if index.d != d or index.ntotal != n or index.metric_type != faiss_metric(metric):
        raise ValueError(f"{name}: {index.ntotal} rows x {index.d} dims (metric "
                         f"{index.metric_type}), expected {n} x {d} (metric "
                         f"{faiss_metric(metric)})")
    if kind == IVF_FLAT:
        lists = index.invlists
        held = sum(lists.list_size(i) for i in range(index.nlist))
        if held != n:
            raise ValueError(f"{name}: inverted lists hold {held} rows, expected {n}")
    return index


def read_index_files(directory: Path, d: int, metric: str, partitions: Sequence[Partition],
                     spec: dict) -> tuple[faiss.Index, dict[int, faiss.Index]]:
    """The FAISS files of an artifact, each checked (see :func:`read_checked`)."""
    directory = Path(directory)
    kind = spec.get("type", FLAT)
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r} (this vibemap reads {INDEX_TYPES})")
    if spec.get("metric", metric) != metric:
        raise ValueError(f"index metric {spec.get('metric')!r} does not match the "
                         f"artifact's metric {metric!r}")
    n = sum(p.size for p in partitions)
    full = read_checked(directory / ALL_FILE, d, n, metric, kind)
    parts = {}
    if kind == FLAT:
        parts = {p.vibe_id: read_checked(directory / part_file(p.vibe_id), d, p.size, metric,
                                         FLAT) for p in partitions}
    return full, parts
