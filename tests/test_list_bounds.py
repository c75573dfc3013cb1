"""Exact filtered search by IVF list bounds returns exactly what scoring every passing row
returns (ties to the lower row), for any filter, scope, exclusion and cap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import memory_artifact

from vibemap.indexer.list_bounds import row_scores
from vibemap.recommender.engine import Engine
from vibemap.recommender.ranking import Caps, Scope, take, top_rows

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", params=["cosine", "euclidean"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return Engine(memory_artifact(seed=11, n=600, n_vibes=3, metric=request.param, kind="ivf"))


def _reference(X: np.ndarray, q: np.ndarray, metric: str, scope: Scope, mask: np.ndarray,
               exclude: set[int], need: int, caps: Caps) -> tuple[list[int], list[float]]:
    rows = np.flatnonzero(mask) + scope.start
    rows = rows[~np.isin(rows, list(exclude))]
    s = row_scores(X[rows], q, metric)
    order = np.lexsort((rows, -s))
    return take(rows[order].tolist(), s[order].tolist(), set(), need, caps)


@FAST
@given(data=st.data())
def test_bounded_filtered_search_equals_scoring_every_row(engine: Engine,
                                                          data: st.DataObject) -> None:
    bounds = engine._bounds
    assert bounds is not None
    c = engine.catalogue
    vibe = data.draw(st.sampled_from([None, *sorted(c.partitions)]))
    start, stop = (0, c.n_rows) if vibe is None else c.partitions[vibe]
    scope = Scope(vibe, None, start, stop)
    share = data.draw(st.floats(0.0, 1.0))
    seed = data.draw(st.integers(0, 2**31 - 1))
    mask = np.random.default_rng(seed).random(stop - start) < share
    row = data.draw(st.integers(start, max(start, stop - 1)))
    q = c.X[row].copy()
    if data.draw(st.booleans()):  # a query that is not a catalogue row
        q = q + np.random.default_rng(seed).normal(0, 0.3, size=q.shape).astype(np.float32)
        if engine.metric == "cosine":
            q /= np.linalg.norm(q)
    exclude = {row} if data.draw(st.booleans()) else set()
    need = data.draw(st.integers(1, 60))
    per_artist = data.draw(st.sampled_from([None, 1, 2]))
    caps = Caps(c.artist_code, per_artist,
                c.version_of if data.draw(st.booleans()) else None)
    got = top_rows(engine._index, c.X, q, scope, mask, exclude, need, caps, bounds)
    want = _reference(c.X, q, engine.metric, scope, mask, exclude, need, caps)
    assert got[0] == want[0]
    np.testing.assert_array_equal(np.float32(got[1]), np.float32(want[1]))
    plain = top_rows(engine._index, c.X, q, scope, mask, exclude, need, caps)
    assert plain[0] == got[0]  # the scan of every row agrees, bit for bit
    np.testing.assert_array_equal(np.float32(plain[1]), np.float32(got[1]))
