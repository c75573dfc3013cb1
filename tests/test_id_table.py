"""The id -> row hash table (format 4): every id found (the last of equal ids, as the
binary search it replaced answered), absent ids not found, CRC collisions and shared
buckets resolved by the id text, and the vectorised CRC equal to zlib's."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibemap.indexer.id_table import IdTable, buckets_of, crc32_strings, string_buffers

texts = st.text(max_size=30)
# CRC-32 collisions (classic pairs): equal hashes, different ids
COLLIDING = [("plumless", "buckeroo"), ("codding", "gnu")]


def _lookup(table: IdTable, ids: pa.Array):
    offsets, data = string_buffers(ids)
    view = memoryview(data)
    return lambda track_id: table.row_of(track_id, offsets, view)


@settings(deadline=None)
@given(st.lists(st.one_of(texts, st.none()), max_size=60))
def test_crc_equals_zlib(values: list[str | None]) -> None:
    got = crc32_strings(pa.array(values, type=pa.large_string())).tolist()
    assert got == [zlib.crc32((v or "").encode("utf-8")) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abc\u00e9\u4e2d", max_size=4), max_size=80),
       st.lists(texts, max_size=20))
def test_every_id_found_and_absent_ids_not(ids: list[str], others: list[str]) -> None:
    table = IdTable.derive(pa.array(ids, type=pa.string()))
    row_of = _lookup(table, pa.array(ids, type=pa.large_string()))
    last = {t: i for i, t in enumerate(ids)}  # the last of equal ids
    for t, row in last.items():
        assert row_of(t) == row
    for t in others:
        assert row_of(t) == last.get(t)


def test_crc_collisions_and_shared_buckets_resolve_by_text() -> None:
    ids = [a for pair in COLLIDING for a in pair] + [f"t{i}" for i in range(500)]
    assert all(zlib.crc32(a.encode()) == zlib.crc32(b.encode()) for a, b in COLLIDING)
    table = IdTable.derive(pa.array(ids))
    assert (np.diff(table.offsets) > 1).any()  # some bucket holds several ids
    row_of = _lookup(table, pa.array(ids, type=pa.large_string()))
    assert [row_of(t) for t in ids] == list(range(len(ids)))
    assert row_of("plumles") is None and row_of("\ud800") is None  # lone surrogate


def test_bucket_spread_and_round_trip(tmp_path: Path) -> None:
    ids = pa.array([f"{i:022d}" for i in range(4096)])  # sequential ids spread evenly
    table = IdTable.derive(ids)
    assert len(table.offsets) == 4096 + 1 and np.diff(table.offsets).max() <= 8
    assert buckets_of(np.array([0, 2**32 - 1], dtype=np.uint32), 1).tolist() == [0, 1]
    table.write(tmp_path)
    read = IdTable.read(tmp_path, len(ids))
    for name in ("offsets", "rows", "crc"):
        np.testing.assert_array_equal(getattr(read, name), getattr(table, name))
    with pytest.raises(ValueError, match="expected"):
        IdTable.read(tmp_path, len(ids) + 1)


def test_a_null_spanning_bytes_is_refused() -> None:
    offsets = pa.array([0, 2, 4], type=pa.int64())
    values = pa.LargeStringArray.from_buffers(2, offsets.buffers()[1], pa.py_buffer(b"abcd"),
                                              pa.array([True, False]).buffers()[1], 1)
    with pytest.raises(ValueError, match="null"):
        string_buffers(values)


@settings(max_examples=50, deadline=None)
@given(st.lists(texts, max_size=40), st.integers(1, 7))
def test_crc_in_chunks_equals_zlib(values: list[str], chunk: int) -> None:
    got = crc32_strings(pa.array(values, type=pa.large_string()), chunk=chunk).tolist()
    assert got == [zlib.crc32(v.encode("utf-8")) for v in values]
