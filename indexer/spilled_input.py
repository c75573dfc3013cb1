"""Load a catalogue for the build, spilling the raw rows as they are read.

The labelled CSV export gives back every column read, but only after clustering; the
cleaning reads fewer columns (not e.g. ``explicit`` or the artist ids). So each Parquet
file's table goes to an anonymous file (:class:`RowSpill`) as soon as it is read, and
only the columns the cleaning reads stay in memory: every column read of 10M rows is
never held at once. CSV input (text features may need their decimal commas read first,
and the export shows them converted) is cleaned first and spilled after, as before.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from vibemap.indexer.catalogue import (
    KNOWN_COLUMNS,
    Catalogue,
    clean_catalogue,
    resolve_columns,
)
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.labelled_export import RowSpill, SpilledRows
from vibemap.indexer.readers import read_input

# canonical fields the cleaning does not read (the export still has them, from the spill)
UNREAD = frozenset({"artist_id", "explicit"})


class _PartSpiller:
    """``read_input``'s part hook: spills a Parquet file's table whole and keeps the
    columns the cleaning reads. Decided by the first file: its features must all be
    numbers (text features go the CSV way)."""

    def __init__(self, spill: RowSpill) -> None:
        self.spill = spill
        self.names: list[str] | None = None  # the first file's columns, when spilling
        self.kept: list[str] = []
        self.decided = False

    def __call__(self, part: pd.DataFrame | pa.Table, path: Path) -> pd.DataFrame | pa.Table:
        if not self.decided:
            self.decided = True
            if isinstance(part, pa.Table):
                mapping = resolve_columns(part.column_names)
                if all(pa.types.is_floating(part.schema.field(mapping[f]).type)
                       for f in FEATURES):
                    read = {mapping[c] for c in mapping if c not in UNREAD}
                    self.names = part.column_names
                    self.kept = [c for c in self.names if c in read]
        if self.names is None:
            return part
        if part.column_names != self.names:  # same columns (the reader checked), in order
            if sorted(part.column_names) != sorted(self.names):
                raise CatalogueError(f"{path}: column names differ from the first file's "
                                     "in case or spaces; every file must have the same "
                                     "columns")
            part = part.select(self.names)
        self.spill.add(part)
        return part.select(self.kept)


def load_spilled_catalogue(path: Path | str, folder: Path
                           ) -> tuple[Catalogue, SpilledRows | None]:
    """``load_catalogue(path)``, with the raw rows already spilled under ``folder`` where
    the input allowed (Parquet with numeric features; the catalogue's ``raw`` is then
    empty), else None (the caller spills ``raw``)."""
    spiller = _PartSpiller(RowSpill(folder))
    raw = read_input(path, wanted=KNOWN_COLUMNS, on_part=spiller)
    name = raw.source["file"]
    spilled = spiller.names is not None
    catalogue = clean_catalogue(raw.frame, source_name=name, notes=raw.notes,
                                columns=raw.columns if spilled else None,
                                keep_raw=not spilled)
    rows = spiller.spill.finish(catalogue.tracks["source_row"].to_numpy()) if spilled else None
    return Catalogue(tracks=catalogue.tracks, raw=catalogue.raw, report=catalogue.report,
                     source_name=name, source=raw.source), rows
