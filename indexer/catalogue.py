"""Load a Spotify-style track CSV into a typed, cleaned table plus a cleaning report.

Column names are matched through one alias table, so the public
``single_genre_artists.csv`` and other common exports (Kaggle's ``track_id`` /
``track_name`` / ``artists`` / ``track_genre`` layout, TidyTuesday, ...) load the
same way. Cleaning only drops rows, each for one stated reason; it never edits a
value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vibemap.indexer.degenerate import near_constant
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES, VALID_RANGES
from vibemap.indexer.readers import check_unique_columns, read_input
from vibemap.indexer.row_keys import duplicated_among
from vibemap.indexer.row_keys import duplicated_rows as _duplicated_rows
from vibemap.indexer.text_numbers import numbers, release_year

logger = logging.getLogger(__name__)

# canonical column -> accepted input names, first match wins (case-insensitive).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "track_id": ("id_songs", "track_id", "id", "song_id", "spotify_id", "uri", "track_uri"),
    "name": ("name_song", "track_name", "name", "song_name", "song", "title"),
    "artist": ("name_artists", "artists", "artist_name", "artist", "artist_names", "track_artist"),
    "artist_id": ("id_artists", "artist_id", "artist_ids"),
    "genres": ("genres", "track_genre", "genre", "artist_genres", "playlist_genre"),
    "popularity": ("popularity_songs", "popularity", "track_popularity", "song_popularity"),
    "release_date": ("release_date", "album_release_date", "track_album_release_date", "year"),
    "duration_ms": ("duration_ms", "duration"),
    "explicit": ("explicit",),
    **{name: (name,) for name in FEATURES},
}

OPTIONAL_NUMERIC = ("popularity", "duration_ms")

# every input name the alias table knows: the only columns read from Parquet
KNOWN_COLUMNS: frozenset[str] = frozenset(a for names in COLUMN_ALIASES.values() for a in names)

# Drop reasons, in the order they are tested: a row is counted under the first that applies.
DROP_REASONS: tuple[str, ...] = (
    "missing_id",
    "unparseable_number",
    "missing_feature",
    "out_of_range",
    "duplicate_id",
    "duplicate_track",
)

REASON_TEXT: dict[str, str] = {
    "missing_id": "no track id, and no name + artist to derive one",
    "unparseable_number": "a feature value is not a number",
    "missing_feature": "a feature value is empty",
    "out_of_range": "a feature value is outside its valid range",
    "duplicate_id": "a track id seen on an earlier row",
    "duplicate_track": "same name, artist and features as an earlier row",
}


@dataclass(frozen=True)
class CleaningReport:
    """What the loader read, kept and dropped (by reason), for people and the manifest."""

    rows_read: int
    rows_kept: int
    dropped: dict[str, int]
    out_of_range_by_feature: dict[str, int]
    columns: dict[str, str]
    derived_ids: int
    notes: tuple[str, ...] = ()
    constant_features: tuple[str, ...] = ()  # constant up to float noise: weight zero

    @property
    def rows_dropped(self) -> int:
        return self.rows_read - self.rows_kept

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(self.dropped),
            "out_of_range_by_feature": dict(self.out_of_range_by_feature),
            "columns": dict(self.columns),
            "derived_ids": self.derived_ids,
            "notes": list(self.notes),
            "constant_features": list(self.constant_features),
        }


@dataclass(frozen=True)
class Catalogue:
    """The cleaned tracks and the raw input rows they came from.

    ``tracks`` has canonical columns (track_id, name, artist, genres, popularity,
    release_year, the nine features as float64 in original units, source_row).
    ``raw`` holds every input column, as text, for the same rows in the same order,
    so an export can give back exactly what came in.
    """

    tracks: pd.DataFrame
    raw: pd.DataFrame
    report: CleaningReport
    source_name: str
    extra: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)  # what was read, for the manifest


def alias_notes(columns: list[str], mapping: dict[str, str]) -> list[str]:
    """Say which column was used where several accepted names for one field are present
    (e.g. ``id`` and ``uri``: the earlier alias wins, as documented in COLUMN_ALIASES)."""
    lowered = {c.strip().lower(): c for c in columns}
    notes = []
    for canonical, used in mapping.items():
        others = [lowered[a] for a in COLUMN_ALIASES[canonical]
                  if a in lowered and lowered[a] != used]
        if others:
            notes.append(f"{canonical}: read from {used!r}; also present and ignored: "
                         + ", ".join(repr(o) for o in others))
    return notes


def resolve_columns(columns: list[str]) -> dict[str, str]:
    """Map canonical names to the input's column names, using COLUMN_ALIASES."""
    check_unique_columns("input", columns)
    lowered = {c.strip().lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                mapping[canonical] = lowered[alias]
                break
    missing = [f for f in FEATURES if f not in mapping]
    has_id = "track_id" in mapping or ("name" in mapping and "artist" in mapping)
    if missing or not has_id:
        problems = []
        if missing:
            problems.append("missing feature column(s): " + ", ".join(missing))
        if not has_id:
            problems.append(
                "no track id column (accepted: "
                + ", ".join(COLUMN_ALIASES["track_id"])
                + ") and no name + artist columns to derive one (name: "
                + ", ".join(COLUMN_ALIASES["name"])
                + "; artist: "
                + ", ".join(COLUMN_ALIASES["artist"])
                + ")"
            )
        raise CatalogueError(
            "; ".join(problems) + f". Required: {', '.join(FEATURES)} and a track id."
        )
    return mapping


def _derive_ids(names: pd.Series, artists: pd.Series) -> pd.Series:
    """Stable ids from normalised name + artist, for exports that carry no id."""
    keys = (names.str.strip().str.lower() + "\x1f" + artists.str.strip().str.lower()).tolist()
    return pd.Series(
        ["gen:" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:16] for k in keys],
        index=names.index,
        dtype=object,
    )


def _stripped(text: pd.Series) -> pd.Series:
    """``text.str.strip()`` with a fresh index; the input's own array when nothing needed
    stripping (the usual case), so the cleaned columns share the raw columns' memory."""
    out = text.str.strip()
    if out.equals(text):
        out = text
    return out.reset_index(drop=True)


def clean_catalogue(
    raw: pd.DataFrame, source_name: str = "<frame>", notes: tuple[str, ...] = (),
    columns: Sequence[str] | None = None, keep_raw: bool = True,
) -> Catalogue:
    """Type and clean a frame; see DROP_REASONS for what is dropped and why.

    Parameters
    ----------
    raw : DataFrame
        Every input column as read: text (nothing parsed yet), or already numeric; or
        only those the cleaning reads, with ``columns`` naming every column read.
    source_name : str
        Shown in messages and stored in the report.
    notes : what the reader noticed (e.g. decimal commas), carried into the report.
    keep_raw : False: the catalogue's ``raw`` is left empty (the rows went elsewhere).
    """
    columns = [str(c) for c in (raw.columns if columns is None else columns)]
    check_unique_columns(source_name, columns)
    mapping = resolve_columns(columns)
    n = len(raw)
    if n == 0:
        raise CatalogueError(f"{source_name}: the input has a header but no rows")

    def column(name: str) -> pd.Series:
        return raw[mapping[name]] if name in mapping else pd.Series([""] * n, index=raw.index)

    def col(name: str) -> pd.Series:
        return column(name).astype(str)

    # one float64 array per feature: a typed input's own column (no copy), else the parsed text
    values: list[np.ndarray] = []
    unparseable = np.zeros(n, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    out_of_range = np.zeros(n, dtype=bool)
    out_by_feature: dict[str, int] = {}
    for name in FEATURES:
        parsed, empty = numbers(column(name))
        bad = ~empty & ~np.isfinite(parsed)
        values.append(parsed)
        unparseable |= bad
        missing |= empty
        rng = VALID_RANGES[name]
        low_ok = parsed >= rng.low if rng.low_inclusive else parsed > rng.low
        outside = np.isfinite(parsed) & ~(low_ok & (parsed <= rng.high))
        out_by_feature[name] = int(outside.sum())
        out_of_range |= outside

    # text stays in pandas string arrays throughout (no per-row Python objects: at 10M
    # rows each object column of temporaries costs about a GB)
    names = _stripped(col("name"))
    artists = _stripped(col("artist"))
    # rows without an id get one derived from name + artist (per row: merged exports mix both)
    ids = _stripped(col("track_id"))
    named = ((names != "") & (artists != "")).to_numpy()
    needs_id = (ids == "").to_numpy()
    derive = needs_id & named
    if derive.any():
        ids[derive] = _derive_ids(names[derive], artists[derive]).to_numpy()
    n_derived = int(derive.sum())
    no_id = needs_id & ~named

    reason = np.full(n, "", dtype=object)
    for name, mask in (
        ("missing_id", no_id),
        ("unparseable_number", unparseable),
        ("missing_feature", missing),
        ("out_of_range", out_of_range),
    ):
        reason[(reason == "") & mask] = name

    alive = reason == ""
    if ids.isna().any():  # (no reader makes a missing id; a frame given in code may)
        dup_id = ids.where(alive).duplicated(keep="first").to_numpy() & alive
    else:
        dup_id = duplicated_among(ids, np.flatnonzero(alive))
    reason[dup_id] = "duplicate_id"
    # the "same track" key of the rows still alive only: a full-length key and its
    # filtered copy were two more copies of every feature and name
    alive_rows = np.flatnonzero(reason == "")
    every = len(alive_rows) == n  # the usual case: no filtered copy of each key column

    def alive_values(j: int) -> np.ndarray:
        return np.round(values[j] if every else values[j][alive_rows], 6)

    def alive_text(text: pd.Series) -> pd.Series:
        return (text if every else text.iloc[alive_rows]).str.lower()

    key_columns = [
        *(lambda j=j: alive_values(j) for j in range(len(FEATURES))),
        lambda: alive_text(names),
        lambda: alive_text(artists),
    ]
    dup_track = np.zeros(n, dtype=bool)
    dup_track[alive_rows] = _duplicated_rows(key_columns, len(alive_rows))
    # a track without name/artist cannot be "the same track" as another; only ids tell.
    reason[dup_track & named] = "duplicate_track"
    keep = reason == ""

    dropped = {r: int((reason == r).sum()) for r in DROP_REASONS}
    notes = [*notes, *alias_notes(columns, mapping)]
    kept_index = np.flatnonzero(keep)

    def kept(text: pd.Series) -> pd.Series:
        # every row kept (the usual case): the input's own arrays, not a copy of each
        if len(kept_index) == n:
            return text.reset_index(drop=True)
        return text.iloc[kept_index].reset_index(drop=True)

    tracks = pd.DataFrame(
        {
            "track_id": kept(ids),
            "name": kept(names),
            "artist": kept(artists),
            "genres": kept(_stripped(col("genres"))),
        }
    )
    for name in OPTIONAL_NUMERIC:
        parsed, empty = numbers(column(name).iloc[kept_index].reset_index(drop=True))
        bad = int((~np.isfinite(parsed) & ~empty).sum())
        if bad:
            notes.append(f"{bad} unparseable {mapping[name]!r} value(s) kept as missing")
        tracks[name] = np.where(np.isfinite(parsed), parsed, np.nan)
    tracks["release_year"] = release_year(kept(col("release_date")))
    for j, name in enumerate(FEATURES):
        given = column(name)
        if len(kept_index) == n and given.dtype == np.float64:
            # a typed input (Parquet, the demo) with every row kept: its own column holds
            # these very numbers, so the table shares it instead of a copy (0.7 GB at 10M)
            tracks[name] = given.reset_index(drop=True)
        else:
            tracks[name] = values[j][kept_index]
    tracks["source_row"] = kept_index.astype(np.int64)

    # one column at a time (a copy of all kept values is 0.7 GB at 10M rows), and none
    # when every row is kept
    constant = tuple(
        f for j, f in enumerate(FEATURES) if near_constant(
            (values[j] if len(kept_index) == n else values[j][kept_index]).reshape(-1, 1))[0]
    )
    if constant and len(kept_index) > 1:
        notes.append(
            "constant feature(s) " + ", ".join(constant) + ": every kept track has the same "
            "value (up to float noise), so they carry no weight in the vibes or similarity"
        )
    report = CleaningReport(
        rows_read=n,
        rows_kept=int(keep.sum()),
        dropped=dropped,
        out_of_range_by_feature=out_by_feature,
        columns={k: v for k, v in mapping.items()},
        derived_ids=n_derived,
        notes=tuple(notes),
        constant_features=constant,
    )
    if report.rows_kept == 0:
        summary = ", ".join(f"{REASON_TEXT[r]}: {c}" for r, c in dropped.items() if c)
        raise CatalogueError(f"{source_name}: no valid rows left after cleaning ({summary})")
    logger.info("cleaned %s: kept %d of %d rows", source_name, report.rows_kept, n)
    return Catalogue(
        tracks=tracks,
        # no copy of the input when every row was kept (the usual case, GBs at 10M rows)
        raw=(raw.iloc[:0] if not keep_raw else raw if len(kept_index) == n
             else raw.iloc[kept_index]).reset_index(drop=True),
        report=report,
        source_name=source_name,
    )


def load_catalogue(path: Path | str) -> Catalogue:
    """Read and clean a track CSV or Parquet file, or a directory / glob of them (see
    vibemap.indexer.readers); raise CatalogueError with a one-line reason on bad input."""
    raw = read_input(path, wanted=KNOWN_COLUMNS)
    name = raw.source["file"]
    catalogue = clean_catalogue(raw.frame, source_name=name, notes=raw.notes)
    return Catalogue(
        tracks=catalogue.tracks,
        raw=catalogue.raw,
        report=catalogue.report,
        source_name=name,
        source=raw.source,
    )
