"""The recommender engine: invariants over random small catalogues, with numpy brute
force as the oracle, plus known-answer tests for the query rule and the text search.

One contract, every index (as implicit runs one suite over all its models): each test
runs over a flat index and an IVF-Flat one. The IVF index probes every inverted list
of every scope, so it is exhaustive and brute force stays the oracle, while the IVF
code path (list layout per vibe, restricted coarse search, ids) is the one exercised;
an IVF index with its tuned (approximate) probe counts has its own test at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from factories import build_tiny_artifact
from vibemap.indexer.artifact import Artifact
from vibemap.indexer.features import FEATURES
from vibemap.indexer.genre_labels import encode_genres
from vibemap.indexer.personalities import fit_scaler
from vibemap.indexer.vector_index import (
    FLAT,
    IVF_FLAT,
    PartitionedIndex,
    partitions_from_sorted_labels,
    to_index_space,
)
from vibemap.indexer.vibe_facts import vibe_facts
from vibemap.recommender.engine import MAX_LIMIT, Engine
from vibemap.recommender.errors import InvalidQuery, TrackNotFound, VibeNotFound
from vibemap.recommender.flat_scan import FlatScan

GENRES = ("dance pop", "indie folk", "hard rock", "rap", "ambient")
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


INDEX_KINDS = ("flat", "ivf")


def reprobed(index: PartitionedIndex, every_list: bool) -> PartitionedIndex:
    """The same IVF index with each scope probing all of its lists (exhaustive, so exact)
    or only one (as approximate as it gets)."""
    spec = copy.deepcopy(index.spec)
    spec["nprobe"] = spec["nlist"] if every_list else 1
    for lay in spec["lists"]:
        n_lists = lay["list_stop"] - lay["list_start"]
        lay["nprobe"] = n_lists if every_list else min(1, n_lists)
    return PartitionedIndex(index.metric, list(index.partitions.values()), index.full, {}, spec)


def build_index(X: np.ndarray, partitions: list, metric: str, kind: str) -> PartitionedIndex:
    """kind : "flat", "ivf" (IVF-Flat probing every list) or "ivf_one_probe"."""
    if kind == "flat":
        return PartitionedIndex.build(X, partitions, metric, kind=FLAT)
    index = PartitionedIndex.build(X, partitions, metric, kind=IVF_FLAT)
    return reprobed(index, every_list=kind == "ivf")


def memory_artifact(seed: int = 0, n: int = 120, n_vibes: int = 3, metric: str = "cosine",
                    features: tuple[str, ...] = FEATURES, names: list[str] | None = None,
                    artists: list[str] | None = None, popularity: list[float] | None = None,
                    n_artists: int | None = None, kind: str = "flat") -> Artifact:
    """A complete in-memory artifact (no K-Means, no disk): random features in valid
    ranges, random sorted vibe labels, a real PartitionedIndex of ``kind``."""
    rng = np.random.default_rng(seed)
    raw = {f: rng.uniform(0.0, 1.0, n) for f in FEATURES}
    raw["loudness"] = rng.uniform(-40.0, 0.0, n)
    raw["tempo"] = rng.uniform(60.0, 200.0, n)
    F = np.column_stack([raw[f] for f in features])
    labels = np.sort(rng.integers(0, n_vibes, n)).astype(np.int32)
    scaler = fit_scaler(F)
    X = to_index_space(scaler.transform(F), metric)
    partitions = partitions_from_sorted_labels(labels, n_vibes)
    index = build_index(X, partitions, metric, kind)
    n_artists = n_artists or max(2, n // 6)
    artist_of = rng.integers(0, n_artists, n)
    pop = rng.integers(0, 100, n).astype(float)
    pop[rng.random(n) < 0.1] = np.nan
    vibe_names = [f"Vibe {v}" for v in range(n_vibes)]
    tracks = pd.DataFrame({
        "row": np.arange(n),
        "track_id": [f"t{i:04d}" for i in range(n)],
        "name": names or [f"Song {i}" for i in range(n)],
        "artist": artists or [f"Artist {a}" for a in artist_of],
        "genres": [f"['{GENRES[a % 5]}', '{GENRES[(a + 1) % 5]}']" if a % 3 else GENRES[a % 5]
                   for a in artist_of],
        "popularity": popularity if popularity is not None else pop,
        "duration_ms": rng.integers(90_000, 400_000, n).astype(float),
        "release_year": pd.array(rng.integers(1960, 2024, n), dtype="Int64"),
        **{f: F[:, j] for j, f in enumerate(features)},
        "source_row": np.arange(n),
        "vibe_id": labels,
        "vibe_name": np.asarray(vibe_names, dtype=object)[labels],
    })
    sizes = np.bincount(labels, minlength=n_vibes)
    vibes = []
    for v in range(n_vibes):
        cz = scaler.transform(F[labels == v]).mean(axis=0) if sizes[v] else np.zeros(len(features))
        vibes.append({"vibe_id": v, "name": vibe_names[v], "size": int(sizes[v]),
                      "share": float(sizes[v] / n), "centroid_z": cz.tolist(),
                      "centroid": dict(zip(features, scaler.inverse_transform(cz[None])[0].tolist(),
                                           strict=True)),
                      "signature": ""})
    manifest = {"name": "memory", "features": list(features), "build": {"metric": metric},
                "rows": {"kept": n}, "source": {"synthetic": True, "label": "test catalogue"},
                "partitions": [{"vibe_id": p.vibe_id, "start": p.start, "stop": p.stop}
                               for p in partitions]}
    genres = encode_genres(tracks["genres"])
    ranges = {p.vibe_id: (p.start, p.stop) for p in partitions}
    return Artifact(path=Path("memory"), manifest=manifest, features=tuple(features),
                    scaler=scaler, vibes=vibes,
                    table=pa.Table.from_pandas(tracks, preserve_index=False), vectors=X,
                    index=index,
                    metrics={"evaluated": False}, analysis={}, genres=genres,
                    vibe_facts=vibe_facts(features, F, scaler, vibes, ranges, genres))


def brute_scores(engine: Engine, q: np.ndarray) -> np.ndarray:
    X = engine.catalogue.X.astype(np.float64)
    if engine.metric == "cosine":
        return X @ q
    return -((X - q) ** 2).sum(axis=1)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def ids(result: dict) -> list[str]:
    return [r["track_id"] for r in result["results"]]


def scores(result: dict) -> list[float]:
    return [r["score"] for r in result["results"]]


def catalogues(kind: str) -> st.SearchStrategy[Engine]:
    return st.builds(
        lambda seed, n, k, metric: Engine(memory_artifact(seed, n, k, metric, kind=kind)),
        seed=st.integers(0, 2**31 - 1), n=st.integers(8, 160), k=st.integers(1, 4),
        metric=st.sampled_from(["cosine", "euclidean"]))


@pytest.fixture(scope="module", autouse=True)
def one_search_thread() -> Iterator[None]:
    """Search as the service does, on one thread (idle OpenMP workers spinning on a busy
    machine make every IVF build's recall tuning ten times slower)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module", params=INDEX_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def engine(kind: str) -> Engine:
    return Engine(memory_artifact(seed=7, n=200, n_vibes=3, kind=kind))


# ------------------------------------------------------------------ similar
@FAST
@given(data=st.data())
def test_similar_invariants(kind: str, data: st.DataObject) -> None:
    e = data.draw(catalogues(kind))
    row = data.draw(st.integers(0, e.n_tracks - 1))
    limit = data.draw(st.integers(1, 30))
    seed_id = e.catalogue.ids[row]
    vibe = e.catalogue.vibe_of[row]
    result = e.similar(seed_id, limit=limit)
    got = ids(result)
    s = scores(result)
    assert s == sorted(s, reverse=True)
    assert len(set(got)) == len(got)
    assert seed_id not in got
    assert all(r["vibe_id"] == vibe for r in result["results"])
    same_vibe = sum(1 for v in e.catalogue.vibe_of if v == vibe)
    assert len(got) == min(limit, same_vibe - 1)
    assert [r["rank"] for r in result["results"]] == list(range(1, len(got) + 1))
    # exact: the scores equal numpy brute force over the seed's vibe
    sims = brute_scores(e, e.catalogue.X[row].astype(np.float64))
    allowed = [i for i in range(e.n_tracks) if e.catalogue.vibe_of[i] == vibe and i != row]
    expected = np.sort(sims[allowed])[::-1][:limit]
    np.testing.assert_allclose(s, expected, atol=1e-4)


@FAST
@given(data=st.data())
def test_similar_scope_any_and_named_vibe(kind: str, data: st.DataObject) -> None:
    e = data.draw(catalogues(kind))
    row = data.draw(st.integers(0, e.n_tracks - 1))
    vibe = data.draw(st.sampled_from([v["vibe_id"] for v in e.vibes()]))
    by_id = e.similar(e.catalogue.ids[row], limit=10, scope=vibe)
    by_name = e.similar(e.catalogue.ids[row], limit=10, scope=f"  VIBE {vibe} ")
    assert ids(by_id) == ids(by_name)
    assert all(r["vibe_id"] == vibe for r in by_id["results"])
    anywhere = e.similar(e.catalogue.ids[row], limit=10, scope="any")
    sims = brute_scores(e, e.catalogue.X[row].astype(np.float64))
    expected = np.sort(np.delete(sims, row))[::-1][:10]
    np.testing.assert_allclose(scores(anywhere), expected, atol=1e-4)
    assert anywhere["scope"] == {"vibe_id": None, "vibe_name": None}


@FAST
@given(data=st.data())
def test_max_per_artist_holds_and_stays_exact(kind: str, data: st.DataObject) -> None:
    e = data.draw(catalogues(kind))
    row = data.draw(st.integers(0, e.n_tracks - 1))
    cap = data.draw(st.integers(1, 3))
    result = e.similar(e.catalogue.ids[row], limit=20, scope="any", max_per_artist=cap)
    counts: dict[str, int] = {}
    for r in result["results"]:
        counts[r["artist"]] = counts.get(r["artist"], 0) + 1
    assert max(counts.values(), default=0) <= cap
    # greedy over the full ranking: as many as the catalogue allows
    others = [i for i in range(e.n_tracks) if i != row]
    per_artist: dict[str, int] = {}
    for i in others:
        artist = e.summary(i)["artist"]
        per_artist[artist] = per_artist.get(artist, 0) + 1
    possible = sum(min(c, cap) for c in per_artist.values())
    assert len(result["results"]) == min(20, possible)


# ---------------------------------------------------------------- recommend
@FAST
@given(data=st.data())
def test_filters_are_exact(kind: str, data: st.DataObject) -> None:
    e = data.draw(catalogues(kind))
    row = data.draw(st.integers(0, e.n_tracks - 1))
    lo = data.draw(st.floats(0.0, 0.6))
    hi = lo + data.draw(st.floats(0.1, 0.5))
    min_pop = data.draw(st.sampled_from([None, 20, 50]))
    genre = data.draw(st.sampled_from([None, "Dance Pop", "rap,ambient"]))
    limit = data.draw(st.integers(1, 40))
    result = e.recommend([e.catalogue.ids[row]], min_energy=lo, max_energy=hi,
                         min_popularity=min_pop, genres=genre, limit=limit)
    j = e.features.index("energy")
    tokens = set() if genre is None else {g.strip().lower() for g in genre.split(",")}
    passing = []
    for i in range(e.n_tracks):
        if i == row or not lo <= e.catalogue.F[i, j] <= hi:
            continue
        if min_pop is not None and not e.catalogue.popularity[i] >= min_pop:
            continue
        if tokens and not tokens & {g.lower() for g in e.summary(i)["genres"]}:
            continue
        passing.append(i)
    for r in result["results"]:
        t = e.track(r["track_id"])
        assert lo <= t["features"]["energy"] <= hi
        if min_pop is not None:
            assert r["popularity"] is not None and r["popularity"] >= min_pop
        if tokens:
            assert tokens & {g.lower() for g in r["genres"]}
    assert len(result["results"]) == min(limit, len(passing))
    sims = brute_scores(e, e.catalogue.X[row].astype(np.float64))
    expected = np.sort(sims[passing])[::-1][:limit]
    np.testing.assert_allclose(scores(result), expected, atol=1e-4)


@FAST
@given(data=st.data())
def test_paging_concatenates(kind: str, data: st.DataObject) -> None:
    e = data.draw(catalogues(kind))
    row = data.draw(st.integers(0, e.n_tracks - 1))
    a = data.draw(st.integers(1, 15))
    b = data.draw(st.integers(1, 15))
    cap = data.draw(st.sampled_from([None, 1, 2]))
    kwargs = {"max_per_artist": cap, "vibe": "any"}
    first = e.recommend([e.catalogue.ids[row]], limit=a, **kwargs)
    second = e.recommend([e.catalogue.ids[row]], limit=b, offset=a, **kwargs)
    both = e.recommend([e.catalogue.ids[row]], limit=a + b, **kwargs)
    assert ids(first) + ids(second) == ids(both)
    assert [r["rank"] for r in second["results"]] == list(range(a + 1, a + 1 + len(ids(second))))
    page = (e.search_tracks("song", limit=a)["results"]
            + e.search_tracks("song", limit=b, offset=a)["results"])
    assert page == e.search_tracks("song", limit=a + b)["results"]


def test_average_vector_rule(engine: Engine) -> None:
    e = engine
    a, b, c = 3, 50, 120
    result = e.recommend([e.catalogue.ids[a], e.catalogue.ids[b]], [e.catalogue.ids[c]], limit=25)
    X = e.catalogue.X.astype(np.float64)
    q = unit(2 * (X[a] + X[b]) / 2 - X[c])
    sims = brute_scores(e, q)
    sims[[a, b, c]] = -np.inf
    np.testing.assert_allclose(scores(result), np.sort(sims)[::-1][:25], atol=1e-4)
    assert not {e.catalogue.ids[a], e.catalogue.ids[b], e.catalogue.ids[c]} & set(ids(result))
    # without negatives: the mean of the positives
    plain = e.recommend([e.catalogue.ids[a], e.catalogue.ids[b]], limit=10)
    sims = brute_scores(e, unit((X[a] + X[b]) / 2))
    sims[[a, b]] = -np.inf
    np.testing.assert_allclose(scores(plain), np.sort(sims)[::-1][:10], atol=1e-4)


def test_targets_are_one_extra_positive(engine: Engine) -> None:
    e = engine
    a, b = 10, 90
    result = e.recommend([e.catalogue.ids[a], e.catalogue.ids[b]], target_energy=0.95,
                         target_tempo=180.0, limit=15)
    X = e.catalogue.X.astype(np.float64)
    base = e.catalogue.F[[a, b]].mean(axis=0)  # unspecified targets: the seeds' mean
    base[e.features.index("energy")] = 0.95
    base[e.features.index("tempo")] = 180.0
    t = to_index_space(e.scaler.transform(base[None]), "cosine")[0].astype(np.float64)
    q = unit((X[a] + X[b] + t) / 3)
    sims = brute_scores(e, q)
    sims[[a, b]] = -np.inf
    np.testing.assert_allclose(scores(result), np.sort(sims)[::-1][:15], atol=1e-4)
    assert result["targets"] == {"energy": 0.95, "tempo": 180.0}


def test_target_only_query_starts_from_the_catalogue_mean(engine: Engine) -> None:
    e = engine
    result = e.recommend(target_acousticness=0.99, target_energy=0.05, limit=12)
    base = np.asarray(e.scaler.mean, dtype=np.float64).copy()
    base[e.features.index("acousticness")] = 0.99
    base[e.features.index("energy")] = 0.05
    q = to_index_space(e.scaler.transform(base[None]), "cosine")[0].astype(np.float64)
    np.testing.assert_allclose(scores(result), np.sort(brute_scores(e, unit(q)))[::-1][:12],
                               atol=1e-4)
    top = result["results"][0]["explanation"]
    assert {c["feature"] for c in top["closest"]} | {c["feature"] for c in top["furthest"]} \
        <= set(e.features)
    query_values = {c["feature"]: c["query"] for c in top["closest"] + top["furthest"]}
    if "acousticness" in query_values:
        assert query_values["acousticness"] == pytest.approx(0.99)


def test_target_at_the_mean_is_refused_under_cosine(engine: Engine) -> None:
    mean = dict(zip(engine.features, engine.scaler.mean, strict=True))
    with pytest.raises(InvalidQuery, match="zero"):
        engine.recommend(**{f"target_{f}": v for f, v in mean.items()})


def test_euclidean_query_is_not_normalised(kind: str) -> None:
    e = Engine(memory_artifact(seed=3, n=150, n_vibes=2, metric="euclidean", kind=kind))
    a, c = 5, 77
    result = e.recommend([e.catalogue.ids[a]], [e.catalogue.ids[c]], limit=10)
    X = e.catalogue.X.astype(np.float64)
    sims = brute_scores(e, 2 * X[a] - X[c])
    sims[[a, c]] = -np.inf
    np.testing.assert_allclose(scores(result), np.sort(sims)[::-1][:10], rtol=1e-4, atol=1e-3)


def test_explanations_compare_with_the_seed(engine: Engine) -> None:
    e = engine
    result = e.similar(e.catalogue.ids[0], limit=3)
    seed = e.track(e.catalogue.ids[0])["features"]
    for r in result["results"]:
        track = e.track(r["track_id"])["features"]
        expl = r["explanation"]
        assert len(expl["closest"]) == 3 and len(expl["furthest"]) == 3
        for item in expl["closest"] + expl["furthest"]:
            assert item["query"] == pytest.approx(seed[item["feature"]], abs=1e-6)
            assert item["track"] == pytest.approx(track[item["feature"]], abs=1e-6)
        dz = [abs(c["track"] - c["query"]) / e.catalogue.scale[e.features.index(c["feature"])]
              for c in expl["closest"] + expl["furthest"]]
        assert max(dz[:3]) <= min(dz[3:]) + 1e-9


def test_feature_order_comes_from_the_manifest(kind: str) -> None:
    order = tuple(reversed(FEATURES))
    plain = Engine(memory_artifact(seed=11, n=100, n_vibes=2, kind=kind))
    permuted = Engine(memory_artifact(seed=11, n=100, n_vibes=2, features=order, kind=kind))
    assert permuted.features == order
    a = plain.recommend(["t0005"], target_tempo=150.0, max_loudness=-5.0, limit=10)
    b = permuted.recommend(["t0005"], target_tempo=150.0, max_loudness=-5.0, limit=10)
    assert ids(a) == ids(b)
    np.testing.assert_allclose(scores(a), scores(b), atol=1e-5)
    assert plain.track("t0005")["features"] == permuted.track("t0005")["features"]


def test_diversity_spreads_results_and_keeps_the_rules(engine: Engine) -> None:
    e = engine
    seed = e.catalogue.ids[4]
    plain = e.recommend([seed], limit=10)
    assert ids(e.recommend([seed], limit=10, diversity=0.0)) == ids(plain)
    diverse = e.recommend([seed], limit=10, diversity=0.7, max_per_artist=1)
    got = ids(diverse)
    assert len(got) == 10 and len(set(got)) == 10 and seed not in got
    assert len({r["artist"] for r in diverse["results"]}) == 10

    def spread(result: dict) -> float:
        rows = [e.row_of(t) for t in ids(result)]
        V = e.catalogue.X[rows].astype(np.float64)
        S = V @ V.T
        return float(S[np.triu_indices(len(rows), 1)].mean())

    assert spread(diverse) < spread(plain)
    pages = ids(e.recommend([seed], limit=4, diversity=0.5)) + \
        ids(e.recommend([seed], limit=6, offset=4, diversity=0.5))
    assert pages == ids(e.recommend([seed], limit=10, diversity=0.5))


def test_exclusions_and_scope_same(engine: Engine) -> None:
    e = engine
    seed = e.catalogue.ids[0]
    top = e.recommend([seed], limit=5)["results"]
    banned = top[0]["artist"]
    result = e.recommend([seed], limit=30, exclude_artists=[banned.upper()])
    assert banned not in {r["artist"] for r in result["results"]}
    same = e.recommend([seed], vibe="same", limit=30)
    assert {r["vibe_id"] for r in same["results"]} == {e.catalogue.vibe_of[0]}
    other = next(i for i in range(e.n_tracks) if e.catalogue.vibe_of[i] != e.catalogue.vibe_of[0])
    with pytest.raises(InvalidQuery, match="ambiguous"):
        e.recommend([seed, e.catalogue.ids[other]], vibe="same")
    with pytest.raises(InvalidQuery, match="seed"):
        e.recommend(target_energy=0.5, vibe="same")


@pytest.mark.parametrize("kwargs, error", [
    ({"seed_tracks": ["nope"]}, TrackNotFound),
    ({"seed_tracks": ["t0001"], "negative_tracks": ["nope"]}, TrackNotFound),
    ({"seed_tracks": ["t0001"], "vibe": "no such vibe"}, VibeNotFound),
    ({"seed_tracks": ["t0001"], "vibe": 17}, VibeNotFound),
    ({"seed_tracks": [f"t{i:04d}" for i in range(6)]}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "negative_tracks": [f"t{i:04d}" for i in range(2, 8)]},
     InvalidQuery),
    ({"seed_tracks": ["t0001"], "negative_tracks": ["t0001"]}, InvalidQuery),
    ({}, InvalidQuery),
    ({"negative_tracks": ["t0001"]}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "limit": 0}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "limit": MAX_LIMIT + 1}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "offset": -1}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "target_loudness": float("nan")}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "target_energy": float("inf")}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "target_energy": "loud"}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "target_energy": 1e300}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "target_colour": 0.5}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "mood": 0.5}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "min_energy": 0.8, "max_energy": 0.2}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "min_popularity": 80, "max_popularity": 20}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "diversity": 1.5}, InvalidQuery),
    ({"seed_tracks": ["t0001"], "max_per_artist": 0}, InvalidQuery),
])
def test_recommend_errors(engine: Engine, kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        engine.recommend(**kwargs)


def test_similar_errors(engine: Engine) -> None:
    with pytest.raises(TrackNotFound):
        engine.similar("nope")
    with pytest.raises(VibeNotFound):
        engine.similar("t0001", scope="nowhere")
    with pytest.raises(InvalidQuery):
        engine.similar("t0001", limit=101)


def test_filters_that_match_nothing_return_nothing(engine: Engine) -> None:
    assert engine.recommend(["t0001"], genres="polka")["results"] == []
    assert engine.recommend(["t0001"], min_energy=2.0)["results"] == []


# ------------------------------------------------------------------- search
@pytest.fixture(scope="module")
def search_engine(kind: str) -> Engine:
    names = ["Cafe", "Café del Mar", "Cafeteria Blues", "Le Café", "Other", "CAFÉ",
             "Naïve", "Song"]
    artists = ["A", "B", "C", "D", "Beyoncé", "E", "F", "Cafe Tacvba"]
    popularity = [10.0, 90.0, 40.0, 99.0, 50.0, 5.0, 60.0, np.nan]
    return Engine(memory_artifact(seed=1, n=8, n_vibes=1, names=names, artists=artists,
                                  popularity=popularity, kind=kind))


def test_search_ranks_exact_then_prefix_then_substring(search_engine: Engine) -> None:
    got = [r["name"] for r in search_engine.search_tracks("cafe")["results"]]
    # exact ("Cafe", "CAFÉ") by popularity; prefix ("Café del Mar" 90, "Cafeteria Blues"
    # 40, "Song" via artist "Cafe Tacvba", popularity unknown); substring ("Le Café")
    assert got == ["Cafe", "CAFÉ", "Café del Mar", "Cafeteria Blues", "Song", "Le Café"]
    assert search_engine.search_tracks("cafe")["total"] == 6


def test_search_is_accent_and_case_insensitive(search_engine: Engine) -> None:
    assert [r["artist"] for r in search_engine.search_tracks("BEYONCE")["results"]] == ["Beyoncé"]
    assert [r["name"] for r in search_engine.search_tracks("naive")["results"]] == ["Naïve"]
    assert [r["name"] for r in search_engine.search_tracks("NAÏVE")["results"]] == ["Naïve"]
    assert search_engine.search_tracks("zzz")["results"] == []


def test_search_without_query_lists_by_popularity_and_pages(search_engine: Engine) -> None:
    everything = [r["name"] for r in search_engine.search_tracks(limit=100)["results"]]
    assert everything[:3] == ["Le Café", "Café del Mar", "Naïve"] and everything[-1] == "Song"
    pages = [r["name"] for o in range(0, 8, 3)
             for r in search_engine.search_tracks(None, limit=3, offset=o)["results"]]
    assert pages == everything
    assert search_engine.search_tracks("cafe", offset=50)["results"] == []


def test_search_filters(engine: Engine) -> None:
    result = engine.search_tracks("song", vibe=1, genre="Rap", year_min=1990, limit=100)
    assert result["total"] == len(result["results"]) > 0
    for r in result["results"]:
        assert r["vibe_id"] == 1 and "rap" in {g.lower() for g in r["genres"]}
        assert r["release_year"] >= 1990
    with pytest.raises(VibeNotFound):
        engine.search_tracks("song", vibe="nowhere")


# ------------------------------------------------------------ real artifact
def test_engine_over_a_built_artifact(tmp_path: Path, kind: str) -> None:
    # ann_threshold=0: IVF-Flat whatever the size, with the probe counts the build tuned
    threshold = {"flat": None, "ivf": 0}[kind]
    e = Engine.load(build_tiny_artifact(tmp_path, n=150, n_clusters=3, ann_threshold=threshold))
    seed = e.catalogue.ids[0]
    result = e.similar(seed, limit=5)
    assert len(result["results"]) == 5
    assert {r["vibe_id"] for r in result["results"]} == {result["seed"]["vibe_id"]}
    assert result["seed"]["genres"] and result["seed"]["popularity"] is not None
    assert [v["vibe_id"] for v in e.vibes()] == [0, 1, 2]
    assert e.vibe(e.vibes()[1]["name"].lower())["vibe_id"] == 1
    assert e.vibe(e.vibes()[2]["slug"])["vibe_id"] == 2
    summary = e.artifact_summary()
    assert summary["rows"] == 150 and summary["synthetic"] is False
    assert summary["features"] == list(FEATURES)
    assert summary["index"] == {"flat": FLAT, "ivf": IVF_FLAT}[kind]


# ------------------------------------------------- IVF probing too few lists
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_approximate_ivf_ranks_what_the_index_finds(metric: str) -> None:
    """An IVF index probing one list is approximate: unfiltered rankings are the index's
    own answer (less the excluded rows, scored exactly), filtered ones stay exact."""
    e = Engine(memory_artifact(seed=5, n=600, n_vibes=2, metric=metric, kind="ivf_one_probe"))
    c, index = e.catalogue, e.artifact.index
    assert index.spec["nprobe"] == 1 < index.spec["nlist"]
    for row in range(0, c.n_rows, 41):
        exact = brute_scores(e, c.X[row].astype(np.float64))
        for scope, vibe_id in (("any", None), ("same", int(c.vibe_of[row]))):
            got = e.similar(c.ids[row], limit=10, scope=scope)
            D, I = index.search(c.X[row][None], 11, vibe_id)
            order = np.lexsort((I[0], -D[0]))
            expected = [int(r) for r in I[0][order] if r != row][:10]
            assert [c.row_of(t) for t in ids(got)] == expected
            np.testing.assert_allclose(scores(got), exact[expected], atol=1e-4)
        # a filter every row passes: the ranking scores every row, so it is exact
        everything = e.recommend([c.ids[row]], min_energy=0.0, limit=10)
        np.testing.assert_allclose(scores(everything), np.sort(np.delete(exact, row))[::-1][:10],
                                   atol=1e-4)


# ------------------------------------------------- the flat scan, through the engine
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_flat_scan_answers_as_faiss_does(metric: str) -> None:
    """With the transposed scan on for every scope (it only starts at thousands of rows in
    the service), similar and recommend give the answers of FAISS's own search."""
    artifact = memory_artifact(seed=11, n=1500, n_vibes=3, metric=metric, n_artists=40)
    plain = Engine(artifact)
    plain._index = artifact.index  # FAISS alone
    scanned = Engine(artifact)
    scanned._index = FlatScan(artifact.index, scanned.catalogue.X, min_rows=0, group=4)
    c = plain.catalogue
    for row in range(0, c.n_rows, 97):
        t = c.ids[row]
        for kwargs in ({}, {"scope": "any", "limit": 25}, {"max_per_artist": 1, "offset": 3},
                       {"dedupe_versions": False, "limit": 40}):
            assert scanned.similar(t, **kwargs) == plain.similar(t, **kwargs)
        pair = [t, c.ids[(row + 1) % c.n_rows]]
        assert scanned.recommend(pair, limit=20) == plain.recommend(pair, limit=20)
        assert scanned.recommend(pair, diversity=0.5) == plain.recommend(pair, diversity=0.5)
