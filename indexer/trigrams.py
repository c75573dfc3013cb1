"""Byte-trigram postings of a text field's distinct folded values (derived at build time,
memory-mapped by the service): a substring query of 3 bytes or more starts from the
positions of its rarest trigram instead of scanning every byte of the values.

The values' UTF-8 bytes lie back to back in their Arrow buffer; a trigram is
``b0 << 16 | b1 << 8 | b2`` of three bytes of ONE value (none spans two)::

    search/<field>_tri.npy          uint32 (t,): the distinct trigrams, ascending
    search/<field>_tri_offsets.npy  int64 (t + 1,)
    search/<field>_tri_pos.npy      int32 (int64 past 2 GiB of text): the positions in the
                                    buffer where trigram i starts, ascending:
                                    tri_pos[tri_offsets[i]:tri_offsets[i + 1]]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vibemap.indexer import artifact_checks as checks


def trigram_files(field: str) -> dict[str, str]:
    return {part: f"search/{field}{suffix}" for part, suffix in (
        ("grams", "_tri.npy"), ("offsets", "_tri_offsets.npy"), ("positions", "_tri_pos.npy"))}


def value_bytes(keys: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 (n + 1,) start of each value in the buffer, uint8 buffer of the values' bytes
    back to back): a view of the Arrow array's data."""
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int64, count=n + 1,
                            offset=keys.offset * 8)
    data = keys.buffers()[2]
    if not n or data is None:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    start = int(offsets[0])
    return offsets - start, np.frombuffer(data, dtype=np.uint8)[start:int(offsets[-1])]


def _grams(b: np.ndarray) -> np.ndarray:
    """uint32 trigram starting at each position of ``b`` but the last two."""
    out = b[:-2].astype(np.uint32)  # in place: one uint32 temporary, not four
    out <<= 16
    out |= b[1:-1].astype(np.uint32) << 8
    out |= b[2:]
    return out


@dataclass(frozen=True)
class Trigrams:
    """The postings of the module docstring."""

    grams: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray

    def anchored(self, needle: np.ndarray) -> np.ndarray | None:
        """Where ``needle`` (uint8, buffer-relative) may start: the positions of its rarest
        trigram, shifted to the needle's start (int64; each must still be checked byte by
        byte); None for a needle under 3 bytes."""
        if len(needle) < 3:
            return None
        want = _grams(needle)
        i = np.minimum(np.searchsorted(self.grams, want), max(len(self.grams) - 1, 0))
        if not len(self.grams) or (self.grams[i] != want).any():
            return np.empty(0, dtype=np.int64)
        counts = self.offsets[i + 1] - self.offsets[i]
        j = int(np.argmin(counts))
        return self.positions[self.offsets[i[j]]:self.offsets[i[j] + 1]].astype(np.int64) - j


def derive_trigrams(keys: pa.LargeStringArray) -> Trigrams:
    """The postings of a field's distinct values (``keys``, as the artifact stores them)."""
    offsets, buf = value_bytes(keys)
    n_bytes = len(buf)
    if n_bytes < 3:
        return Trigrams(np.empty(0, np.uint32), np.zeros(1, np.int64), np.empty(0, np.int32))
    # a trigram at p lies inside its value when p + 3 <= the value's end e, i.e. unless p
    # is e - 2 or e - 1 (p < e; a value under 3 bytes has no position left). One byte of
    # mask per position, not int64 ends and positions (~40 bytes a byte of text at 10M)
    inside = np.ones(n_bytes - 2, dtype=bool)
    for back in (1, 2):
        last = offsets[1:] - back
        inside[last[(last >= offsets[:-1]) & (last < n_bytes - 2)]] = False
    pos = np.flatnonzero(inside).astype(np.int32 if n_bytes < 2**31 else np.int64)
    del inside
    grams = _grams(buf)[pos]
    order = np.argsort(grams, kind="stable")
    grams = grams[order]
    pos = pos[order]
    del order
    first = np.flatnonzero(np.concatenate([[True], grams[1:] != grams[:-1]])) if len(grams) \
        else np.empty(0, dtype=np.int64)
    return Trigrams(grams[first], np.append(first, len(grams)).astype(np.int64), pos)


def write_trigrams(directory: Path, field: str, tri: Trigrams) -> None:
    for part, rel in trigram_files(field).items():
        np.save(directory / rel, getattr(tri, part), allow_pickle=False)


def read_trigrams(directory: Path, field: str, n_bytes: int) -> Trigrams:
    """The mapped postings, checked: dtypes, offsets in order, positions in the buffer of
    ``n_bytes`` bytes."""
    f = trigram_files(field)
    grams = checks.read_npy(directory / f["grams"], np.uint32, (None,), f["grams"])
    offsets = checks.read_npy(directory / f["offsets"], np.int64, (len(grams) + 1,),
                              f["offsets"])
    positions = checks.read_npy(directory / f["positions"], None, (None,), f["positions"],
                                mmap=True)
    if positions.dtype not in (np.int32, np.int64):
        raise ValueError(f"{f['positions']}: dtype {positions.dtype}, expected int32 or int64")
    if offsets[0] != 0 or offsets[-1] != len(positions) or (np.diff(offsets) <= 0).any() or (
            (np.diff(grams.astype(np.int64)) <= 0).any()):
        raise ValueError(f"{f['offsets']}: trigrams or offsets out of order")
    if len(positions) and (int(positions.min()) < 0 or int(positions.max()) > n_bytes - 3):
        raise ValueError(f"{f['positions']}: positions fall outside the values' bytes")
    return Trigrams(grams, offsets, positions)
