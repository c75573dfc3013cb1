"""id -> row as a hash table built at build time and memory-mapped by the service: a lookup
costs one CRC-32 of the id and one or two array reads, with no Python object per row at
load (a binary search over the mapped ids cost ~17 string conversions, ~50 us at 96k).

    columns/id_hash_offsets.npy  int64 (n_buckets + 1,), n_buckets a power of two >= n:
                                 bucket b holds entries offsets[b]:offsets[b + 1]
    columns/id_hash_rows.npy     int64 (n,): the rows, by bucket, ascending within one
    columns/id_hash_crc.npy      uint32 (n,): the CRC-32 of each entry's id (UTF-8), so a
                                 lookup compares the id text of a matching hash only

The hash is CRC-32 (``zlib.crc32``: deterministic across processes and machines, unlike
Python's salted ``hash``), spread over the buckets by Fibonacci hashing (the top bits of
``crc * 2**64 / phi``). The build computes the CRC of every id vectorised, one byte
position at a time; a test checks it against ``zlib.crc32``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.arrow_tables import as_large_strings

OFFSETS = "columns/id_hash_offsets.npy"
ROWS = "columns/id_hash_rows.npy"
CRC = "columns/id_hash_crc.npy"
FILES = (OFFSETS, ROWS, CRC)
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / phi, odd
_MASK64 = (1 << 64) - 1


def _crc_table() -> np.ndarray:
    """The 256-entry table of the reflected CRC-32 polynomial (zlib's)."""
    c = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        c = np.where(c & 1, np.uint32(0xEDB88320) ^ (c >> 1), c >> 1).astype(np.uint32)
    return c


def string_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 (n + 1,), data uint8): the UTF-8 bytes of value i are
    ``data[offsets[i]:offsets[i + 1]]``, views of the Arrow buffers (no copy). A null must
    span no bytes (it reads as ""), as every Arrow writer leaves it; ValueError if not."""
    values = as_large_strings(values)
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=n + 1, offset=values.offset * 8)
    data = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8))
    if values.null_count:
        nulls = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
        if (offsets[nulls + 1] != offsets[nulls]).any():
            raise ValueError("a null string spans bytes")
    return offsets, data


def crc32_strings(values: pa.Array, chunk: int = 1 << 20) -> np.ndarray:
    """uint32 (n,): ``zlib.crc32`` of each value's UTF-8 bytes (a null as ""), vectorised:
    one pass per byte position over the values at least that long, ``chunk`` values at a
    time (the temporaries stay small at 10M rows)."""
    offsets, data = string_buffers(values)
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint32)
    table = _crc_table()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        lengths = offsets[lo + 1:hi + 1] - offsets[lo:hi]
        order = np.argsort(-lengths, kind="stable")  # the values longer than j: a prefix
        starts = offsets[lo:hi][order]
        desc = lengths[order]
        n_longer = np.searchsorted(-desc, -np.arange(int(desc[0])), side="left")
        crc = np.full(hi - lo, 0xFFFFFFFF, dtype=np.uint32)
        for j, m in enumerate(n_longer.tolist()):
            c = crc[:m]
            crc[:m] = table[(c ^ data[starts[:m] + j]) & 0xFF] ^ (c >> 8)
        out[lo + order] = crc ^ np.uint32(0xFFFFFFFF)
    return out


def _bits(n: int) -> int:
    """log2 of the bucket count: the least power of two >= n, at least 2 buckets."""
    return max(1, (max(n, 1) - 1).bit_length())


def buckets_of(crc: np.ndarray, bits: int) -> np.ndarray:
    """int64: the bucket of each CRC, the top ``bits`` bits of ``crc * _GOLDEN`` mod 2**64."""
    spread = crc.astype(np.uint64) * np.uint64(_GOLDEN)  # wraps mod 2**64
    return (spread >> np.uint64(64 - bits)).astype(np.int64)


@dataclass(frozen=True)
class IdTable:
    """The arrays of the module docstring; :meth:`row_of` answers with the id texts."""

    offsets: np.ndarray
    rows: np.ndarray
    crc: np.ndarray

    @classmethod
    def derive(cls, ids: pa.ChunkedArray | pa.Array) -> IdTable:
        """The table of the track ids (row i = id i)."""
        crc = crc32_strings(as_large_strings(ids).fill_null(""))
        n = len(crc)
        bits = _bits(n)
        bucket = buckets_of(crc, bits)
        rows = np.argsort(bucket, kind="stable").astype(np.int64)  # rows ascend per bucket
        offsets = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=1 << bits), out=offsets[1:])
        del bucket
        return cls(offsets, rows, crc[rows])

    def write(self, directory: Path) -> None:
        (Path(directory) / "columns").mkdir(parents=True, exist_ok=True)
        for name, array in ((OFFSETS, self.offsets), (ROWS, self.rows), (CRC, self.crc)):
            np.save(Path(directory) / name, array, allow_pickle=False)

    @classmethod
    def read(cls, directory: Path, n_rows: int) -> IdTable:
        """The mapped arrays, checked for dtype, shape and bounds (ValueError if not)."""
        directory = Path(directory)
        n_buckets = 1 << _bits(n_rows)
        offsets = checks.read_npy(directory / OFFSETS, np.int64, (n_buckets + 1,), OFFSETS,
                                  mmap=True)
        rows = checks.read_npy(directory / ROWS, np.int64, (n_rows,), ROWS, mmap=True)
        crc = checks.read_npy(directory / CRC, np.uint32, (n_rows,), CRC, mmap=True)
        if offsets[0] != 0 or offsets[-1] != n_rows or (np.diff(offsets) < 0).any():
            raise ValueError(f"{OFFSETS}: offsets do not index the {n_rows} rows in order")
        if n_rows and (int(rows.min()) < 0 or int(rows.max()) >= n_rows):
            raise ValueError(f"{ROWS}: rows fall outside [0, {n_rows})")
        return cls(offsets, rows, crc)

    def row_of(self, track_id: str, id_offsets: np.ndarray, id_data: memoryview) -> int | None:
        """The row of ``track_id`` (the last of equal ids), or None; ``id_offsets`` and
        ``id_data`` are the id texts (:func:`string_buffers`, the data as a memoryview)."""
        try:
            key = track_id.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no stored id is one
            return None
        crc = zlib.crc32(key)
        bucket = ((crc * _GOLDEN) & _MASK64) >> (64 - _bits(len(self.rows)))
        lo, hi = self.offsets[bucket:bucket + 2].tolist()
        for j in range(hi - 1, lo - 1, -1):  # rows ascend: the last equal id first
            if self.crc[j] == crc:
                row = int(self.rows[j])
                start, stop = id_offsets[row:row + 2].tolist()
                if id_data[start:stop].tobytes() == key:
                    return row
        return None
