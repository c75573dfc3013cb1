"""Arrow IPC files of an artifact (Feather v2, uncompressed, one record batch): written by
the build, memory-mapped by the service, so a column is a view of the page cache, never
a Python object per row. Arrays in, arrays out; the only I/O is the file itself."""

from __future__ import annotations

import bisect
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

_KEY = "key"


def as_large_strings(column: pa.ChunkedArray | pa.Array) -> pa.LargeStringArray:
    """One chunk of large_string (64-bit offsets: a column of 10M titles can pass 2 GiB)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.cast(pa.large_string())


def _one_batch(table: pa.Table) -> pa.Table:
    """Strings as large_string and every column in one chunk, so the reader gets each
    column as one zero-copy array."""
    fields = []
    for field in table.schema:
        t = field.type
        fields.append(field.with_type(pa.large_string()) if pa.types.is_string(t) else field)
    return table.cast(pa.schema(fields)).combine_chunks()


def write_table(path: Path, table: pa.Table) -> None:
    """``table`` as an uncompressed Feather v2 file of one record batch."""
    table = _one_batch(table)
    feather.write_feather(table, str(path), compression="uncompressed",
                          chunksize=max(1, table.num_rows))


def read_table(path: Path) -> pa.Table:
    """The table of an Arrow IPC file, memory-mapped (no column is copied)."""
    source = pa.memory_map(str(path), "r")
    try:
        table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{Path(path).name}: not a readable Arrow IPC file ({exc})") from None
    if any(table.column(i).num_chunks > 1 for i in range(table.num_columns)):
        raise ValueError(f"{Path(path).name}: expected one record batch")
    return table


def column(table: pa.Table, name: str) -> pa.Array:
    """Column ``name`` of a one-batch table as one array (zero-copy)."""
    chunked = table.column(name)
    return chunked.chunk(0) if chunked.num_chunks else pa.array([], type=chunked.type)


def write_strings(path: Path, values: pa.Array | list[str]) -> None:
    """A sorted (or otherwise ordered) list of strings as a one-column Arrow file."""
    write_table(path, pa.table({_KEY: pa.array(values, type=pa.large_string())}))


def read_strings(path: Path) -> pa.LargeStringArray:
    """The strings :func:`write_strings` wrote, memory-mapped."""
    table = read_table(path)
    if table.column_names != [_KEY] or not pa.types.is_large_string(table.schema.field(0).type):
        raise ValueError(f"{Path(path).name}: expected one large_string column {_KEY!r}")
    return column(table, _KEY)


class Keys:
    """A read-only sequence of Python strings over a sorted Arrow string array: what
    :mod:`bisect` needs to binary-search it in O(log n) conversions, none at load."""

    def __init__(self, values: pa.Array) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i: int) -> str:
        return self._values[i].as_py() or ""

    def range_of(self, lo_key: str, hi_key: str, lo: int = 0) -> tuple[int, int]:
        """[bisect_left(lo_key), bisect_left(hi_key)) over the sorted keys."""
        start = bisect.bisect_left(self, lo_key, lo)
        return start, bisect.bisect_left(self, hi_key, start)
