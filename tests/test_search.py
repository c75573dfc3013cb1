"""Text search for what a person means: exact > prefix > every word (title and artist
together) > substring, popularity within a class, versions of one song kept together with
the most popular first; and the real demo's well-known songs found first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine import memory_artifact

from vibemap.cli import main
from vibemap.recommender.engine import Engine

TRACKS = [  # name, artist, popularity
    ("Shape of You", "Ed Sheeran", 86.0),
    ("Shape of You - Galantis Remix", "Ed Sheeran", 51.0),
    ("Shapes", "Someone", 90.0),
    ("You Are the Shape", "Ed Band", 95.0),
    ("Bohemian Rhapsody - Remastered 2011", "Queen", 29.0),
    ("Bohemian Rhapsody - 2011 Mix", "Queen", 84.0),
    ("Bohemian Like You", "The Dandy Warhols", 70.0),
    ("Blinding Lights", "The Weeknd", 98.0),
    ("Blinding Lights", "Cover Band", 65.0),
    ("Starboy", "The Weeknd", 84.0),
    ("Halo", "Beyoncé", 77.0),
    ("Song 3", "Artist 31", 10.0),
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    names, artists, pop = zip(*TRACKS, strict=True)
    return Engine(memory_artifact(seed=2, n=len(TRACKS), n_vibes=1, names=list(names),
                                  artists=list(artists), popularity=list(pop)))


def found(engine: Engine, q: str, limit: int = 20) -> list[tuple[str, str]]:
    return [(r["name"], r["artist"]) for r in engine.search_tracks(q, limit=limit)["results"]]


def test_title_and_artist_words_in_one_query(engine: Engine) -> None:
    assert found(engine, "shape of you ed sheeran") == [
        ("Shape of You", "Ed Sheeran"), ("Shape of You - Galantis Remix", "Ed Sheeran")]
    # the last word may be unfinished; a finished one must be whole
    assert found(engine, "shape of you ed she")[0] == ("Shape of You", "Ed Sheeran")
    assert ("Shapes", "Someone") not in found(engine, "shape of you")


def test_classes_rank_before_popularity(engine: Engine) -> None:
    got = found(engine, "shape")
    # prefix ("Shapes" 90 and the two versions of "Shape of You", kept together) before
    # a word match ("You Are the Shape" 95, the most popular)
    assert got == [("Shapes", "Someone"), ("Shape of You", "Ed Sheeran"),
                   ("Shape of You - Galantis Remix", "Ed Sheeran"),
                   ("You Are the Shape", "Ed Band")]
    assert found(engine, "blinding lights") == [("Blinding Lights", "The Weeknd"),
                                                ("Blinding Lights", "Cover Band")]
    assert found(engine, "eyonc") == [("Halo", "Beyoncé")]  # substring


def test_versions_stay_together_most_popular_first(engine: Engine) -> None:
    assert found(engine, "bohemian") == [
        ("Bohemian Rhapsody - 2011 Mix", "Queen"),
        ("Bohemian Rhapsody - Remastered 2011", "Queen"),
        ("Bohemian Like You", "The Dandy Warhols")]


def test_artist_words_and_accents(engine: Engine) -> None:
    assert found(engine, "weeknd") == [("Blinding Lights", "The Weeknd"),
                                       ("Starboy", "The Weeknd")]
    assert found(engine, "beyonce") == [("Halo", "Beyoncé")]
    assert found(engine, "3") == [("Song 3", "Artist 31")]  # a one-character word is whole


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), q=st.sampled_from(["song", "artist 1", "so", "1", "g 1"]),
       limit=st.integers(1, 7))
def test_pages_concatenate_and_versions_are_adjacent(seed: int, q: str, limit: int) -> None:
    rng = np.random.default_rng(seed)
    names = [f"Song {i % 9}" + (" - Live" if rng.random() < 0.4 else "") for i in range(40)]
    e = Engine(memory_artifact(seed, 40, 2, names=names))
    everything = e.search_tracks(q, limit=100)
    rows = [e.row_of(r["track_id"]) for r in everything["results"]]
    assert len(rows) == everything["total"]
    pages = [r["track_id"] for o in range(0, len(rows) + limit, limit)
             for r in e.search_tracks(q, limit=limit, offset=o)["results"]]
    assert pages == [r["track_id"] for r in everything["results"]]
    songs = [int(e.catalogue.version_of[r]) for r in rows]
    runs = [s for i, s in enumerate(songs) if i == 0 or songs[i - 1] != s]
    assert len(runs) == len(set(songs))  # each song's matching versions in one run


# ------------------------------------------------------------- the real demo
@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The whole vendored real demo (data/demo_catalogue.parquet), built without the
    evaluation (about 8 s on a 2-core machine)."""
    out = tmp_path_factory.mktemp("real") / "real"
    assert main(["index", "--out", str(out), "--no-eval"]) == 0
    return Engine.load(out)


@pytest.mark.parametrize("q, name, artist", [
    ("blinding lights", "Blinding Lights", "The Weeknd"),
    ("bohemian", "Bohemian Rhapsody", "Queen"),
    ("weeknd", "Blinding Lights", "The Weeknd"),
    ("beyonce", None, "Beyoncé"),
    ("shape of you ed sheeran", "Shape of You", "Ed Sheeran"),
])
def test_real_titles_are_found_first(real: Engine, q: str, name: str | None,
                                     artist: str) -> None:
    first = real.search_tracks(q, limit=1)["results"][0]
    assert first["artist"] == artist
    assert name is None or first["name"].startswith(name)


@pytest.mark.parametrize("q", ["blinding lights", "bohemian rhapsody"])
def test_real_next_best_tracks_hold_no_version_of_the_seed(real: Engine, q: str) -> None:
    for seed in real.search_tracks(q, limit=5)["results"]:
        got = real.similar(seed["track_id"], limit=20, scope="any")["results"]
        assert len(got) == 20
        key = real.catalogue.version_of[real.row_of(seed["track_id"])]
        songs = [real.catalogue.version_of[real.row_of(r["track_id"])] for r in got]
        assert key not in songs and len(set(songs)) == len(songs)
        assert not any(q.split()[0] in r["name"].lower() and r["artist"] == seed["artist"]
                       for r in got)


def _naive_class(q: str, name: str, artist: str) -> int:
    """The documented rank classes, row by row (the oracle of the mapped structure)."""
    import re

    from vibemap.recommender.search import EXACT, MIN_PREFIX, NO_MATCH, PREFIX, SUBSTRING, WORDS

    if not q:
        return NO_MATCH  # an empty query matches nothing (search lists by popularity)
    if q in (name, artist):
        return EXACT
    if name.startswith(q) or artist.startswith(q):
        return PREFIX
    words = re.findall(r"\w+", q)
    have = set(re.findall(r"\w+", name)) | set(re.findall(r"\w+", artist))
    if words and all(w in have or (i == len(words) - 1 and len(w) >= MIN_PREFIX
                                   and any(h.startswith(w) for h in have))
                     for i, w in enumerate(words)):
        return WORDS
    return SUBSTRING if q in name or q in artist else NO_MATCH


_TEXT = st.text(alphabet="abé É1 -", max_size=8)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_TEXT, min_size=3, max_size=25), data=st.data())
def test_match_classes_equal_the_row_by_row_rule(names: list[str], data: st.DataObject) -> None:
    from vibemap.indexer.folding import fold

    n = len(names)
    artists = data.draw(st.lists(_TEXT, min_size=n, max_size=n))
    q = fold(data.draw(_TEXT))
    engine = Engine(memory_artifact(seed=1, n=n, n_vibes=1, names=names, artists=artists))
    search = engine.catalogue.search
    want = np.array([_naive_class(q, fold(a), fold(b)) for a, b in zip(names, artists,
                                                                         strict=True)])
    assert search.match_classes(q).tolist() == want.tolist()
    if q:
        rows, cls, _, _ = search._matching(q, None)
        order = np.argsort(rows)  # the matching rows come in no particular order
        assert rows[order].tolist() == np.flatnonzero(want < 4).tolist()
        assert cls[order].tolist() == want[want < 4].tolist()
