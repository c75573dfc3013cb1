"""The catalogue of one artifact: per-row facts as views of the artifact's memory-mapped
files (the Arrow track table and the arrays the build derived), never a Python object per
row; the result summary of a row, built from the mapped columns for the rows answered;
and the masks of rows passing a query's filters."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from vibemap.indexer.arrow_tables import column
from vibemap.indexer.artifact import Artifact
from vibemap.indexer.folding import fold
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.id_table import string_buffers
from vibemap.recommender.errors import InvalidQuery, TrackNotFound
from vibemap.recommender.query import RowFilters, finite_number
from vibemap.recommender.row_filters import FilterColumns
from vibemap.recommender.search import TrackSearch


def _int_or_none(value: float) -> int | None:
    return int(value) if math.isfinite(value) else None


def _number_or_none(value: float) -> int | float | None:
    if not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


class TextColumn:
    """A text column of the mapped track table, decoded from its Arrow buffers only for the
    rows asked: ``column[row]`` one row's value, ``column.take(rows)`` several at once
    ("" when missing); ``offsets`` and ``data`` are the buffers (:func:`string_buffers`)."""

    def __init__(self, table: pa.Table, name: str) -> None:
        n = table.num_rows
        if name in table.column_names:
            self.offsets, data = string_buffers(column(table, name))
        else:
            self.offsets, data = np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
        self.data = memoryview(data)  # slices of a memoryview decode fastest
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row: int) -> str:
        row = int(row)
        if not 0 <= row < self._n:
            raise IndexError(f"row {row} outside [0, {self._n})")
        start, stop = self.offsets[row:row + 2].tolist()
        return str(self.data[start:stop], "utf-8")

    def take(self, rows: np.ndarray) -> list[str]:
        """The values of ``rows`` (int64 array, each in range), in order."""
        data = self.data
        return [str(data[a:b], "utf-8")
                for a, b in zip(self.offsets[rows].tolist(), self.offsets[rows + 1].tolist(),
                                strict=True)]


class Catalogue:
    """Per-row data of an artifact's tracks; immutable after construction.

    ``X`` : float32 (n, D) index-space vectors; ``F`` : float64 (n, d) features in
    original units, columns in ``features`` order (the manifest's). Row ``i`` is row ``i``
    of the tracks table; vibe ``v`` owns the rows ``partitions[v]`` = [start, stop).
    Both, like every per-row array here, are read-only views of the artifact's files.
    """

    def __init__(self, artifact: Artifact) -> None:
        table = artifact.table
        n = artifact.n_rows
        self.n_rows = n
        self.features: tuple[str, ...] = tuple(artifact.features)
        self.feature_col = {f: j for j, f in enumerate(self.features)}
        self.X = np.ascontiguousarray(artifact.vectors, dtype=np.float32)
        cols = artifact.serving_columns()
        self._cols = cols
        self.F = cols.features
        self.audio = cols.audio  # the nine-feature vectors of an era artifact (audio_only)
        self.scale = np.asarray(artifact.scaler.scale, dtype=np.float64)
        self.ids = TextColumn(table, "track_id")
        self._id_table = artifact.id_lookup()
        self.names = TextColumn(table, "name")
        self.artists = TextColumn(table, "artist")
        self.genres: GenreCodes = artifact.genres
        self.version_of = cols.version_of
        # per-row numbers stay in arrays (NaN = unknown); summary() converts the few it returns
        self.popularity = cols.numbers["popularity"]
        self.years = cols.numbers["release_year"]
        self.durations = cols.numbers["duration_ms"]
        self.vibe_of = column(table, "vibe_id").to_numpy()
        self.vibe_names = {int(v["vibe_id"]): str(v["name"]) for v in artifact.vibes}
        self.partitions = {v: (p.start, p.stop) for v, p in artifact.index.partitions.items()}
        self.search = TrackSearch(artifact.search_index(self.popularity), cols.version_of,
                                  artifact.search_runs)
        artists = self.search.fields["artist"]
        # one code per folded artist (max_per_artist, exclusion): its place among them
        self.artist_code = artists.code_of
        self._artist_keys = artists.sorted_keys
        self.filters = FilterColumns(self.F, self.feature_col, self.popularity, self.years,
                                     self.artist_code, cols.rows_with_label)

    # ------------------------------------------------------------------- rows
    def row_of(self, track_id: str) -> int:
        row = self._id_table.row_of(str(track_id), self.ids.offsets, self.ids.data)
        if row is None:
            raise TrackNotFound(str(track_id))
        return row

    def _summary(self, track_id: str, name: str, artist: str, genres: list[str],
                 popularity: float, year: float, vibe_id: int) -> dict:
        return {"track_id": track_id, "name": name, "artist": artist, "genres": genres,
                "popularity": _number_or_none(popularity), "release_year": _int_or_none(year),
                "vibe_id": vibe_id, "vibe_name": self.vibe_names[vibe_id]}

    def summary(self, row: int) -> dict:
        """Metadata of catalogue row ``row`` (the fields every result carries)."""
        row = int(row)
        lo, hi = self.genres.offsets[row:row + 2].tolist()
        vocab = self.genres.vocabulary
        return self._summary(self.ids[row], self.names[row], self.artists[row],
                             [vocab[c] for c in self.genres.codes[lo:hi].tolist()],
                             float(self.popularity[row]), float(self.years[row]),
                             int(self.vibe_of[row]))

    def summaries(self, rows: Sequence[int] | np.ndarray) -> list[dict]:
        """:meth:`summary` of each of ``rows``, every column read once for all of them."""
        R = np.asarray(rows, dtype=np.int64)
        offsets, codes, vocab = self.genres.offsets, self.genres.codes, self.genres.vocabulary
        genres = [[vocab[c] for c in codes[lo:hi].tolist()]
                  for lo, hi in zip(offsets[R].tolist(), offsets[R + 1].tolist(), strict=True)]
        return [self._summary(*values) for values in zip(
            self.ids.take(R), self.names.take(R), self.artists.take(R), genres,
            self.popularity[R].tolist(), self.years[R].tolist(), self.vibe_of[R].tolist(),
            strict=True)]

    def track(self, row: int) -> dict:
        """One row's summary, duration and features in original units."""
        out = self.summary(row)
        out["duration_ms"] = _int_or_none(float(self.durations[row]))
        out["features"] = dict(zip(self.features, self.F[row].tolist(), strict=True))
        return out

    def _artist_code_of(self, folded: str) -> int | None:
        """The code of a folded artist name (a binary search over the sorted names)."""
        keys = self._artist_keys
        i = bisect.bisect_left(keys, folded)
        return i if i < len(keys) and keys[i] == folded else None

    # ------------------------------------------------------------------ masks
    def genre_mask(self, tokens: list[str]) -> np.ndarray:
        """bool (n,): rows carrying any of the folded genre ``tokens``."""
        mask = np.zeros(self.n_rows, dtype=bool)
        for token in tokens:
            rows = self._cols.rows_with_label(token)
            if rows is not None:
                mask[rows] = True
        return mask

    def browse_mask(self, span: tuple[int, int] | None, genres: list[str],
                    year_min: object = None, year_max: object = None) -> np.ndarray | None:
        """bool (n,) mask of the rows passing the browse filters (a vibe's row span, folded
        genre tokens, inclusive release years; unknown years fail them); None when there
        are none."""
        allowed = None
        if span is not None:
            allowed = np.zeros(self.n_rows, dtype=bool)
            allowed[span[0]:span[1]] = True
        if genres:
            gm = self.genre_mask(genres)
            allowed = gm if allowed is None else allowed & gm
        if year_min is not None or year_max is not None:
            lo = -np.inf if year_min is None else finite_number("year_min", year_min)
            hi = np.inf if year_max is None else finite_number("year_max", year_max)
            if lo > hi:
                raise InvalidQuery(f"year_min={lo:g} is greater than year_max={hi:g}")
            ym = (self.years >= lo) & (self.years <= hi)
            allowed = ym if allowed is None else allowed & ym
        return allowed

    def exclude_codes(self, names: list[str]) -> list[int]:
        """The artist codes of names (case- and accent-insensitive; unknown names: none)."""
        return [c for c in (self._artist_code_of(fold(x)) for x in names) if c is not None]

    def candidate_mask(self, filters: RowFilters, start: int, stop: int) -> np.ndarray | None:
        """bool (stop - start,) mask of the rows [start, stop) passing a recommendation's
        ``filters``; None when there are none (every row is a candidate)."""
        if not filters:
            return None
        return self.filters.mask(filters, slice(start, stop),
                                 self.exclude_codes(filters.exclude_artists))
