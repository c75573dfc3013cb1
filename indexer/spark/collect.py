"""The sorted, cleaned rows from the executors to the driver, through files.

Collecting them through the driver's JVM (``DataFrame.toArrow``) holds every task's result
in the JVM heap before Python sees a row: at 10M rows with their text a 6 GiB driver heap
ran out (bench/RESULTS.md, "Spark engine"). So the executors write the rows, sorted, as
Parquet to a scratch folder, and the driver reads them back with pyarrow, one set of
columns at a time; the JVM never holds them.

The scratch folder is a new uniquely named folder (removed afterwards) inside
``--spark-scratch``: by default the artifact's parent folder, which every executor of a
``local[*]`` master reaches; on a cluster it must be a location that the executors and
the driver both reach (``hdfs://``, ``s3a://``, a shared mount).
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from vibemap.indexer.errors import BuildError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Hadoop's names for object stores that pyarrow knows under its own scheme
_PYARROW_SCHEMES = {"s3a": "s3", "s3n": "s3", "gs": "gs", "gcs": "gs"}


@dataclass(frozen=True)
class ScratchRows:
    """Parquet files written by the executors, in the rows' order (part files by name)."""

    filesystem: pafs.FileSystem
    files: list[str]

    def read(self, columns: list[str]) -> pa.Table:
        """``columns`` of every row, in order."""
        return pa.concat_tables([pq.read_table(f, columns=columns, filesystem=self.filesystem)
                                 for f in self.files])

    def batches(self, columns: list[str], batch_rows: int) -> Iterator[pa.Table]:
        """``columns`` of every row, in order, ``batch_rows`` at a time."""
        for name in self.files:
            with self.filesystem.open_input_file(name) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows,
                                                                 columns=columns):
                    yield pa.Table.from_batches([batch])


def scratch_folder(scratch: str | None, out: Path) -> str:
    """A new folder name (URI or local path) inside ``scratch``, or beside ``out``."""
    name = f".vibemap-spark-rows-{uuid.uuid4().hex[:12]}"
    if scratch is None:
        return str(Path(out).resolve().parent / name)
    if "://" in scratch:
        return scratch.rstrip("/") + "/" + name
    return str(Path(scratch).resolve() / name)


def _pyarrow_location(location: str) -> tuple[pafs.FileSystem, str]:
    scheme, sep, rest = location.partition("://")
    if sep and scheme.lower() in _PYARROW_SCHEMES:
        location = f"{_PYARROW_SCHEMES[scheme.lower()]}://{rest}"
    if not sep:
        return pafs.LocalFileSystem(), location
    try:
        return pafs.FileSystem.from_uri(location)
    except (pa.ArrowException, ValueError) as exc:
        raise BuildError(f"--spark-scratch {location}: the driver cannot read it with "
                         f"pyarrow ({str(exc).splitlines()[0][:200]})") from None


def check_order(vibes: np.ndarray, rows: np.ndarray) -> None:
    """Raise if (vibe, input row) is not strictly increasing: the files were read in
    another order than Spark wrote them, and the artifact would be wrong."""
    later = (vibes[1:] > vibes[:-1]) | ((vibes[1:] == vibes[:-1]) & (rows[1:] > rows[:-1]))
    if not bool(np.all(later)):
        raise BuildError("internal: the rows Spark wrote came back out of order "
                         "(a part file missing or renamed in the scratch folder?)")


@contextmanager
def rows_through_files(frame: DataFrame, location: str) -> Iterator[ScratchRows]:
    """Write ``frame`` (already sorted) as Parquet to ``location``, which must not exist,
    and yield its part files; the folder is removed afterwards, whatever happens."""
    filesystem, path = _pyarrow_location(location)
    try:
        frame.write.mode("errorifexists").parquet(location)
        found = filesystem.get_file_info(pafs.FileSelector(path))
        files = sorted(info.path for info in found if info.type == pafs.FileType.File
                       and posixpath.basename(info.path).startswith("part-"))
        yield ScratchRows(filesystem, files)
    finally:
        if filesystem.get_file_info(path).type == pafs.FileType.Directory:
            filesystem.delete_dir(path)
