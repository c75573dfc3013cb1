"""Genre parsing, the genre x vibe map, and neighbour genre agreement."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibemap.indexer.genre_labels import encode_genres, genre_lists, split_genres
from vibemap.indexer.validation.genre_agreement import _drop_self, neighbour_genre_agreement
from vibemap.indexer.validation.genres import genre_vibe_map


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("['vintage chanson', 'pop']", ["vintage chanson", "pop"]),
        ('["Dance Pop", "pop"]', ["dance pop", "pop"]),
        ("dance pop;pop edm;pop;edm", ["dance pop", "pop edm", "pop", "edm"]),
        ("  Rock ,  Pop , rock ", ["rock", "pop"]),
        ("Hip   Hop", ["hip hop"]),
        ("['children's music', 'folk']", ["children's music", "folk"]),
        ("[]", []),
        ("", []),
        ("  ;  , ", []),
        (None, []),
        (float("nan"), []),
        (np.nan, []),
        (pd.NA, []),
        (["A", " b ", None, "a"], ["a", "b"]),
        (("rock",), ["rock"]),
    ],
)
def test_split_genres(value: object, expected: list[str]) -> None:
    assert split_genres(value) == expected


cells = st.one_of(
    st.text(),
    st.lists(st.text(), max_size=5).map(str),  # python-list strings
    st.lists(st.one_of(st.text(), st.none()), max_size=5),
    st.none(),
    st.floats(allow_nan=True),
    st.integers(),
)


@given(cells)
def test_split_genres_never_raises_and_returns_clean_tokens(value: object) -> None:
    tokens = split_genres(value)
    assert isinstance(tokens, list)
    assert len(tokens) == len(set(tokens))
    for token in tokens:
        assert isinstance(token, str)
        assert token and token == token.strip()
        assert token == token.lower()


def test_genre_lists_of_a_column() -> None:
    assert genre_lists(pd.Series(["pop;rock", None, "['jazz']"])) == [["pop", "rock"], [], ["jazz"]]


def hand_catalogue() -> tuple[list[list[str]], np.ndarray]:
    genres = [
        ["pop", "dance pop"],  # vibe 0
        ["pop"],  # vibe 0
        ["rock"],  # vibe 1
        ["rock", "pop"],  # vibe 1
        ["rock"],  # vibe 1
        [],  # vibe 1, no genre
        ["jazz"],  # vibe 2 (rare genre)
    ]
    labels = np.array([0, 0, 1, 1, 1, 1, 2])
    return genres, labels


def test_contingency_counts_by_hand() -> None:
    genres, labels = hand_catalogue()
    gmap = genre_vibe_map(genres, labels, min_tracks=2, limit=2)
    assert gmap.genres == ("pop", "rock")  # dance pop and jazz have 1 track each
    assert gmap.vibe_ids == (0, 1, 2)
    assert gmap.counts.tolist() == [[2, 1, 0], [0, 3, 0]]
    assert gmap.vibe_genre_tracks.tolist() == [2, 3, 1]
    assert gmap.n_tracks == 7 and gmap.n_tracks_with_genre == 6
    assert gmap.dominant_vibe.tolist() == [0, 1]
    assert gmap.purity.tolist() == pytest.approx([2 / 3, 1.0])
    # lift of pop in vibe 0: P(pop | vibe 0) = 2/2 over P(pop) = 3/6
    assert gmap.lift[0, 0] == pytest.approx(2.0)
    top1 = gmap.top_genres(1)
    assert [g["genre"] for g in top1] == ["rock", "pop"]
    assert top1[0] == {"genre": "rock", "count": 3, "share": 1.0, "lift": pytest.approx(2.0)}
    assert gmap.top_genres(2) == []
    data = gmap.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["per_genre"][1] == {"genre": "rock", "tracks": 3, "dominant_vibe": 1, "purity": 1.0}
    assert data["primary_genre_vs_vibe"]["n_primary_genres"] == 3  # pop, rock, jazz


def test_nmi_and_ari_are_one_when_the_primary_genre_is_the_vibe() -> None:
    genres = [["a", "x"], ["a"], ["b"], ["b", "a"], ["c"], ["c"], []]
    labels = np.array([0, 0, 1, 1, 2, 2, 0])
    gmap = genre_vibe_map(genres, labels, min_tracks=1)
    assert gmap.nmi == pytest.approx(1.0)
    assert gmap.ari == pytest.approx(1.0)


def test_genre_map_rejects_bad_arguments() -> None:
    genres, labels = hand_catalogue()
    with pytest.raises(ValueError, match="shape"):
        genre_vibe_map(genres, labels[:3])
    with pytest.raises(ValueError, match="min_tracks"):
        genre_vibe_map(genres, labels, min_tracks=0)
    with pytest.raises(ValueError, match="token lists"):
        genre_vibe_map(["pop;rock"] * 7, labels)


def genre_blobs(n_blobs: int = 5, n_per: int = 20, seed: int = 0):
    """Tight blobs in distinct directions; every blob has its own genre."""
    rng = np.random.default_rng(seed)
    centres = np.eye(9)[:n_blobs] * 10.0
    blob = np.repeat(np.arange(n_blobs), n_per)
    X = (centres[blob] + rng.normal(0, 0.1, size=(blob.size, 9))).astype(np.float32)
    genres = [[f"genre {b}"] for b in blob]
    return X, genres, blob


def test_agreement_is_one_when_neighbours_share_genres_by_construction() -> None:
    X, genres, _ = genre_blobs()
    # two tracks without genre sit inside blob 0: they are never searched, never a miss
    X = np.vstack([X, X[:2] + 0.01])
    genres = [*genres, [], []]
    result = neighbour_genre_agreement(X, genres, n_neighbours=10, sample_size=50, seed=1)
    assert result.n_candidates == 100 and result.sample_size == 50
    for metric in ("cosine", "euclidean"):
        score = result.score(metric)
        assert score.agreement == pytest.approx(1.0)
        # random partner in the same blob: 19 of 99 candidates
        assert 0.1 < score.baseline < 0.3
        assert score.lift == pytest.approx(1.0 / score.baseline)
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["cosine"]["agreement"] == 1.0


def test_random_neighbours_agree_at_baseline_level() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 9)).astype(np.float32)
    genres = [[f"g{v}"] for v in rng.integers(0, 4, size=600)]  # unrelated to X
    result = neighbour_genre_agreement(X, genres, sample_size=300, seed=0)
    for score in result.scores:
        assert score.baseline == pytest.approx(0.25, abs=0.05)
        assert score.agreement == pytest.approx(0.25, abs=0.05)


def test_drop_self_removes_exactly_one_entry_per_row() -> None:
    ids = np.array([[3, 1, 2], [0, 4, 5], [7, 8, 9]])
    queries = np.array([3, 4, 6])  # the third query was hidden by ties: drop the last hit
    assert _drop_self(ids, queries).tolist() == [[1, 2], [0, 5], [7, 8]]


def test_agreement_rejects_bad_arguments() -> None:
    X, genres, _ = genre_blobs()
    with pytest.raises(ValueError, match="shape"):
        neighbour_genre_agreement(X[:5], genres)
    with pytest.raises(ValueError, match="n_neighbours"):
        neighbour_genre_agreement(X, genres, n_neighbours=0)
    with pytest.raises(ValueError, match="need more than"):
        neighbour_genre_agreement(X[:5], genres[:5], n_neighbours=10)
    with pytest.raises(ValueError, match="finite"):
        neighbour_genre_agreement(np.full_like(X, math.nan), genres)
    with pytest.raises(ValueError, match="unknown metric"):
        neighbour_genre_agreement(X, genres).score("manhattan")


@settings(max_examples=15, deadline=None)
@given(n=st.integers(30, 400), d=st.integers(2, 10), seed=st.integers(0, 10_000))
def test_kdtree_neighbours_are_the_flat_ones(n: int, d: int, seed: int) -> None:
    """The k-d tree route (above the exact budget) finds the flat scan's neighbours, for
    both metrics: continuous random data, so no ties can reorder them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    genres = [[f"g{v}"] for v in rng.integers(0, 5, size=n)]
    genres[0] = []  # a track without genre is never searched
    flat = neighbour_genre_agreement(X, genres, sample_size=50, seed=seed)
    tree = neighbour_genre_agreement(X, genres, sample_size=50, seed=seed, search="kdtree")
    assert tree.scores == flat.scores
    assert "neighbours" not in flat.to_dict()
    assert tree.to_dict()["neighbours"].startswith("k-d tree")
    with pytest.raises(ValueError, match="search"):
        neighbour_genre_agreement(X, genres, search="ivf")


def test_genre_codes_give_the_token_lists_results() -> None:
    """The build passes ``GenreCodes`` (each distinct cell parsed once); the figures are those
    of the per-track token lists."""
    rng = np.random.default_rng(4)
    pool = ["Rock;pop", "['dance pop', 'pop']", "", None, "rap", "pop;rock;rap", "ambient"]
    cells = [pool[i] for i in rng.integers(0, len(pool), 400)]
    lists, codes = genre_lists(cells), encode_genres(cells)
    labels = rng.integers(0, 3, 400)
    assert genre_vibe_map(codes, labels, min_tracks=5).to_dict() == genre_vibe_map(
        lists, labels, min_tracks=5).to_dict()
    X = rng.normal(size=(400, 9)).astype(np.float32)
    assert neighbour_genre_agreement(X, codes, sample_size=80).to_dict() == (
        neighbour_genre_agreement(X, lists, sample_size=80).to_dict())
