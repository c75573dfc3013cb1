"""The cone walk (vibemap.recommender.cone_scan) against the plain exact computation: the
top k of the passing rows by score (every passing row scored), ties to the lower row; and
the cones' build, storage and checks (vibemap.indexer.cone_index)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import build_tiny_artifact
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.cone_index import (
    FILES,
    KEY_STRIDE,
    cone_files,
    cones_of_index,
    derive_cones,
    read_cones,
    write_cones,
)
from vibemap.indexer.errors import ArtifactError
from vibemap.indexer.files import sha256_file
from vibemap.indexer.metric import similarities
from vibemap.recommender.cone_scan import ConeScan
from vibemap.recommender.engine import Engine
from vibemap.recommender.filtered_ranking import FilteredRanking
from vibemap.recommender.ranking import Scope, scan_best


def unit(A: np.ndarray) -> np.ndarray:
    return (A / np.linalg.norm(A, axis=1, keepdims=True)).astype(np.float32)


def catalogue(seed: int, n: int, d: int, n_lists: int, dup: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X unit float32 (n, d) in clusters with ``dup`` exact duplicate rows, rows grouped
    by list, offsets, list centroids): lists by nearest centre, as an IVF assigns them."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_lists, d)))
    X = unit(centres[rng.integers(n_lists, size=n)] + 0.3 * rng.standard_normal((n, d)))
    if dup:
        X[rng.integers(n, size=dup)] = X[rng.integers(n, size=dup)]
    assign = np.argmax(X @ centres.T, axis=1)
    rows = np.argsort(assign, kind="stable").astype(np.int64)
    offsets = np.zeros(n_lists + 1, dtype=np.int64)
    np.cumsum(np.bincount(assign, minlength=n_lists), out=offsets[1:])
    return X, rows, offsets, centres


def plain_top(X: np.ndarray, q: np.ndarray, allowed: np.ndarray, exclude: np.ndarray,
              k: int, rows_in_scope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every passing row of the scope scored by one product over the scope's rows."""
    scope = np.sort(rows_in_scope)
    ok = allowed[scope] & ~np.isin(scope, exclude)
    s = (X[scope] @ q)[ok]
    local = scope[ok]
    order = np.lexsort((local, -s))[:k]
    return local[order], s[order]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 400), d=st.integers(2, 10),
       n_lists=st.integers(1, 12), k=st.integers(1, 40), share=st.floats(0.0, 1.0),
       dup=st.integers(0, 30), n_excluded=st.integers(0, 5), seed_query=st.booleans())
def test_the_walk_equals_scoring_every_passing_row(seed: int, n: int, d: int, n_lists: int,
                                                   k: int, share: float, dup: int,
                                                   n_excluded: int, seed_query: bool) -> None:
    X, rows, offsets, centres = catalogue(seed, n, d, n_lists, dup)
    rng = np.random.default_rng(seed + 1)
    allowed = rng.random(n) < share
    exclude = np.unique(rng.integers(n, size=n_excluded)).astype(np.int64)
    q = X[rng.integers(n)].copy() if seed_query else unit(rng.standard_normal((1, d)))[0]
    cones = derive_cones(X, rows, offsets, centres)
    # scope: every list, and the first half of the lists (a vibe's range)
    half = n_lists // 2
    lists = {None: (0, n_lists), 0: (0, half)}
    scan, thrifty = ConeScan(cones, X, lists, max_share=1.0), ConeScan(cones, X, lists, 0.2)
    for vibe, (lo, hi) in ((None, (0, n_lists)), (0, (0, half))):
        got = scan.top(q, k, vibe, lambda r: allowed[r], exclude)
        assert got is not None  # max_share 1: it never gives up
        want = plain_top(X, q, allowed, exclude, k, rows[offsets[lo]:offsets[hi]])
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])  # the same float32 scores
        cheap = thrifty.top(q, k, vibe, lambda r: allowed[r], exclude)
        if cheap is not None:  # a walk that does not give up is exact too
            np.testing.assert_array_equal(cheap[0], want[0])
            np.testing.assert_array_equal(cheap[1], want[1])


def test_a_walk_over_too_many_rows_gives_up() -> None:
    X, rows, offsets, centres = catalogue(3, 2000, 6, 8, 0)
    scan = ConeScan(derive_cones(X, rows, offsets, centres), X, {None: (0, 8)}, max_share=0.01)
    none_pass = np.zeros(len(X), dtype=bool)
    assert scan.top(X[0], 10, None, lambda r: none_pass[r], np.empty(0, np.int64)) is None


def test_cones_sort_each_list_by_angle_and_round_trip(tmp_path: Path) -> None:
    X, rows, offsets, centres = catalogue(5, 500, 5, 6, 10)
    cones = derive_cones(X, rows, offsets, centres)
    assert sorted(cones.rows.tolist()) == list(range(500))
    assert (np.diff(cones.keys) >= 0).all()
    for lst in range(6):
        members = cones.rows[offsets[lst]:offsets[lst + 1]]
        assert set(members.tolist()) == set(rows[offsets[lst]:offsets[lst + 1]].tolist())
        axis = centres[lst].astype(np.float64)
        axis /= np.linalg.norm(axis)
        x = X[members].astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.testing.assert_allclose(cones.keys[offsets[lst]:offsets[lst + 1]] - lst * KEY_STRIDE,
                                   np.arccos(np.clip(x @ axis, -1, 1)), atol=1e-9)
    write_cones(tmp_path, cones)
    back = read_cones(tmp_path, 500, 5)
    for part in FILES:
        np.testing.assert_array_equal(getattr(back, part), getattr(cones, part))
    keys = cones.keys.copy()
    keys[[10, 11]] = keys[[11, 10]] if keys[10] != keys[11] else (keys[10] + 1, keys[11])
    np.save(tmp_path / FILES["keys"], keys, allow_pickle=False)
    with pytest.raises(ValueError, match="keys"):
        read_cones(tmp_path, 500, 5)


@pytest.fixture(scope="module")
def ivf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("cones"), n=3000, n_clusters=3,
                               ann_threshold=0)


def test_an_ivf_build_stores_the_cones_of_its_index(ivf: Path) -> None:
    art = load_artifact(ivf)
    assert set(cone_files()) <= set(art.manifest["files"]) and art.cones is not None
    derived = cones_of_index(faiss.extract_index_ivf(art.index.full), np.asarray(art.vectors))
    for part in FILES:
        np.testing.assert_array_equal(getattr(art.cones, part), getattr(derived, part))


def test_an_ivf_artifact_that_lists_no_cones_is_refused(ivf: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(ivf, art)
    manifest = json.loads((art / "manifest.json").read_text())
    del manifest["files"][FILES["keys"]]
    (art / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="cones/keys.npy"):
        load_artifact(art)
    manifest["files"][FILES["keys"]] = {"sha256": sha256_file(ivf / FILES["keys"])}
    (art / "manifest.json").write_text(json.dumps(manifest))
    np.save(art / FILES["rows"], np.zeros(3000, dtype=np.int64), allow_pickle=False)
    with pytest.raises(ArtifactError, match="checksum"):
        load_artifact(art)


FILTERS = [
    {"min_energy": 0.5},
    {"min_energy": 0.4, "vibe": "same"},
    {"max_energy": 0.5, "min_popularity": 30, "diversity": 0.4},
    {"genres": ["pop", "rock"], "limit": 25, "offset": 5},
    {"min_year": 1990, "max_year": 2010, "max_per_artist": 1, "dedupe_versions": False},
    {"max_danceability": 0.3, "max_acousticness": 0.2},  # few rows pass
    {"exclude_artists": ["Artist 1", "ARTIST 2"], "min_valence": 0.2},
]


@pytest.mark.parametrize("max_share", [1.0, 0.1, 0.0])
def test_filtered_recommendations_are_those_of_the_plain_scan(ivf: Path, max_share: float
                                                              ) -> None:
    engine = Engine.load(ivf)
    fast = engine._filtered
    assert fast.cones is not None
    fast.cones.max_share = max_share  # 0: always gives up and scans; 1: never does
    plain = FilteredRanking(engine.catalogue, None, engine.metric)
    ids = [engine.summary(r)["track_id"] for r in range(0, 3000, 97)]
    for i, track in enumerate(ids):
        kw = FILTERS[i % len(FILTERS)]
        seeds = [track] if i % 4 else [track, ids[(i + 1) % len(ids)]]
        engine._filtered = fast
        got = engine.recommend(seeds, **kw)
        engine._filtered = plain
        assert got == engine.recommend(seeds, **kw), (track, kw)
        engine._filtered = fast
        assert got["results"] == engine.recommend(
            seeds, **kw)["results"]  # a second call over the same maps agrees
    engine._filtered = fast


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), start=st.integers(0, 50),
       share=st.sampled_from([0.0, 0.02, 0.2, 0.9, 1.0]), k=st.integers(1, 30),
       metric=st.sampled_from(["cosine", "euclidean"]))
def test_the_scan_scores_like_one_product_over_the_scope(seed: int, n: int, start: int,
                                                         share: float, k: int, metric: str
                                                         ) -> None:
    """scan_best, whether it scores the passing rows alone (few pass) or the whole scope,
    equals one product over the scope's rows, ties at the cut to the lower row (an
    argpartition alone keeps any of the tied rows)."""
    rng = np.random.default_rng(seed)
    X = unit(rng.standard_normal((start + n + 5, 10)))
    X[rng.integers(len(X), size=5)] = X[rng.integers(len(X), size=5)]  # exact ties
    scope = Scope(None, None, start, start + n)
    mask = rng.random(n) < share
    exclude = {int(r) for r in rng.integers(start, start + n, size=3)}
    q = X[rng.integers(len(X))].copy()
    s = similarities(X[scope.start:scope.stop], q, metric)
    local = np.array([i for i in np.flatnonzero(mask) if i + start not in exclude], dtype=int)
    order = np.lexsort((local, -s[local]))[:k] if len(local) else np.empty(0, dtype=int)
    rows, scores = scan_best(X, q, scope, mask, exclude, metric)(k)
    np.testing.assert_array_equal(rows, local[order] + start)
    np.testing.assert_array_equal(scores, s[local][order])
