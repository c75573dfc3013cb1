"""tracks.arrow, and the files the service derives from it and the index vectors.

The build writes the table as soon as it is final (:func:`write_track_table`), keeping in
memory only the numbers later steps read; the text is read back from the written file,
memory-mapped and a few columns at a time, where a derivation needs it (GBs at 10M rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from vibemap.indexer import arrow_tables
from vibemap.indexer.genre_labels import GenreCodes
from vibemap.indexer.id_table import IdTable
from vibemap.indexer.search_index import FIELDS as SEARCH_FIELDS
from vibemap.indexer.search_index import derive_search, write_search
from vibemap.indexer.search_runs import derive_runs, write_runs
from vibemap.indexer.serving_arrays import NUMBER_COLUMNS, derive_serving, write_serving

TRACKS = "tracks.arrow"


def write_track_table(directory: Path, tracks: pd.DataFrame,
                      keep: Sequence[str] | None = None) -> None:
    """tracks.arrow from the sorted frame, then every column but ``keep`` (None: all)
    leaves the frame: the build writes the table as soon as it is final, so that its
    text (GBs at 10M rows) is not held through the index and write stages."""
    table = pa.Table.from_pandas(tracks, preserve_index=False)
    for column in list(tracks.columns):
        if keep is not None and column not in keep:
            del tracks[column]
    arrow_tables.write_table(directory / TRACKS, table)


def _written_columns(directory: Path, names: Sequence[str]) -> pa.Table:
    """Columns ``names`` of the written tracks.arrow, those it has, memory-mapped: only
    the pages read count, and only while the table lives."""
    table = arrow_tables.read_table(directory / TRACKS)
    return table.select([c for c in names if c in table.column_names])


def write_tracks(directory: Path, tracks: pd.DataFrame, features: Sequence[str],
                 genres: GenreCodes, vectors: np.ndarray, metric: str,
                 version_of: np.ndarray | None = None, *, table_written: bool = False) -> None:
    """The track table (tracks.arrow) and everything the service derives from it and the
    index vectors: the per-row arrays (:mod:`.serving_arrays`), the search structure
    (:mod:`.search_index`) with its runs (:mod:`.search_runs`), and the id hash table
    (:mod:`.id_table`). Consumes ``tracks``: the table takes its columns, and once it
    is written only the numbers stay in memory; the text is read back from the file,
    a column at a time (GBs at 10M rows). ``table_written``: :func:`write_track_table`
    wrote it already, and ``tracks`` holds at least the features and numbers.
    ``version_of``: the version codes, where the build has them (see derive_serving)."""
    if not table_written:
        write_track_table(directory, tracks, keep=(*features, *NUMBER_COLUMNS))
    # the features leave the frame as they fill the matrix the service maps
    F = np.empty((len(tracks), len(features)), dtype=np.float64, order="F")
    for j, name in enumerate(features):
        F[:, j] = tracks[name].to_numpy(dtype=np.float64)
        del tracks[name]
    table = pa.Table.from_pandas(tracks[[c for c in NUMBER_COLUMNS if c in tracks]],
                                 preserve_index=False)
    for column in list(tracks.columns):
        del tracks[column]
    if version_of is None:
        table = _written_columns(directory, [*table.column_names, "version_key"])
    cols = derive_serving(table, features, genres, vectors, metric, version_of, features_matrix=F)
    del table, F
    write_serving(directory, cols)
    popularity, version_of = cols.numbers["popularity"], cols.version_of
    del cols  # the features' matrix among them
    search = derive_search(_written_columns(directory, SEARCH_FIELDS), popularity)
    write_search(directory, search)
    write_runs(directory, derive_runs(search, version_of))
    del search
    IdTable.derive(_written_columns(directory, ["track_id"]).column("track_id")).write(directory)
