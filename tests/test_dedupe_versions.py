"""Versions of one song are one song: recommendation results hold one version per song
(its best-scoring one) and no version of a seed, unless ``dedupe_versions=False``, which
gives exactly the ranking without the rule. Brute force (numpy) is the oracle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import brute_scores, ids, memory_artifact, scores

from vibemap.indexer.serving_arrays import version_codes
from vibemap.indexer.versions import version_key
from vibemap.recommender.engine import Engine

FAST = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SUFFIXES = ("", " - Remastered 2011", " (Radio Edit)", " - Live", " [feat. Someone]")


def versioned_engine(seed: int, n: int, n_vibes: int, metric: str, n_songs: int) -> Engine:
    """A catalogue where many tracks are versions of a few songs by a few artists."""
    rng = np.random.default_rng(seed)
    song = rng.integers(0, n_songs, n)
    names = [f"Song {s}{SUFFIXES[rng.integers(0, len(SUFFIXES))]}" for s in song]
    artists = [f"Artist {s % 3}" + (", Guest" if rng.random() < 0.2 else "") for s in song]
    return Engine(memory_artifact(seed, n, n_vibes, metric, names=names, artists=artists))


engines = st.builds(versioned_engine, seed=st.integers(0, 2**31 - 1), n=st.integers(8, 80),
                    n_vibes=st.integers(1, 3), metric=st.sampled_from(["cosine", "euclidean"]),
                    n_songs=st.integers(2, 12))


def key_of(e: Engine, track_id: str) -> int:
    return int(e.catalogue.version_of[e.row_of(track_id)])


def dedupe_oracle(e: Engine, ranked: list[str], seeds: list[str], per_artist: int | None
                  ) -> list[str]:
    """The rule applied in rank order to a full ranking without it."""
    seen = {key_of(e, t) for t in seeds}
    counts: dict[int, int] = {}
    out = []
    for t in ranked:
        k, a = key_of(e, t), int(e.catalogue.artist_code[e.row_of(t)])
        if k in seen or (per_artist is not None and counts.get(a, 0) >= per_artist):
            continue
        seen.add(k)
        counts[a] = counts.get(a, 0) + 1
        out.append(t)
    return out


def test_version_codes_are_the_indexer_keys() -> None:
    e = versioned_engine(3, 60, 2, "cosine", 5)
    c = e.catalogue
    keys = [version_key(c.names[r], c.artists[r]) for r in range(c.n_rows)]
    for a in range(c.n_rows):
        for b in range(c.n_rows):
            assert (keys[a] == keys[b]) == (c.version_of[a] == c.version_of[b])


@FAST
@given(e=engines, data=st.data())
def test_similar_holds_one_version_per_song_and_none_of_the_seed(e: Engine,
                                                                 data: st.DataObject) -> None:
    row = data.draw(st.integers(0, e.n_tracks - 1))
    seed = e.catalogue.ids[row]
    scope = data.draw(st.sampled_from(["same", "any"]))
    per_artist = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    limit, offset = data.draw(st.integers(1, 20)), data.draw(st.integers(0, 10))
    got = ids(e.similar(seed, limit=limit, offset=offset, scope=scope,
                        max_per_artist=per_artist))
    keys = [key_of(e, t) for t in got]
    assert len(set(keys)) == len(keys) and key_of(e, seed) not in keys
    # the first version met in the plain ranking stands for its song; pages agree
    plain_result = e.similar(seed, limit=100, scope=scope, dedupe_versions=False)
    plain = ids(plain_result)
    assert got == dedupe_oracle(e, plain, [seed], per_artist)[offset:offset + limit]
    # dedupe_versions=False is the plain ranking: brute force over the scope
    sims = brute_scores(e, e.catalogue.X[row].astype(np.float64))
    vibe = e.catalogue.vibe_of[row]
    allowed = [i for i in range(e.n_tracks)
               if i != row and (scope == "any" or e.catalogue.vibe_of[i] == vibe)]
    np.testing.assert_allclose(scores(plain_result), np.sort(sims[allowed])[::-1][:100],
                               atol=1e-4)


@FAST
@given(e=engines, data=st.data())
def test_recommend_holds_one_version_per_song(e: Engine, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.integers(0, e.n_tracks - 1), min_size=1, max_size=3,
                              unique=True))
    seeds = [e.catalogue.ids[r] for r in rows]
    diversity = data.draw(st.sampled_from([0.0, 0.0, 0.5]))
    per_artist = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    genre = data.draw(st.sampled_from([None, "rap", "dance pop"]))
    limit, offset = data.draw(st.integers(1, 15)), data.draw(st.integers(0, 8))
    kwargs = {"diversity": diversity, "max_per_artist": per_artist, "genres": genre}
    got = ids(e.recommend(seeds, limit=limit, offset=offset, **kwargs))
    keys = [key_of(e, t) for t in got]
    assert len(set(keys)) == len(keys)
    assert not {key_of(e, s) for s in seeds} & set(keys)
    if diversity == 0:
        plain = ids(e.recommend(seeds, limit=100, dedupe_versions=False, genres=genre))
        assert got == dedupe_oracle(e, plain, seeds, per_artist)[offset:offset + limit]
        pages = [t for o in range(0, 12, 4)
                 for t in ids(e.recommend(seeds, limit=4, offset=o, **kwargs))]
        assert pages == ids(e.recommend(seeds, limit=12, **kwargs))


def test_dedupe_off_keeps_every_version() -> None:
    e = versioned_engine(5, 60, 1, "cosine", 3)
    seed = e.catalogue.ids[0]
    plain = ids(e.similar(seed, limit=100, dedupe_versions=False))
    assert len(plain) == 59  # every other track, versions of the seed included
    assert len({key_of(e, t) for t in plain}) < len(plain)
    assert len(ids(e.similar(seed, limit=100))) <= 2  # three songs: at most two others


def test_stored_keys_are_read_and_a_missing_key_is_a_song_of_its_own() -> None:
    keys = pd.array(["a|x", None, "a|x", None, "b|y"], dtype="str")
    codes = version_codes(pa.array(keys))
    assert codes[0] == codes[2] and len(set(codes.tolist())) == 4
