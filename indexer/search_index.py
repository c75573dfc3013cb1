"""The text-search structure of an artifact, derived at build time and memory-mapped by the
service (nothing per row is computed at load).

For each text field (titles, artists)::

    search/<field>.arrow            distinct folded values (:func:`fold`), sorted: code = position
    search/<field>_of.npy           int32 (n,): each row's code
    search/<field>_rows.npy         int64 (n,): rows grouped by code (row order within a code)
    search/<field>_offsets.npy      int64 (n_codes + 1,): code c's rows are
                                    rows[offsets[c]:offsets[c + 1]]
    search/<field>_words.arrow      distinct words (``\\w+``) of the folded values, sorted
    search/<field>_word_offsets.npy int64 (n_words + 1,)
    search/<field>_word_codes.npy   int32: word w is in the values word_codes[offsets[w]:...]

the substring postings ``search/<field>_tri*.npy`` (:mod:`.trigrams`), and, for the
ranking, ``search/popularity_order.npy`` (rows by popularity desc, unknown
last, then row) and ``search/popularity_rank.npy`` (its inverse permutation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.arrow_tables import Keys, as_large_strings, read_strings, write_strings
from vibemap.indexer.folding import fold
from vibemap.indexer.trigrams import (
    Trigrams,
    derive_trigrams,
    read_trigrams,
    trigram_files,
    value_bytes,
    write_trigrams,
)

WORD = re.compile(r"\w+")
FIELDS = ("name", "artist")
POPULARITY_ORDER = "search/popularity_order.npy"
POPULARITY_RANK = "search/popularity_rank.npy"


def field_files(field: str) -> dict[str, str]:
    """The artifact-relative files of one text field's structure."""
    return {part: f"search/{field}{suffix}" for part, suffix in (
        ("keys", ".arrow"), ("code_of", "_of.npy"), ("rows", "_rows.npy"),
        ("offsets", "_offsets.npy"), ("words", "_words.arrow"),
        ("word_offsets", "_word_offsets.npy"), ("word_codes", "_word_codes.npy"))}


def search_files() -> tuple[str, ...]:
    return (*(f for field in FIELDS for f in field_files(field).values()),
            *(f for field in FIELDS for f in trigram_files(field).values()),
            POPULARITY_ORDER, POPULARITY_RANK)


def group_rows(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows grouped by code, in row order within a code; int64 offsets (n_codes + 1,))."""
    rows = np.argsort(codes, kind="stable").astype(np.int64)
    offsets = np.zeros(n_codes + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n_codes), out=offsets[1:])
    return rows, offsets


def group_positions(offsets: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions ``offsets[c]..offsets[c + 1] - 1`` of every code ``c`` in ``codes``,
    concatenated; the code of each position)."""
    starts = offsets[codes]
    lengths = offsets[codes + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total), np.repeat(np.asarray(codes, dtype=np.int64), lengths)


@dataclass(frozen=True)
class TextField:
    """One text field's codes, rows by code and word index (see the module docstring)."""

    keys: pa.LargeStringArray
    code_of: np.ndarray
    rows: np.ndarray
    offsets: np.ndarray
    words: pa.LargeStringArray
    word_offsets: np.ndarray
    word_codes: np.ndarray
    trigrams: Trigrams | None = None  # the values' substring postings (:mod:`.trigrams`)

    @property
    def sorted_keys(self) -> Keys:
        return Keys(self.keys)

    @property
    def sorted_words(self) -> Keys:
        return Keys(self.words)


def derive_field(values: pa.ChunkedArray | pa.Array) -> TextField:
    """A field's structure from its raw per-row values (null: empty). Each distinct raw
    value is folded once; codes follow the sorted folded values (UTF-8 byte order, which
    is code point order, as Python sorts)."""
    raw = as_large_strings(values).fill_null("")
    encoded = raw.dictionary_encode()
    folded = [fold(s) for s in encoded.dictionary.to_pylist()]
    keys = sorted(set(folded))
    code_of_key = {k: i for i, k in enumerate(keys)}
    remap = np.asarray([code_of_key[f] for f in folded], dtype=np.int32)
    code_of = remap[encoded.indices.to_numpy(zero_copy_only=False)] if len(raw) else \
        np.empty(0, dtype=np.int32)
    rows, offsets = group_rows(code_of, len(keys))
    postings: dict[str, list[int]] = {}
    for code, text in enumerate(keys):
        for word in set(WORD.findall(text)):
            postings.setdefault(word, []).append(code)
    words = sorted(postings)
    word_offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(postings[w]) for w in words], out=word_offsets[1:])
    word_codes = np.asarray([c for w in words for c in postings[w]], dtype=np.int32)
    keys_array = pa.array(keys, type=pa.large_string())
    return TextField(keys_array, code_of.astype(np.int32), rows, offsets,
                     pa.array(words, type=pa.large_string()), word_offsets, word_codes,
                     derive_trigrams(keys_array))


def popularity_order(popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows by popularity desc, unknown (NaN) last, then row; the inverse permutation)."""
    pop = np.asarray(popularity, dtype=np.float64)
    n = len(pop)
    order = np.lexsort((np.arange(n), np.isnan(pop), -np.nan_to_num(pop, nan=0.0)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return order.astype(np.int64), rank


@dataclass(frozen=True)
class SearchIndex:
    """The whole search structure: one :class:`TextField` per field, and the rows by
    popularity (``order``) with each row's place in it (``rank``)."""

    fields: dict[str, TextField]
    order: np.ndarray
    rank: np.ndarray


def write_search(directory: Path, index: SearchIndex) -> None:
    (directory / "search").mkdir(parents=True, exist_ok=True)
    for field, tf in index.fields.items():
        files = field_files(field)
        for part in ("keys", "words"):
            write_strings(directory / files[part], getattr(tf, part))
        for part in ("code_of", "rows", "offsets", "word_offsets", "word_codes"):
            np.save(directory / files[part], getattr(tf, part), allow_pickle=False)
        write_trigrams(directory, field, tf.trigrams or derive_trigrams(tf.keys))
    np.save(directory / POPULARITY_ORDER, index.order, allow_pickle=False)
    np.save(directory / POPULARITY_RANK, index.rank, allow_pickle=False)


def _check_offsets(name: str, offsets: np.ndarray, total: int) -> None:
    if offsets[0] != 0 or offsets[-1] != total or (np.diff(offsets) < 0).any():
        raise ValueError(f"{name}: offsets do not index its {total} entries in order")


def _check_codes(name: str, codes: np.ndarray, n_codes: int) -> None:
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= n_codes):
        raise ValueError(f"{name}: codes fall outside [0, {n_codes})")


def read_field(directory: Path, field: str, n_rows: int) -> TextField:
    """One field's structure, memory-mapped and checked (shapes, dtypes, code ranges)."""
    f = field_files(field)
    keys, words = read_strings(directory / f["keys"]), read_strings(directory / f["words"])
    code_of = checks.read_npy(directory / f["code_of"], np.int32, (n_rows,), f["code_of"],
                              mmap=True)
    rows = checks.read_npy(directory / f["rows"], np.int64, (n_rows,), f["rows"], mmap=True)
    offsets = checks.read_npy(directory / f["offsets"], np.int64, (len(keys) + 1,),
                              f["offsets"])
    word_offsets = checks.read_npy(directory / f["word_offsets"], np.int64,
                                   (len(words) + 1,), f["word_offsets"])
    word_codes = checks.read_npy(directory / f["word_codes"], np.int32, (None,),
                                 f["word_codes"], mmap=True)
    _check_offsets(f["offsets"], offsets, n_rows)
    _check_offsets(f["word_offsets"], word_offsets, len(word_codes))
    _check_codes(f["code_of"], code_of, len(keys))
    _check_codes(f["rows"], rows, n_rows)
    _check_codes(f["word_codes"], word_codes, len(keys))
    trigrams = read_trigrams(directory, field, len(value_bytes(keys)[1]))
    return TextField(keys, code_of, rows, offsets, words, word_offsets, word_codes, trigrams)


def read_search(directory: Path, n_rows: int) -> SearchIndex:
    directory = Path(directory)
    fields = {field: read_field(directory, field, n_rows) for field in FIELDS}
    order = checks.read_npy(directory / POPULARITY_ORDER, np.int64, (n_rows,),
                            POPULARITY_ORDER, mmap=True)
    rank = checks.read_npy(directory / POPULARITY_RANK, np.int64, (n_rows,), POPULARITY_RANK,
                           mmap=True)
    _check_codes(POPULARITY_ORDER, order, n_rows)
    _check_codes(POPULARITY_RANK, rank, n_rows)
    return SearchIndex(fields, order, rank)


def derive_search(table: pa.Table, popularity: np.ndarray) -> SearchIndex:
    """The whole structure from the tracks table (its ``name`` and ``artist`` columns;
    absent ones count as empty) and the per-row popularity (NaN: unknown)."""
    fields = {}
    for field in FIELDS:
        col = (table.column(field) if field in table.column_names
               else pa.nulls(table.num_rows, pa.large_string()))
        fields[field] = derive_field(col)
    order, rank = popularity_order(popularity)
    return SearchIndex(fields, order, rank)
