"""Per-row arrays the service reads, derived at build time and memory-mapped on load:

    columns/features.npy      float64 (n, d), column-major: features in original units,
                              manifest order (a filter on one feature reads one column)
    columns/popularity.npy    float64 (n,), NaN where unknown; likewise
    columns/release_year.npy  and columns/duration_ms.npy
    columns/version_of.npy    int64 (n,): one code per song (:mod:`vibemap.indexer.versions`;
                              a row without a key is a song of its own)
    genres/folded.json        {"labels": [...]}: the distinct folded genre labels, sorted
    genres/label_offsets.npy  int64 (n_labels + 1,)
    genres/label_rows.npy     int64: the rows carrying folded label i, ascending, are
                              label_rows[label_offsets[i]:label_offsets[i + 1]]
    columns/audio_vectors.npy float32 (n, d): the nine-feature vectors audio_only ranks by
                              (:func:`audio_vectors`), only for an artifact whose index
                              vectors carry the era column
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.arrow_tables import as_large_strings
from vibemap.indexer.exhaustive_search import normalise_rows
from vibemap.indexer.folding import fold
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.versions import version_keys

FEATURES_FILE = "columns/features.npy"
NUMBER_COLUMNS = ("popularity", "release_year", "duration_ms")
VERSION_OF = "columns/version_of.npy"
GENRE_FOLDED = "genres/folded.json"
GENRE_LABEL_OFFSETS = "genres/label_offsets.npy"
GENRE_LABEL_ROWS = "genres/label_rows.npy"
AUDIO_VECTORS = "columns/audio_vectors.npy"  # only when the vectors carry the era column


def number_file(name: str) -> str:
    return f"columns/{name}.npy"


def serving_files() -> tuple[str, ...]:
    return (FEATURES_FILE, *(number_file(c) for c in NUMBER_COLUMNS), VERSION_OF,
            GENRE_FOLDED, GENRE_LABEL_OFFSETS, GENRE_LABEL_ROWS)


@dataclass(frozen=True)
class ServingColumns:
    """The mapped per-row arrays of the module docstring (read-only views)."""

    features: np.ndarray
    numbers: dict[str, np.ndarray]
    version_of: np.ndarray
    genre_labels: dict[str, int]
    genre_offsets: np.ndarray
    genre_rows: np.ndarray
    audio: np.ndarray | None = None

    def rows_with_label(self, folded_label: str) -> np.ndarray | None:
        i = self.genre_labels.get(folded_label)
        if i is None:
            return None
        return self.genre_rows[self.genre_offsets[i]:self.genre_offsets[i + 1]]


# ------------------------------------------------------------------ derivation
def audio_vectors(X: np.ndarray, metric: str, n_features: int) -> np.ndarray:
    """The nine-feature part of index vectors that carry an era column: the first
    ``n_features`` columns, re-normalised to unit length under cosine. A cosine row is
    ``v / |v|`` with ``v = (z, W e)``, so its re-normalised head is ``z / |z|``: exactly the
    vector a W = 0 build stores (up to float32 rounding). float32 (n, n_features)."""
    head = np.array(X[:, :n_features], dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        normalise_rows(head)
    return head


def numbers(table: pa.Table, name: str) -> np.ndarray:
    """float64 (n,) of a numeric column, NaN where unknown or absent."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    col = pc.cast(table.column(name), pa.float64())
    return col.fill_null(np.nan).to_numpy()


def version_codes(keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """int64 (n,): equal keys share a code; a row without a key gets one of its own."""
    encoded = as_large_strings(keys).dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    missing = codes < 0
    codes[missing] = len(encoded.dictionary) + np.arange(int(missing.sum()))
    return codes


def genre_label_rows(genres: GenreCodes) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sorted folded labels, offsets, rows): the rows carrying each folded label."""
    row_of_code = np.repeat(np.arange(genres.n_rows, dtype=np.int64), np.diff(genres.offsets))
    folded = [fold(label) for label in genres.vocabulary]
    labels = sorted(set(folded))
    position = {g: i for i, g in enumerate(labels)}
    label_of_code = np.asarray([position[f] for f in folded], dtype=np.int64)
    label = label_of_code[np.asarray(genres.codes, dtype=np.int64)]
    # rows ascend already (CSR by row): a stable sort by label keeps them ascending within
    # each label (a radix sort for 16-bit codes); then drop a row met twice in one label
    # (two labels of a cell that fold alike)
    key = label.astype(np.int16) if len(labels) < 2**15 else label
    order = np.argsort(key, kind="stable")
    label_sorted, rows = label[order], row_of_code[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (label_sorted[1:] != label_sorted[:-1]) | (rows[1:] != rows[:-1])
    label_sorted, rows = label_sorted[keep], rows[keep]
    offsets = np.searchsorted(label_sorted, np.arange(len(labels) + 1)).astype(np.int64)
    return labels, offsets, rows.astype(np.int64)


def _version_key_column(table: pa.Table) -> pa.Array:
    """The stored ``version_key`` column, or (a table made without one) the keys of its
    titles and artists, by the build's own function."""
    if "version_key" in table.column_names:
        return table.column("version_key")
    n = table.num_rows
    text = {c: table.column(c).to_pylist() if c in table.column_names else [""] * n
            for c in ("name", "artist")}
    return pa.array(np.asarray(version_keys(text["name"], text["artist"]), dtype=object),
                    type=pa.large_string())


def derive_serving(table: pa.Table, features: Sequence[str], genres: GenreCodes,
                   vectors: np.ndarray, metric: str, version_of: np.ndarray | None = None,
                   features_matrix: np.ndarray | None = None) -> ServingColumns:
    """Every array of the module docstring, in memory, from the tracks table (artifact
    order), its parsed genres and index vectors: what the build writes and the service
    maps. ``version_of``: the version codes where the caller has them already (the build:
    :func:`vibemap.indexer.versions.keyed_versions`), else found from the table.
    ``features_matrix``: the features already as the Fortran-ordered float64 matrix (the
    build fills it from its frame, freeing each column), else read from the table."""
    F = features_matrix
    if F is None:
        F = np.empty((table.num_rows, len(features)), dtype=np.float64, order="F")  # by
        for j, f in enumerate(features):  # column: no row-major copy next to it (GBs at 10M)
            F[:, j] = numbers(table, f)
    labels, offsets, rows = genre_label_rows(genres)
    return ServingColumns(F, {name: numbers(table, name) for name in NUMBER_COLUMNS},
                          version_codes(_version_key_column(table)) if version_of is None
                          else version_of,
                          {g: i for i, g in enumerate(labels)}, offsets, rows,
                          audio_vectors(vectors, metric, len(features))
                          if vectors.shape[1] > len(features) else None)


def write_serving(directory: Path, cols: ServingColumns) -> None:
    """Write every file of the module docstring."""
    (directory / "columns").mkdir(parents=True, exist_ok=True)
    (directory / "genres").mkdir(parents=True, exist_ok=True)
    np.save(directory / FEATURES_FILE, np.asfortranarray(cols.features), allow_pickle=False)
    for name in NUMBER_COLUMNS:
        np.save(directory / number_file(name), cols.numbers[name], allow_pickle=False)
    np.save(directory / VERSION_OF, cols.version_of, allow_pickle=False)
    (directory / GENRE_FOLDED).write_text(json.dumps({"labels": list(cols.genre_labels)})
                                          + "\n", encoding="utf-8")
    np.save(directory / GENRE_LABEL_OFFSETS, cols.genre_offsets, allow_pickle=False)
    np.save(directory / GENRE_LABEL_ROWS, cols.genre_rows, allow_pickle=False)
    if cols.audio is not None:
        np.save(directory / AUDIO_VECTORS, cols.audio, allow_pickle=False)


# --------------------------------------------------------------------- reading
def read_serving(directory: Path, n_rows: int, d: int, vector_d: int) -> ServingColumns:
    """The mapped arrays, each checked for dtype and shape (and the genre rows' bounds);
    ``d`` features, index vectors of ``vector_d`` columns."""
    directory = Path(directory)
    F = checks.read_npy(directory / FEATURES_FILE, np.float64, (n_rows, d), FEATURES_FILE,
                        mmap=True)
    nums = {name: checks.read_npy(directory / number_file(name), np.float64, (n_rows,),
                                  number_file(name), mmap=True) for name in NUMBER_COLUMNS}
    version_of = checks.read_npy(directory / VERSION_OF, np.int64, (n_rows,), VERSION_OF,
                                 mmap=True)
    labels = json.loads((directory / GENRE_FOLDED).read_text(encoding="utf-8"))["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{GENRE_FOLDED}: labels must be a list of strings")
    offsets = checks.read_npy(directory / GENRE_LABEL_OFFSETS, np.int64, (len(labels) + 1,),
                              GENRE_LABEL_OFFSETS)
    rows = checks.read_npy(directory / GENRE_LABEL_ROWS, np.int64, (None,), GENRE_LABEL_ROWS,
                           mmap=True)
    if offsets[0] != 0 or offsets[-1] != len(rows) or (np.diff(offsets) < 0).any() or (
            len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= n_rows)):
        raise ValueError(f"{GENRE_LABEL_OFFSETS} / {GENRE_LABEL_ROWS}: offsets or rows out "
                         "of range")
    audio = (checks.read_npy(directory / AUDIO_VECTORS, np.float32, (n_rows, d), AUDIO_VECTORS,
                             mmap=True) if vector_d > d else None)
    return ServingColumns(F, nums, version_of, {g: i for i, g in enumerate(labels)},
                          offsets, rows, audio)
