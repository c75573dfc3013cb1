"""The one genre-cell parser, and the parsed genres of a whole table as codes.

Genre cells come in the shapes real catalogues use: python-list strings
(``"['vintage chanson', 'pop']"``, the reference export), ``;``-joined text (every CSV in
``../shared/data``, e.g. ``"dance pop;pop"``), ``,``-joined text, or nothing. No genre
label in that data contains ``;`` or ``,``, so both separate labels. Labels are lower-cased
(sources disagree on case: ``"Hip Hop"`` and ``"hip hop"`` are one genre). The build parses
every cell once (:func:`encode_genres`) and stores the result in the artifact; nothing
downstream re-parses a cell.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_SEPARATORS = re.compile(r"[;,]")
_QUOTES = "'\"[]"  # stripped from label ends, with whitespace


def split_genres(value: object) -> list[str]:
    """Genre labels of one cell: lower-cased, stripped, de-duplicated, in order.

    Parameters
    ----------
    value : a python-list string ("['a', 'b']"), ``;``- or ``,``-separated text, a list of
        strings, or a missing value (None, NaN, pd.NA, "").

    Returns
    -------
    list of str
        Never raises; a missing or empty cell gives ``[]``. Inner whitespace runs become one
        space and surrounding quotes are dropped.
    """
    try:
        items = _items(value)
    except (ValueError, TypeError, RecursionError, MemoryError):  # pragma: no cover - defensive
        return []
    labels: list[str] = []
    seen: set[str] = set()
    for item in items:
        label = _clean(item)
        if label and label not in seen:
            seen.add(label)
            labels.append(label)
    return labels


def _items(value: object, depth: int = 0) -> list[str]:
    if value is None or depth > 3:
        return []
    if isinstance(value, float | np.floating):
        return [] if math.isnan(value) else [str(value)]
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        out: list[str] = []
        for item in value:
            out.extend(_items(item, depth + 1) if not isinstance(item, str) else [item])
        return out
    if not isinstance(value, str):
        if _is_missing(value):
            return []
        value = str(value)
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        if isinstance(parsed, list | tuple):
            return _items(parsed, depth + 1)
        text = text[1:-1]
    return _SEPARATORS.split(text)


def _is_missing(value: object) -> bool:
    try:
        missing = value != value  # NaN-like (pd.NA raises TypeError on bool())
        return bool(missing)
    except (TypeError, ValueError):
        return True


def _clean(item: str) -> str:
    label = item
    while True:  # each change shortens or lower-cases the label, so this ends
        cleaned = " ".join(label.split()).strip(_QUOTES).lower()
        if cleaned == label:
            return label
        label = cleaned


def genre_lists(values: Sequence[object]) -> list[list[str]]:
    """:func:`split_genres` of every cell of a column (e.g. ``frame["genres"]``)."""
    return [split_genres(value) for value in values]


@dataclass(frozen=True, eq=False)
class GenreCodes:
    """Parsed genres of every row, in CSR form.

    Row ``i``'s labels are ``vocabulary[c] for c in codes[offsets[i]:offsets[i + 1]]``,
    in the order its cell lists them (what :func:`split_genres` returns).

    vocabulary : distinct labels, in order of first appearance (row order, then cell order).
    offsets : int64 array of shape (n_rows + 1,), non-decreasing, ``offsets[0] == 0``.
    codes : int32 array of shape (offsets[-1],), each in ``[0, len(vocabulary))``.
    """

    vocabulary: tuple[str, ...]
    offsets: np.ndarray
    codes: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.offsets) - 1

    def labels(self, row: int) -> list[str]:
        """The labels of one row."""
        lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
        return [self.vocabulary[c] for c in self.codes[lo:hi].tolist()]

    def check(self, n_rows: int) -> None:
        """Raise ValueError unless the arrays are a well-formed encoding of ``n_rows`` rows."""
        if self.offsets.dtype != np.int64 or self.offsets.shape != (n_rows + 1,):
            raise ValueError(f"genre offsets must be int64 of shape ({n_rows + 1},), got "
                             f"{self.offsets.dtype} {self.offsets.shape}")
        if self.codes.dtype != np.int32 or self.codes.ndim != 1:
            raise ValueError(f"genre codes must be a 1-D int32 array, got {self.codes.dtype} "
                             f"{self.codes.shape}")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.codes) or (
                np.diff(self.offsets) < 0).any():
            raise ValueError(f"genre offsets do not index the {len(self.codes)} codes in order")
        if len(self.codes) and (self.codes.min() < 0 or self.codes.max() >= len(self.vocabulary)):
            raise ValueError(f"genre codes fall outside the vocabulary of "
                             f"{len(self.vocabulary)} labels")


def encode_genres(cells: Sequence[object] | pd.Series) -> GenreCodes:
    """Parse a genre column once per distinct cell and encode every row.

    cells : n_rows genre cells (strings, missing values, or lists of strings).
    """
    if isinstance(cells, pd.Series) and isinstance(cells.dtype, pd.StringDtype):
        series = cells  # text in Arrow: factorized there, not as one Python string per row
    else:
        series = pd.Series(cells, dtype=object)
    try:
        cell_of, uniques = pd.factorize(series)  # uniques in order of first row
        distinct = list(uniques)
    except TypeError:  # unhashable cells (lists): one "distinct cell" per row
        cell_of, distinct = np.arange(len(series)), list(series)
    vocabulary: dict[str, int] = {}
    per_cell = [[vocabulary.setdefault(label, len(vocabulary)) for label in split_genres(cell)]
                for cell in distinct]
    per_cell.append([])  # missing cells (factorize code -1)
    cell_of = np.where(np.asarray(cell_of) < 0, len(distinct), cell_of).astype(np.int64)
    cell_len = np.array([len(c) for c in per_cell], dtype=np.int64)
    cell_start = np.concatenate([[0], np.cumsum(cell_len)[:-1]]).astype(np.int64)
    flat = np.array([c for cell in per_cell for c in cell], dtype=np.int32)
    row_len = cell_len[cell_of]
    offsets = np.concatenate([[0], np.cumsum(row_len)]).astype(np.int64)
    nnz = int(offsets[-1])
    gather = np.repeat(cell_start[cell_of] - offsets[:-1], row_len) + np.arange(nnz)
    return GenreCodes(tuple(vocabulary), offsets, flat[gather].astype(np.int32))
