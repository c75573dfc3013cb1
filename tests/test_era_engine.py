"""The era column in the recommender (issue 16): exact answers for the index built, with
numpy brute force over vectors rebuilt from the tracks and the manifest as the oracle;
W = 0 answers equal to the nine-feature answers; audio_only equal to a W = 0 build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import build_tiny_artifact
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.era import standardised_years
from vibemap.indexer.features import FEATURES
from vibemap.recommender.engine import Engine
from vibemap.recommender.errors import InvalidQuery
from vibemap.recommender.explain import era_explanation

FAST = settings(max_examples=20, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
N = 300
METRICS = ("cosine", "euclidean")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, float], Engine]:
    """One engine per (metric, W) over the same catalogue (vibes do not depend on W)."""
    out = {}
    for metric in METRICS:
        for w in (0.0, 1.0, 3.0):
            root = tmp_path_factory.mktemp(f"era_{metric}_{w:g}")
            out[metric, w] = Engine(load_artifact(build_tiny_artifact(
                root, n=N, metric=metric, era_weight=w)))
    return out


def oracle_vectors(engine: Engine, weight: float, audio_only: bool = False) -> np.ndarray:
    """The index vectors rebuilt from the tracks and the manifest's era scaler."""
    c = engine.catalogue
    Z = engine.scaler.transform(c.F)
    if weight > 0 and not audio_only:
        era = engine.artifact.manifest["era"]
        Z = np.column_stack([Z, weight * standardised_years(c.years, era["mean"], era["scale"])])
    if engine.metric == "cosine":
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    return Z


def oracle_rank(engine: Engine, V: np.ndarray, q: np.ndarray, allowed: np.ndarray,
                limit: int) -> tuple[list[int], np.ndarray]:
    s = V @ q if engine.metric == "cosine" else -((V - q) ** 2).sum(axis=1)
    s = np.where(allowed, s, -np.inf)
    order = np.lexsort((np.arange(len(s)), -s))[:limit]
    return order.tolist(), s[order]


def assert_same_ranking(got: list[dict], engine: Engine, want_rows: list[int],
                        want_scores: np.ndarray) -> None:
    """Scores equal to the oracle's; rows equal wherever the oracle has no near tie."""
    scores = np.array([r["score"] for r in got])
    np.testing.assert_allclose(scores, want_scores, atol=2e-5)
    rows = [engine.row_of(r["track_id"]) for r in got]
    gaps = np.abs(np.diff(want_scores))
    for i, (a, b) in enumerate(zip(rows, want_rows, strict=True)):
        tied = (i > 0 and gaps[i - 1] < 1e-4) or (i < len(gaps) and gaps[i] < 1e-4)
        assert a == b or tied


def test_manifest_and_vectors_carry_the_era(engines) -> None:
    for metric in METRICS:
        assert engines[metric, 0.0].era is None
        assert engines[metric, 0.0].catalogue.X.shape[1] == len(FEATURES)
        for w in (1.0, 3.0):
            e = engines[metric, w]
            assert e.era is not None and e.era.weight == w
            np.testing.assert_allclose(e.catalogue.X, oracle_vectors(e, w), atol=1e-5)


@FAST
@given(metric=st.sampled_from(METRICS), w=st.sampled_from((0.0, 1.0, 3.0)),
       seed=st.integers(0, N - 1), limit=st.integers(1, 30), audio_only=st.booleans())
def test_similar_is_exact_for_the_index_built(engines, metric, w, seed, limit,
                                              audio_only) -> None:
    e = engines[metric, w]
    seed_id = e.catalogue.ids[seed]
    got = e.similar(seed_id, limit=limit, scope="any", audio_only=audio_only)
    V = oracle_vectors(e, w, audio_only)
    allowed = np.ones(N, dtype=bool)
    allowed[seed] = False
    rows, scores = oracle_rank(e, V, V[seed], allowed, limit)
    assert_same_ranking(got["results"], e, rows, scores)
    assert ("era" in got) == (w > 0)
    if w > 0:
        assert got["era"]["audio_only"] == audio_only
        assert all("era" in r["explanation"] for r in got["results"])


@FAST
@given(metric=st.sampled_from(METRICS), seed=st.integers(0, N - 1),
       limit=st.integers(1, 30), negative=st.integers(0, N - 1),
       diversity=st.sampled_from((0.0, 0.4)))
def test_w0_answers_equal_audio_only_answers_of_an_era_build(engines, metric, seed, limit,
                                                             negative, diversity) -> None:
    """The W = 0 build, and audio_only on a W > 0 build of the same catalogue, answer with
    the same tracks and scores: both are the nine-feature answers."""
    ids = engines[metric, 0.0].catalogue.ids
    negatives = [ids[negative]] if negative != seed else []
    kwargs = {"limit": limit, "diversity": diversity, "target_energy": 0.6}
    plain = engines[metric, 0.0].recommend([ids[seed]], negatives, **kwargs)
    for w in (1.0, 3.0):
        audio = engines[metric, w].recommend([ids[seed]], negatives, audio_only=True,
                                             **kwargs)
        assert_same_ranking(audio["results"], engines[metric, w],
                            [engines[metric, w].row_of(r["track_id"]) for r in plain["results"]],
                            np.array([r["score"] for r in plain["results"]]))
    assert "era" not in plain and "era" not in plain["results"][0]["explanation"]


@FAST
@given(metric=st.sampled_from(METRICS), w=st.sampled_from((1.0, 3.0)),
       seeds=st.lists(st.integers(0, N - 1), min_size=1, max_size=3, unique=True),
       target_year=st.one_of(st.none(), st.integers(1950, 2020)),
       years=st.tuples(st.integers(1950, 2020), st.integers(0, 40)),
       limit=st.integers(1, 20))
def test_recommend_with_year_target_and_filters_is_exact(engines, metric, w, seeds,
                                                         target_year, years, limit) -> None:
    """Seeds plus one target vector (target_energy); target_year sets every positive's
    era (else the target vector's era is the seeds' mean known year); year filters exact:
    the oracle rebuilds it all from the tracks and the manifest."""
    e = engines[metric, w]
    c = e.catalogue
    lo, hi = years[0], years[0] + years[1]
    got = e.recommend([c.ids[s] for s in seeds], target_energy=0.3, target_year=target_year,
                      min_year=lo, max_year=hi, limit=limit)
    V = oracle_vectors(e, w)
    base = c.F[seeds].mean(axis=0)
    base[FEATURES.index("energy")] = 0.3
    known = c.years[seeds][np.isfinite(c.years[seeds])]
    year = target_year if target_year is not None else (known.mean() if known.size else np.nan)
    era = e.artifact.manifest["era"]
    t = np.append(e.scaler.transform(base[None, :])[0],
                  w * standardised_years(np.array([year]), era["mean"], era["scale"])[0])
    if metric == "cosine":
        t = t / np.linalg.norm(t)
    positives = V[seeds]
    if target_year is not None:
        S = np.column_stack([e.scaler.transform(c.F[seeds]), np.full(len(seeds), w * (
            target_year - era["mean"]) / era["scale"])])
        positives = S / np.linalg.norm(S, axis=1, keepdims=True) if metric == "cosine" else S
    q = np.mean([*positives, t], axis=0)
    if metric == "cosine":
        q = q / np.linalg.norm(q)
    allowed = (c.years >= lo) & (c.years <= hi)
    allowed[seeds] = False
    rows, scores = oracle_rank(e, V, q, allowed, limit)
    keep = np.isfinite(scores)
    assert_same_ranking(got["results"], e, [r for r, k in zip(rows, keep, strict=True) if k],
                        scores[keep])
    assert all(lo <= r["release_year"] <= hi for r in got["results"])
    if target_year is not None and got["results"]:
        assert got["era"]["query_year"] == target_year
        assert all(r["explanation"]["era"]["query"] == target_year for r in got["results"])


def test_year_target_pulls_results_towards_that_year(engines) -> None:
    e = engines["cosine", 3.0]
    c = e.catalogue
    seed = int(np.flatnonzero(np.isfinite(c.years))[0])
    early = e.recommend([c.ids[seed]], target_year=1950, limit=10)["results"]
    late = e.recommend([c.ids[seed]], target_year=2020, limit=10)["results"]
    assert np.mean([r["release_year"] for r in early]) < \
        np.mean([r["release_year"] for r in late])


def test_bad_year_parameters_are_refused(engines) -> None:
    e = engines["cosine", 1.0]
    seed = e.catalogue.ids[0]
    with pytest.raises(InvalidQuery, match="min_year"):
        e.recommend([seed], min_year=2000, max_year=1990)
    with pytest.raises(InvalidQuery, match="target_year"):
        e.recommend([seed], target_year=float("nan"))
    with pytest.raises(InvalidQuery, match="seed track or one target"):
        e.recommend(target_year=1975)  # a year alone has no sound to rank by
    with pytest.raises(InvalidQuery, match="audio_only=true ranks without it"):
        e.recommend([seed], target_year=1975, audio_only=True)
    with pytest.raises(InvalidQuery, match="era column"):
        engines["cosine", 0.0].recommend([seed], target_year=1975)
    with pytest.raises(InvalidQuery, match="audio_only"):
        e.similar(seed, audio_only="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(("track", "query", "text", "diff"), [
    (1977, 1975, "same era: 1975 vs 1977", 2),
    (1987, 1975, "12 years later (1975 vs 1987)", 12),
    (1960, 1975.4, "15 years earlier (1975 vs 1960)", -15),
    (float("nan"), 1975, "release year unknown", None),
    (1980, None, "released 1980", None),
])
def test_era_explanation_text(track, query, text, diff) -> None:
    got = era_explanation(track, query)
    assert got["text"] == text and got["difference"] == diff


def test_api_passes_the_era_parameters(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from vibemap.recommender.api.app import create_app
    from vibemap.recommender.settings import ServiceSettings

    path = build_tiny_artifact(tmp_path, n=120, n_clusters=2, era_weight=1.0)
    with TestClient(create_app(ServiceSettings(index_dir=path))) as client:
        seed = client.get("/v1/tracks", params={"limit": 1}).json()["results"][0]["track_id"]
        got = client.get("/v1/recommendations", params={
            "seed_tracks": seed, "target_year": 1970, "min_year": 1960, "max_year": 2000,
            "audio_only": "false", "limit": 5})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["era"]["audio_only"] is False and body["era"]["weight"] == 1.0
        assert all(1960 <= r["release_year"] <= 2000 for r in body["results"])
        posted = client.post("/v1/recommendations", json={
            "seed_tracks": [seed], "target_year": 1970, "min_year": 1960, "max_year": 2000,
            "limit": 5}).json()
        assert posted == body
        similar = client.get(f"/v1/tracks/{seed}/similar", params={"audio_only": "true"})
        assert similar.status_code == 200 and similar.json()["era"]["audio_only"] is True
        batch = client.post("/v1/recommendations/batch", json={"requests": [
            {"seed_tracks": [seed], "audio_only": True, "limit": 2}]}).json()
        assert batch["results"][0]["result"]["era"]["audio_only"] is True
