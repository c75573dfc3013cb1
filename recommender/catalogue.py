"""The catalogue of one artifact: every per-row fact in numpy arrays and lists built once
at load (pandas is touched only here, in ``Catalogue.__init__``), the result summary of
a row, and the masks of rows passing a query's filters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vibemap.indexer.artifact import Artifact
from vibemap.indexer.folding import fold
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.versions import version_keys
from vibemap.recommender.errors import InvalidQuery, TrackNotFound
from vibemap.recommender.query import RowFilters, finite_number
from vibemap.recommender.search import TrackSearch


def _optional_numbers(tracks: pd.DataFrame, name: str) -> np.ndarray:
    """float64 (n,) of a numeric column, NaN where unknown or absent."""
    if name not in tracks:
        return np.full(len(tracks), np.nan)
    return tracks[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _version_codes(tracks: pd.DataFrame) -> np.ndarray:
    """int64 (n,): one code per song (:mod:`vibemap.indexer.versions`), from the stored
    ``version_key`` column or, for artifacts built before it, computed here."""
    keys = tracks["version_key"] if "version_key" in tracks else version_keys(
        tracks["name"] if "name" in tracks else [""] * len(tracks),
        tracks["artist"] if "artist" in tracks else [""] * len(tracks))
    codes, uniques = pd.factorize(keys)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0  # no key: a song of its own
    codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return codes


def _rows_by_label(genres: GenreCodes) -> dict[str, np.ndarray]:
    """Folded genre label -> sorted rows carrying it, from the stored parsed genres."""
    row_of_code = np.repeat(np.arange(len(genres.offsets) - 1, dtype=np.int64),
                            np.diff(genres.offsets))
    order = np.argsort(genres.codes, kind="stable")
    bounds = np.searchsorted(genres.codes[order], np.arange(len(genres.vocabulary) + 1))
    parts: dict[str, list[np.ndarray]] = {}
    for code, label in enumerate(genres.vocabulary):
        parts.setdefault(fold(label), []).append(row_of_code[order[bounds[code]:bounds[code + 1]]])
    return {g: np.unique(np.concatenate(p)) for g, p in parts.items()}


def _int_or_none(value: float) -> int | None:
    return int(value) if math.isfinite(value) else None


def _number_or_none(value: float) -> int | float | None:
    if not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


class Catalogue:
    """Per-row data of an artifact's tracks; immutable after construction.

    ``X`` : float32 (n, d) index-space vectors; ``F`` : float64 (n, d) features in
    original units, columns in ``features`` order (the manifest's). Row ``i`` is row ``i``
    of the tracks table; vibe ``v`` owns the rows ``partitions[v]`` = [start, stop).
    """

    def __init__(self, artifact: Artifact) -> None:
        tracks = artifact.tracks
        n = len(tracks)
        self.n_rows = n
        self.features: tuple[str, ...] = tuple(artifact.features)
        self.feature_col = {f: j for j, f in enumerate(self.features)}
        self.X = np.ascontiguousarray(artifact.vectors, dtype=np.float32)
        self.F = tracks[list(self.features)].to_numpy(dtype=np.float64)
        self.scale = np.asarray(artifact.scaler.scale, dtype=np.float64)

        def text_column(name: str) -> list[str]:
            if name not in tracks:
                return [""] * n
            return ["" if v is None or v != v else str(v) for v in tracks[name].tolist()]

        def text_codes(name: str) -> tuple[np.ndarray, list[str]]:
            """(code per row, distinct values) of a text column whose values repeat
            (artists): no Python string per row."""
            if name not in tracks:
                return np.zeros(n, dtype=np.int64), [""]
            codes, uniques = pd.factorize(tracks[name])  # uniques in order of first row
            values = ["" if v is None or v != v else str(v) for v in uniques.tolist()]
            return np.where(codes < 0, len(values), codes).astype(np.int64), [*values, ""]

        self.ids = text_column("track_id")
        self._row_of = {tid: row for row, tid in enumerate(self.ids)}
        self.names = text_column("name")
        self.artist_of, self.artist_values = text_codes("artist")
        if artifact.genres is None:
            raise ValueError("the artifact carries no parsed genres (load it with load_artifact)")
        self.genres: GenreCodes = artifact.genres
        self.genre_rows = _rows_by_label(self.genres)
        self.version_of = _version_codes(tracks)
        # per-row numbers stay in arrays (NaN = unknown); summary() converts the few it returns
        self.popularity = _optional_numbers(tracks, "popularity")
        self.years = _optional_numbers(tracks, "release_year")
        self.durations = _optional_numbers(tracks, "duration_ms")
        self.vibe_of = tracks["vibe_id"].to_numpy(dtype=np.int64)
        self.vibe_names = {int(v["vibe_id"]): str(v["name"]) for v in artifact.vibes}
        self.partitions = {v: (p.start, p.stop) for v, p in artifact.index.partitions.items()}

        folded_artists = [fold(a) for a in self.artist_values]
        codes: dict[str, int] = {}  # one code per folded artist (for max_per_artist, exclusion)
        fold_code = np.asarray([codes.setdefault(a, len(codes)) for a in folded_artists],
                               dtype=np.int64)
        self.artist_code = fold_code[self.artist_of]
        self._artist_codes = codes
        self.search = TrackSearch([fold(s) for s in self.names], self.artist_of, folded_artists,
                                  self.version_of, self.popularity)

    # ------------------------------------------------------------------- rows
    def row_of(self, track_id: str) -> int:
        row = self._row_of.get(str(track_id))
        if row is None:
            raise TrackNotFound(str(track_id))
        return row

    def summary(self, row: int) -> dict:
        """Metadata of catalogue row ``row`` (the fields every result carries)."""
        v = int(self.vibe_of[row])
        return {
            "track_id": self.ids[row],
            "name": self.names[row],
            "artist": self.artist_values[self.artist_of[row]],
            "genres": self.genres.labels(row),
            "popularity": _number_or_none(float(self.popularity[row])),
            "release_year": _int_or_none(float(self.years[row])),
            "vibe_id": v,
            "vibe_name": self.vibe_names[v],
        }

    def track(self, row: int) -> dict:
        """One row's summary, duration and features in original units."""
        out = self.summary(row)
        out["duration_ms"] = _int_or_none(float(self.durations[row]))
        out["features"] = dict(zip(self.features, self.F[row].tolist(), strict=True))
        return out

    # ------------------------------------------------------------------ masks
    def genre_mask(self, tokens: list[str]) -> np.ndarray:
        """bool (n,): rows carrying any of the folded genre ``tokens``."""
        mask = np.zeros(self.n_rows, dtype=bool)
        for token in tokens:
            rows = self.genre_rows.get(token)
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

    def candidate_mask(self, filters: RowFilters, start: int, stop: int) -> np.ndarray | None:
        """bool (stop - start,) mask of the rows [start, stop) passing a recommendation's
        ``filters``; None when there are none (every row is a candidate)."""
        if not filters:
            return None
        sl = slice(start, stop)
        mask = np.ones(stop - start, dtype=bool)
        for f, v in filters.mins.items():
            mask &= self.F[sl, self.feature_col[f]] >= v
        for f, v in filters.maxs.items():
            mask &= self.F[sl, self.feature_col[f]] <= v
        pop = self.popularity[sl]
        if filters.min_popularity is not None:
            mask &= pop >= filters.min_popularity
        if filters.max_popularity is not None:
            mask &= pop <= filters.max_popularity
        if filters.min_year is not None:  # unknown years (NaN) fail year bounds
            mask &= self.years[sl] >= filters.min_year
        if filters.max_year is not None:
            mask &= self.years[sl] <= filters.max_year
        if filters.genres:
            mask &= self.genre_mask(filters.genres)[sl]
        if filters.exclude_artists:
            codes = [self._artist_codes[a] for a in {fold(x) for x in filters.exclude_artists}
                     if a in self._artist_codes]
            if codes:
                mask &= ~np.isin(self.artist_code[sl], codes)
        return mask
