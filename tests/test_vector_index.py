"""The vibe-partitioned vector index: numpy brute force as the oracle for flat search,
measured recall for the IVF path, and save/load round trips of its spec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.errors import BuildError
from vibemap.indexer.index_io import spec_from_manifest
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.vector_index import (
    FLAT,
    IVF_FLAT,
    PartitionedIndex,
    exact_search,
    index_type_for,
    measure_recall,
    n_lists_for,
    partitions_from_sorted_labels,
    recall_at_k,
    to_index_space,
)

N_VIBES = 3


def clustered(n: int, metric: str, seed: int = 0) -> tuple[np.ndarray, list]:
    """Index-space vectors of ``N_VIBES`` Gaussian blobs in 9-D, sorted by blob."""
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, N_VIBES, n))
    centers = rng.normal(0, 2, (N_VIBES, 9))
    Z = centers[labels] + rng.normal(0, 1, (n, 9))
    return to_index_space(Z, metric), partitions_from_sorted_labels(labels, N_VIBES)


def brute_force(X: np.ndarray, q: np.ndarray, limit: int, metric: str) -> tuple:
    X64, q64 = X.astype(np.float64), q.astype(np.float64)
    s = X64 @ q64 if metric == "cosine" else -((X64 - q64) ** 2).sum(axis=1)
    order = np.argsort(-s, kind="stable")[:limit]
    return s[order], order


@pytest.fixture(scope="module", params=["cosine", "euclidean"])
def ivf(request: pytest.FixtureRequest) -> tuple[PartitionedIndex, np.ndarray]:
    X, partitions = clustered(6000, request.param, seed=1)
    return PartitionedIndex.build(X, partitions, request.param, kind=IVF_FLAT, seed=0), X


# ----------------------------------------------------------------- flat = numpy
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_flat_search_equals_numpy_brute_force(metric: str) -> None:
    X, partitions = clustered(900, metric)
    index = PartitionedIndex.build(X, partitions, metric)
    assert index.index_type == FLAT and index.ntotal == len(X)
    rng = np.random.default_rng(2)
    queries = to_index_space(rng.normal(0, 2, (20, 9)), metric)
    for vibe_id in [None, *range(N_VIBES)]:
        p = index.partitions.get(vibe_id)
        lo, hi = (p.start, p.stop) if p else (0, len(X))
        scores, rows = index.search(queries, 10, vibe_id)
        for q, s, r in zip(queries, scores, rows, strict=True):
            s_np, r_np = brute_force(X[lo:hi], q, 10, metric)
            np.testing.assert_allclose(s, s_np, rtol=1e-4, atol=1e-4)
            np.testing.assert_array_equal(r, r_np + lo)


@pytest.mark.parametrize("kind", [FLAT, IVF_FLAT])
def test_within_vibe_results_stay_in_the_vibe(kind: str) -> None:
    X, partitions = clustered(3000, "cosine", seed=3)
    index = PartitionedIndex.build(X, partitions, "cosine", kind=kind)
    for p in partitions:
        # queries from every vibe, so the far ones must not leak neighbours from elsewhere
        scores, rows = index.search(X[::97], 25, p.vibe_id)
        assert rows.shape == (len(X[::97]), 25)
        assert ((rows >= p.start) & (rows < p.stop)).all()
        assert (np.diff(scores, axis=1) <= 1e-6).all()  # larger is better, sorted


def test_flat_limit_beyond_the_scope_returns_what_there_is() -> None:
    X, partitions = clustered(300, "cosine")
    index = PartitionedIndex.build(X, partitions, "cosine")
    p = partitions[0]
    scores, rows = index.search(X[:2], 10_000, 0)
    assert rows.shape == (2, p.size)
    assert sorted(rows[0]) == list(range(p.start, p.stop))


# ------------------------------------------------------------------ the IVF path
def test_index_type_threshold_counts_all_rows() -> None:
    assert index_type_for(500_000, 500_000) == FLAT
    assert index_type_for(500_001, 500_000) == IVF_FLAT
    assert index_type_for(1, 0) == IVF_FLAT
    with pytest.raises(ValueError, match="ann_threshold"):
        index_type_for(10, -1)
    with pytest.raises(BuildError, match="ann_threshold"):
        BuildSettings(ann_threshold=-1)
    assert BuildSettings().ann_threshold == 500_000


def test_n_lists_is_about_sqrt_size_with_enough_rows_per_list() -> None:
    assert n_lists_for(0) == 0
    assert n_lists_for(10) == 1
    assert n_lists_for(1_000_000) == 1000
    assert n_lists_for(1000) == 1000 // 39  # sqrt (32) would leave < 39 rows per list


def test_ivf_recall_is_measured_and_meets_the_target(ivf) -> None:
    index, X = ivf
    assert index.index_type == IVF_FLAT
    recall = index.recall_at_10
    assert recall["all"] >= 0.99
    assert set(recall["vibes"]) == {str(v) for v in range(N_VIBES)}
    assert min(recall["vibes"].values()) >= 0.99
    # on queries the tuning never saw, top-10s still match exact search
    for vibe_id in [None, *range(N_VIBES)]:
        assert measure_recall(index, X, vibe_id, n_queries=300, seed=99) >= 0.98
    # each vibe's lists hold exactly its rows
    for lay in index.spec["lists"]:
        p = index.partitions[lay["vibe_id"]]
        ids = np.concatenate([
            faiss_list_ids(index, lst) for lst in range(lay["list_start"], lay["list_stop"])
        ])
        assert sorted(ids.tolist()) == list(range(p.start, p.stop))


def faiss_list_ids(index: PartitionedIndex, list_no: int) -> np.ndarray:
    import faiss

    invlists = index.full.invlists
    n = invlists.list_size(list_no)
    return faiss.rev_swig_ptr(invlists.get_ids(list_no), n).copy()


def test_ivf_large_limits_are_complete(ivf) -> None:
    index, X = ivf
    p = index.partitions[1]
    scores, rows = index.search(X[p.start : p.start + 2], p.size, 1)
    assert (rows >= 0).all() and sorted(rows[0]) == list(range(p.start, p.stop))
    scores, rows = index.search(X[:1], 10_000, None)
    assert (rows >= 0).all() and len(set(rows[0].tolist())) == len(X)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ivf_handles_empty_and_tiny_vibes(metric: str) -> None:
    rng = np.random.default_rng(4)
    labels = np.repeat([1, 2, 3], [1, 7, 2000])  # vibe 0 empty, vibes 1 and 2 tiny
    X = to_index_space(rng.normal(0, 1, (len(labels), 9)), metric)
    partitions = partitions_from_sorted_labels(labels, 4)
    index = PartitionedIndex.build(X, partitions, metric, kind=IVF_FLAT)
    assert [lay["list_stop"] - lay["list_start"] for lay in index.spec["lists"]] == [0, 1, 1, 45]
    assert index.search(X[:3], 10, 0)[1].shape == (3, 0)
    assert index.search(X[:3], 10, 1)[1].tolist() == [[0]] * 3
    assert sorted(index.search(X[:1], 10, 2)[1][0].tolist()) == list(range(1, 8))
    scores, rows = index.search(X[:1], 10, None)
    np.testing.assert_array_equal(rows, exact_search(X, X[:1], 10, metric)[1])


def test_recall_counts_ties_as_hits() -> None:
    exact_s = np.array([[3.0, 2.0, 1.0]])
    exact_r = np.array([[0, 1, 2]])
    # row 5 has the same score as the exact 3rd (a duplicate vector): a hit, not a miss
    assert recall_at_k(np.array([[3.0, 2.0, 1.0]]), np.array([[0, 1, 5]]), exact_s, exact_r, 3) == 1
    assert recall_at_k(np.array([[3.0, 2.0, 0.5]]), np.array([[0, 1, 7]]), exact_s, exact_r,
                       3) == pytest.approx(2 / 3)


def test_ivf_save_load_round_trips_the_spec(ivf, tmp_path: Path) -> None:
    index, X = ivf
    written = index.save(tmp_path)
    assert sorted(written) == ["faiss/all.faiss"]  # one copy of the vectors, no sidecar
    partitions = list(index.partitions.values())
    spec = spec_from_manifest({"index": IVF_FLAT, **index.manifest_fields()})
    loaded = PartitionedIndex.load(tmp_path, index.metric, partitions, spec, X.shape[1])
    assert loaded.index_type == IVF_FLAT
    assert loaded.spec == index.spec and loaded.recall_at_10 == index.recall_at_10
    assert loaded.full.nprobe == index.spec["nprobe"]
    for vibe_id in [None, 0, 2]:
        np.testing.assert_array_equal(loaded.search(X[:50], 10, vibe_id)[1],
                                      index.search(X[:50], 10, vibe_id)[1])
    tampered = json.loads(json.dumps(spec))
    tampered["nlist"] += 1
    with pytest.raises(ValueError, match="nlist"):
        PartitionedIndex.load(tmp_path, index.metric, partitions, tampered, X.shape[1])
    other = "euclidean" if index.metric == "cosine" else "cosine"
    with pytest.raises(ValueError, match="metric"):
        PartitionedIndex.load(tmp_path, other, partitions, spec, X.shape[1])
    with pytest.raises(ValueError, match="dims"):
        PartitionedIndex.load(tmp_path, index.metric, partitions, spec, X.shape[1] + 1)


def test_pipeline_uses_ivf_above_the_threshold(tmp_path: Path) -> None:
    out = tmp_path / "ann"
    settings = BuildSettings(out=out, demo_catalogue="synthetic", demo_tracks=12_000,
                             n_clusters=3, n_init=1, evaluate=False, ann_threshold=5_000)
    manifest = build_index(settings).manifest
    build = manifest["build"]
    assert build["index"] == IVF_FLAT  # a string: the API reports it as the index type
    params = build["index_params"]
    assert params["nlist"] == params["lists"][-1]["list_stop"]
    assert [lay["vibe_id"] for lay in params["lists"]] == [0, 1, 2]
    assert build["recall_at_10"]["all"] >= 0.99
    assert min(build["recall_at_10"]["vibes"].values()) >= 0.99
    assert "faiss/index.json" not in manifest["files"]  # the manifest is the one record
    assert "faiss/vibe_0.faiss" not in manifest["files"]

    art = load_artifact(out)
    assert art.index.index_type == IVF_FLAT
    assert art.index.spec["nprobe"] == params["nprobe"]
    assert [lay["nprobe"] for lay in art.index.spec["lists"]] == \
        [lay["nprobe"] for lay in params["lists"]]
    # fresh queries: >= 99% of the exact top-10 entries are found, across and within vibes
    rng = np.random.default_rng(7)
    rows = rng.choice(art.index.ntotal, 400, replace=False)
    for vibe_id in [None, *range(3)]:
        p = art.index.partitions.get(vibe_id)
        lo, hi = (p.start, p.stop) if p else (0, art.index.ntotal)
        eD, eI = exact_search(art.vectors[lo:hi], art.vectors[rows], 10, art.metric, offset=lo)
        aD, aI = art.index.search(art.vectors[rows], 10, vibe_id)
        assert recall_at_k(aD, aI, eD, eI, 10) >= 0.99


def test_flat_build_keeps_the_flat_layout(tmp_path: Path) -> None:
    out = tmp_path / "flat"
    manifest = build_index(BuildSettings(out=out, demo_catalogue="synthetic", demo_tracks=2_000,
                                         n_clusters=3, n_init=1, evaluate=False)).manifest
    assert manifest["build"]["index"] == FLAT
    assert manifest["build"]["recall_at_10"] is None
    assert {"faiss/all.faiss", "faiss/vibe_0.faiss"} <= set(manifest["files"])
    assert load_artifact(out).index.index_type == FLAT
