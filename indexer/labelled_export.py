"""The labelled CSV export: the input's rows, as read, in artifact order plus vibe_id and
vibe_name.

Only this export needs the raw input rows (every column read; GBs at 10M rows), and only
once the vibes are known. So the build spills them to an anonymous file as soon as the
catalogue is cleaned (:func:`spill_rows`), and :func:`write_labelled_csv` reads them back
one batch at a time: each batch's rows go to one part file per vibe, in input order, and
the parts are joined after the header. That is the artifact's row order (rows sorted by
vibe, input order within), written with the memory of one batch. The Spark build's rows
arrive in that order already: :func:`write_sorted_labelled_csv` writes them as they come.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from vibemap.indexer.export import safe_column

CSV_CHUNK_ROWS = 1 << 18  # rows per batch of the spill and of the export
LABEL_COLUMNS = ("vibe_id", "vibe_name")  # the columns the export appends


@dataclass
class SpilledRows:
    """The raw rows in an anonymous Arrow IPC stream (gone when closed or at exit)."""

    file: BinaryIO
    schema: pa.Schema  # column types of the whole input, so a batch that happens to be
    # all empty in a text column is not typed differently from the others
    text_columns: list[str]
    n_rows: int
    # the input rows (ascending) the labels belong to, where every row read was spilled
    # before cleaning (RowSpill); None: the spilled rows are the kept rows
    kept: np.ndarray | None = None

    def close(self) -> None:
        self.file.close()


class RowSpill:
    """Spills an input's rows part by part (a Parquet file's table) as the reader reads
    them, so the build never holds every column read at once; :meth:`finish` gives the
    :class:`SpilledRows` of the rows the cleaning kept."""

    def __init__(self, folder: Path, chunk_rows: int = CSV_CHUNK_ROWS) -> None:
        self._folder, self._chunk_rows = folder, chunk_rows
        self._file: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._types: tuple[pa.Schema, list[str]] | None = None
        self.n_rows = 0

    def add(self, table: pa.Table) -> None:
        if self._writer is None:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self._folder, prefix=".vibemap-rows-")
            self._writer = pa.ipc.new_stream(self._file, table.schema)
            self._types = input_types(table.schema)
        self._writer.write_table(table, max_chunksize=self._chunk_rows)
        self.n_rows += table.num_rows

    def finish(self, kept: np.ndarray) -> SpilledRows | None:
        """The spilled rows, labelled at ``kept`` (input rows, ascending); None if no
        part was spilled."""
        if self._writer is None or self._file is None or self._types is None:
            return None
        self._writer.close()
        return SpilledRows(self._file, *self._types, self.n_rows,
                           np.asarray(kept, dtype=np.int64))


def input_types(schema: pa.Schema) -> tuple[pa.Schema, list[str]]:
    """The export's view of an input's columns, from the first part read: their types as
    pandas gives them (so a later part that happens to be all empty in a text column is
    not typed differently) and which of them hold text."""
    types = schema.empty_table().to_pandas()
    return pa.Schema.from_pandas(types, preserve_index=False), _text_columns(types)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def spill_rows(raw: pd.DataFrame, folder: Path, chunk_rows: int = CSV_CHUNK_ROWS
               ) -> SpilledRows:
    """Write ``raw`` to an anonymous file in ``folder`` (created if missing): the caller
    can then drop the frame."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(raw, preserve_index=False)
    spilled = SpilledRows(
        file=tempfile.TemporaryFile(dir=folder, prefix=".vibemap-rows-"),
        schema=pa.Schema.from_pandas(raw, preserve_index=False),
        text_columns=_text_columns(raw),
        n_rows=len(raw),
    )
    with pa.ipc.new_stream(spilled.file, table.schema) as writer:
        writer.write_table(table, max_chunksize=chunk_rows)
    return spilled


def _batches(rows: SpilledRows):
    rows.file.seek(0)
    with pa.ipc.open_stream(rows.file) as reader:
        for batch in reader:
            yield batch.to_pandas()


def write_labelled_csv(path: Path, rows: SpilledRows, labels: np.ndarray,
                       names: list[str]) -> None:
    """The export of ``rows`` (input order) labelled with ``labels`` (int, input order;
    ``names[label]`` is the vibe's name), sorted by vibe with input order within."""
    schema = _export_schema(rows.schema)
    vibe_names = np.asarray(names, dtype=object)
    parts = [tempfile.TemporaryFile(dir=path.parent, prefix=".vibemap-part-")
             for _ in names]
    try:
        start = done = 0  # rows read back, labels used
        for frame in _batches(rows):
            if rows.kept is None:
                local = np.arange(len(frame))
            else:  # the kept rows among this batch's input rows
                stop = int(np.searchsorted(rows.kept, start + len(frame)))
                local = rows.kept[done:stop] - start
            batch_labels = labels[done : done + len(local)]
            start, done = start + len(frame), done + len(local)
            for vibe in np.unique(batch_labels):
                chunk = frame.iloc[local[batch_labels == vibe]].reset_index(drop=True)
                _write_rows(parts[vibe], chunk, np.full(len(chunk), vibe), rows.text_columns,
                            vibe_names, schema)
        if start != rows.n_rows or done != len(labels):
            raise ValueError(f"internal: {start} of {rows.n_rows} spilled rows read back, "
                             f"{done} of {len(labels)} labels used")
        with open(path, "wb") as out:
            pacsv.write_csv(schema.empty_table(), out)  # the header line
            for part in parts:
                part.seek(0)
                shutil.copyfileobj(part, out, 1 << 20)
    finally:
        for part in parts:
            part.close()


def write_sorted_labelled_csv(path: Path, batches: Iterable[pa.Table], labels: np.ndarray,
                              names: list[str]) -> None:
    """The same export for rows that arrive in artifact order already (the Spark build's
    sorted rows, read back a batch at a time), ``labels`` in that order: each batch is
    written as it comes, with no part files and no spill."""
    vibe_names = np.asarray(names, dtype=object)
    done = 0
    with open(path, "wb") as out:
        schema: pa.Schema | None = None
        for batch in batches:
            if schema is None:  # the column types of the whole input, as a spill takes them
                columns, text_columns = input_types(batch.schema)
                schema = _export_schema(columns)
                pacsv.write_csv(schema.empty_table(), out)  # the header line
            vibes = labels[done:done + batch.num_rows]
            done += batch.num_rows
            if len(vibes) < batch.num_rows:
                break
            _write_rows(out, batch.to_pandas(), vibes, text_columns, vibe_names, schema)
    if schema is None or done != len(labels):
        raise ValueError(f"internal: {done} rows read (at least) for {len(labels)} labels")


def _export_schema(rows: pa.Schema) -> pa.Schema:
    """The export's columns: the input's, then vibe_id and vibe_name. An input that has
    columns of those names (an earlier build's export, indexed again) loses them to this
    build's labels: the old labels would contradict the new ones."""
    rows = pa.schema([f for f in rows if f.name not in LABEL_COLUMNS], metadata=rows.metadata)
    return rows.append(pa.field("vibe_id", pa.int32())).append(pa.field("vibe_name", pa.string()))


def _write_rows(out: BinaryIO, chunk: pd.DataFrame, vibes: np.ndarray, text_columns: list[str],
                vibe_names: np.ndarray, schema: pa.Schema) -> None:
    """``chunk``'s rows labelled with ``vibes``, as CSV lines (no header) to ``out``; text
    cells made safe to open in a spreadsheet (OWASP, :func:`safe_column`)."""
    for column in text_columns:
        if column not in LABEL_COLUMNS:
            chunk[column] = safe_column(chunk[column])
    chunk["vibe_id"] = vibes.astype(np.int32)
    chunk["vibe_name"] = vibe_names[vibes]
    table = pa.Table.from_pandas(chunk, preserve_index=False, schema=schema)
    pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False))
