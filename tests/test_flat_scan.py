"""The transposed flat scan: FAISS's own flat search is the oracle, bit for bit (scores,
rows, order), for both metrics, every scope and k, with exact ties and near-ties."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vibemap.indexer.vector_index import (
    IVF_FLAT,
    PartitionedIndex,
    partitions_from_sorted_labels,
    to_index_space,
)
from vibemap.recommender.flat_scan import FlatScan, top_k_candidates

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def catalogue(n: int, metric: str, seed: int, n_vibes: int = 3, d: int = 10,
              duplicates: int = 0) -> tuple[np.ndarray, PartitionedIndex]:
    """Index-space vectors in ``n_vibes`` blobs (sorted by blob), ``duplicates`` rows
    repeated elsewhere (exact ties), and their flat index."""
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, n_vibes, n))
    Z = rng.normal(0, 2, (n_vibes, d))[labels] + rng.normal(0, 1, (n, d))
    if duplicates:
        src = rng.integers(0, n, duplicates)
        dst = rng.integers(0, n, duplicates)
        same = labels[src] == labels[dst]
        Z[dst[same]] = Z[src[same]]
    X = to_index_space(Z, metric)
    return X, PartitionedIndex.build(X, partitions_from_sorted_labels(labels, n_vibes), metric)


def oracle(index: PartitionedIndex, q: np.ndarray, limit: int, vibe_id: int | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """FAISS's scores of every row of the scope, best ``limit`` by (score desc, row)."""
    if vibe_id is None:
        sub, start, size = index.full, 0, index.ntotal
    else:
        p = index.partitions[vibe_id]
        sub, start, size = index.parts[vibe_id], p.start, p.size
    D, I = sub.search(q[None, :], size)
    scores = -D[0] if index.metric == "euclidean" else D[0]
    order = np.lexsort((I[0], -scores))[:limit]
    return scores[order], I[0][order] + start


def ranked(D: np.ndarray, I: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One query's (scores, rows) by score desc, ties to the lower row (as top_rows ranks
    them: FAISS itself leaves the order of tied rows open)."""
    assert D.shape == I.shape and D.shape[0] == 1
    order = np.lexsort((I[0], -D[0]))
    return D[0][order], I[0][order]


@FAST
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(200, 1500),
       metric=st.sampled_from(["cosine", "euclidean"]), group=st.sampled_from([2, 4, 16]),
       limit=st.integers(1, 40), duplicates=st.sampled_from([0, 50]))
def test_scan_equals_faiss_bit_for_bit(seed: int, n: int, metric: str, group: int, limit: int,
                                       duplicates: int) -> None:
    X, index = catalogue(n, metric, seed, duplicates=duplicates)
    scan = FlatScan(index, X, min_rows=0, group=group)
    rng = np.random.default_rng(seed)
    for row in rng.integers(0, n, 4):
        for vibe_id in (None, *index.partitions):
            scores, rows = ranked(*scan.search(X[row][None, :], limit, vibe_id))
            want_scores, want_rows = oracle(index, X[row], limit, vibe_id)
            np.testing.assert_array_equal(scores, want_scores)
            size = n if vibe_id is None else index.partitions[vibe_id].size
            if min(limit, size) <= size // group:  # the scan answers: ties to the lower row
                np.testing.assert_array_equal(rows, want_rows)
            else:  # FAISS answers (the fallback), and picks freely among rows tied at the cut
                above = want_scores > want_scores[-1]
                np.testing.assert_array_equal(rows[above], want_rows[above])


def test_near_ties_at_the_cut_are_ranked_by_faiss_scores() -> None:
    """Rows whose numpy and FAISS scores may order differently (a spread of 1e-7 around the
    k-th score) still come back in FAISS's order."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=10)
    X = to_index_space(base + rng.normal(0, 1e-6, (4000, 10)), "cosine")
    index = PartitionedIndex.build(X, partitions_from_sorted_labels(np.zeros(4000, int), 1),
                                   "cosine")
    scan = FlatScan(index, X, min_rows=0)
    for row in (0, 17, 3999):
        for vibe_id in (None, 0):
            scores, rows = ranked(*scan.search(X[row][None, :], 25, vibe_id))
            want_scores, want_rows = oracle(index, X[row], 25, vibe_id)
            np.testing.assert_array_equal(scores, want_scores)
            np.testing.assert_array_equal(rows, want_rows)


@FAST
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3000), group=st.integers(1, 70),
       eps=st.sampled_from([0.0, 1e-6, 0.1]), data=st.data())
def test_candidates_hold_every_value_near_the_top_k(seed: int, n: int, group: int, eps: float,
                                                    data: st.DataObject) -> None:
    if n // group < 1:
        return
    k = data.draw(st.integers(1, n // group))
    p = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    p[::7] = p[0]  # exact ties
    got = top_k_candidates(p, k, eps, group)
    desc = np.sort(p)[::-1]
    needed = np.flatnonzero(p >= desc[k - 1] - 2 * eps)  # every value that may be top k
    assert np.isin(needed, got).all()
    # and few more: above the k-th largest column max lie at most k - 1 columns of the
    # (group, n // group) grid and the n % group values after it
    wide = min(n, (k - 1) * group + n % group + 1)
    assert np.isin(got, np.flatnonzero(p >= desc[wide - 1] - 2 * eps)).all()
    assert (np.diff(got) > 0).all()


def test_falls_back_to_the_index_where_the_scan_does_not_apply() -> None:
    X, index = catalogue(600, "cosine", seed=1)
    scan = FlatScan(index, X, min_rows=10_000)  # every scope is small
    q = X[5][None, :]
    for limit in (1, 10, 600, 700):
        D, I = scan.search(q, limit, None)
        want_D, want_I = index.search(q, limit, None)
        np.testing.assert_array_equal(D, want_D)
        np.testing.assert_array_equal(I, want_I)
    batch = X[:3]
    np.testing.assert_array_equal(FlatScan(index, X, min_rows=0).search(batch, 5, 0)[1],
                                  index.search(batch, 5, 0)[1])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ivf_index_is_searched_by_the_index(metric: str) -> None:
    faiss.omp_set_num_threads(1)
    X, flat = catalogue(3000, metric, seed=2)
    ivf = PartitionedIndex.build(X, list(flat.partitions.values()), metric, kind=IVF_FLAT)
    scan = FlatScan(ivf, X, min_rows=0)
    assert not scan.flat
    D, I = scan.search(X[7][None, :], 10, None)
    want_D, want_I = ivf.search(X[7][None, :], 10, None)
    np.testing.assert_array_equal(D, want_D)
    np.testing.assert_array_equal(I, want_I)
