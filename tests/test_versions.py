"""version_key: every version of a song by one primary artist gets one key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibemap.indexer.real_demo import CATALOGUE_PATH
from vibemap.indexer.versions import (
    SEPARATOR,
    primary_artist,
    song_title,
    version_key,
    version_keys,
)


@pytest.mark.parametrize(
    ("title", "artist", "key"),
    [
        ("Bohemian Rhapsody - Remastered 2011", "Queen", "bohemian rhapsody|queen"),
        ("Bohemian Rhapsody - 2011 Mix", "Queen", "bohemian rhapsody|queen"),
        ("Bohemian Rhapsody - 2011 Remaster", "Queen", "bohemian rhapsody|queen"),
        ("Hotel California - Live at The Los Angeles Forum, 10/20-22/76", "Eagles",
         "hotel california|eagles"),
        ("Shape of You - Galantis Remix", "Ed Sheeran", "shape of you|ed sheeran"),
        ("I Don't Care (with Justin Bieber) - Loud Luxury Remix", "Ed Sheeran",
         "i dont care|ed sheeran"),
        ("Crazy In Love (feat. Jay-Z)", "Beyoncé, JAY-Z", "crazy in love|beyonce"),
        ("Señorita [Radio Edit]", "Shawn Mendes & Camila Cabello", "senorita|shawn mendes"),
        ("Blinding Lights", "The Weeknd", "blinding lights|the weeknd"),
        ("Rock & Roll - Radio Edit", "Led Zeppelin", "rock and roll|led zeppelin"),
        ("Stay feat. Alessia Cara", "Zedd", "stay|zedd"),
        ("(I Can't Get No) Satisfaction - Mono Version", "The Rolling Stones",
         "satisfaction|the rolling stones"),
    ],
)
def test_examples(title: str, artist: str, key: str) -> None:
    assert version_key(title, artist) == key


def test_different_songs_and_artists_stay_apart() -> None:
    assert version_key("Blinding Lights", "The Weeknd") != version_key("Blinding Lights",
                                                                       "Lucas Estrada")
    assert version_key("Jump", "Van Halen") != version_key("Jump Around", "House of Pain")
    # a title that is only a version note keeps its words rather than becoming empty
    assert song_title("(Interlude)") == "interlude"
    assert version_key("!!!", "?") == "!!!|?"


def test_vectorised_keys_equal_the_scalar_function() -> None:
    titles = ["Song A - Live", "Song A", None, "Song B (feat. X)"]
    artists = ["Me", "Me, You", "Me", None]
    assert list(version_keys(titles, artists)) == [
        version_key(t or "", a or "") for t, a in zip(titles, artists, strict=True)]
    with pytest.raises(ValueError, match="2 titles but 1 artists"):
        version_keys(["a", "b"], ["x"])


def test_bohemian_rhapsody_versions_in_the_real_demo_share_one_key() -> None:
    tracks = pd.read_parquet(CATALOGUE_PATH, columns=["name_song", "name_artists"])
    queen = tracks[tracks["name_song"].str.startswith("Bohemian Rhapsody", na=False)
                   & (tracks["name_artists"] == "Queen")]
    assert queen["name_song"].nunique() >= 3  # "- 2011 Mix", "- Remastered 2011", ...
    assert set(version_keys(queen["name_song"], queen["name_artists"])) == {
        "bohemian rhapsody|queen"}


# words without the characters the key treats specially (brackets, dashes, separators)
word = st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8)
plain_text = st.lists(word, min_size=1, max_size=5).map(" ".join)
suffix = st.sampled_from([" - 2011 Remaster", " - Remastered 2011", " - Radio Edit", " - Live",
                          " (feat. Someone Else)", " [Live]", " (Acoustic Version)",
                          " - From \"A Film\"", " feat. Guest", " (Live) - 2009 Remaster"])


@given(plain_text, plain_text, suffix)
def test_version_suffixes_do_not_change_the_key(title: str, artist: str, extra: str) -> None:
    assert version_key(title + extra, artist) == version_key(title, artist)


@given(plain_text, plain_text, plain_text)
def test_only_the_primary_artist_counts(title: str, artist: str, other: str) -> None:
    for joined in (f"{artist}, {other}", f"{artist} & {other}", f"{artist} feat. {other}",
                   f"{artist};{other}"):
        assert version_key(title, joined) == version_key(title, artist)


@given(plain_text, plain_text)
def test_case_and_accents_do_not_change_the_key(title: str, artist: str) -> None:
    assert version_key(title.upper(), artist.lower()) == version_key(title, artist)
    accented = title.replace("e", "é").replace("a", "à")
    assert version_key(accented, artist) == version_key(title, artist)


@given(st.text(max_size=60), st.text(max_size=40))
def test_any_text_gives_one_separator_and_a_fixed_point(title: str, artist: str) -> None:
    key = version_key(title, artist)
    assert key.count(SEPARATOR) == 1
    song, first = key.split(SEPARATOR)
    assert first == primary_artist(artist)
    # a key's parts are already normal: normalising them again changes nothing
    if song.replace(" ", "").isalnum():
        assert song_title(song) == song
    if first.replace(" ", "").isalnum():
        assert primary_artist(first) == first


@settings(max_examples=80, deadline=None)
@given(pairs=st.lists(st.tuples(
    st.sampled_from(["Song", "song - Remastered", "Song (Live)", "Other", "", "a|b", "!!!", None]),
    st.sampled_from(["Queen", "queen, Bowie", "Bowie", "", "x|y", None])), max_size=30))
def test_keyed_versions_codes_equal_the_keys_dictionary_codes(pairs: list[tuple]) -> None:
    """The build's version codes, found from integer pairs, are exactly the codes the
    service's derivation gives the key strings (dictionary_encode, first appearance)."""
    from vibemap.indexer.serving_arrays import version_codes
    from vibemap.indexer.versions import keyed_versions

    titles = pd.Series([p[0] for p in pairs], dtype="str")
    artists = pd.Series([p[1] for p in pairs], dtype="str")
    keys, codes = keyed_versions(titles, artists)
    np.testing.assert_array_equal(codes, version_codes(pa.array(keys)))
    assert list(keys) == list(version_keys(titles, artists))


@settings(max_examples=80, deadline=None)
@given(pairs=st.lists(st.tuples(
    st.sampled_from(["Song", "song - Remastered", "Song (Live)", "Other", "", None]),
    st.sampled_from(["Queen", "queen, Bowie", "Bowie", "", None])), max_size=30),
    seed=st.integers(0, 2**16))
def test_keyed_versions_in_an_order_equal_those_of_the_reordered_rows(
        pairs: list[tuple], seed: int) -> None:
    """The build finds the keys in artifact order before sorting the table: the same
    keys and codes as from the sorted titles and artists."""
    from vibemap.indexer.versions import keyed_versions

    titles = pd.Series([p[0] for p in pairs], dtype="str")
    artists = pd.Series([p[1] for p in pairs], dtype="str")
    order = np.random.default_rng(seed).permutation(len(pairs))
    keys, codes = keyed_versions(titles, artists, order)
    sorted_keys, sorted_codes = keyed_versions(titles.iloc[order].reset_index(drop=True),
                                               artists.iloc[order].reset_index(drop=True))
    np.testing.assert_array_equal(codes, sorted_codes)
    assert list(keys) == list(sorted_keys)
