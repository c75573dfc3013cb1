"""Substring lookups through the build's trigram postings (vibemap.indexer.trigrams) equal
Python's ``in`` over the values and the plain byte scan; the postings round-trip and a
malformed file is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibemap.indexer.trigrams import derive_trigrams, read_trigrams, value_bytes, write_trigrams
from vibemap.recommender.search import _Bytes

_TEXT = st.text(alphabet="abcé ü1-\U0001f600", max_size=9)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_TEXT, max_size=30, unique=True), q=_TEXT, sliced=st.booleans())
def test_lookups_equal_python_in(values: list[str], q: str, sliced: bool) -> None:
    keys = pa.array(sorted(values), type=pa.large_string())
    if sliced and len(keys) > 2:  # a view that does not start at the buffer's start
        keys = keys.slice(1)
    want = [i for i, v in enumerate(keys.to_pylist()) if q and q in v]
    fast = _Bytes(keys, derive_trigrams(keys))
    plain = _Bytes(keys, None)
    assert sorted(set(fast.containing(q).tolist())) == want
    assert sorted(set(plain.containing(q).tolist())) == want


def test_no_trigram_spans_two_values_and_files_round_trip(tmp_path: Path) -> None:
    keys = pa.array(["abc", "cab", "bca", "ab"], type=pa.large_string())
    tri = derive_trigrams(keys)
    _, buf = value_bytes(keys)
    got = {bytes(buf[p:p + 3]).decode() for p in tri.positions.tolist()}
    assert got == {"abc", "cab", "bca"}  # "bcc", "cca", ... cross a value boundary
    assert len(tri.positions) == 3
    (tmp_path / "search").mkdir()
    write_trigrams(tmp_path, "name", tri)
    back = read_trigrams(tmp_path, "name", len(buf))
    for part in ("grams", "offsets", "positions"):
        np.testing.assert_array_equal(getattr(back, part), getattr(tri, part))
    np.save(tmp_path / "search/name_tri_pos.npy", tri.positions + 100, allow_pickle=False)
    with pytest.raises(ValueError, match="outside"):
        read_trigrams(tmp_path, "name", len(buf))
