"""Versions of the same song: one key per song, shared by its remasters, edits and mixes.

Real catalogues hold the same song many times ("Bohemian Rhapsody - Remastered 2011",
"Bohemian Rhapsody - 2011 Mix", "Bohemian Rhapsody - Live Aid"). A listener asking for
the next best track after one of them should not get the others back, so the build
stores :func:`version_key` per track and the engine can collapse results on it.

The key is the normalised title plus the primary artist:

- title: Unicode-folded (accents removed), case-folded; bracketed parts ``(...)``,
  ``[...]``, ``{...}`` dropped (they hold "feat. X", "Remastered", "Live at ..."); cut
  at the first spaced dash (Spotify's " - 2011 Remaster", " - Radio Edit", " - Live",
  " - Loud Luxury Remix") and at an unbracketed "feat." / "ft." / "featuring"; ``&``
  read as "and"; every other non-alphanumeric run becomes one space;
- artist: the first of several (split at ",", ";", " & ", "feat.", "featuring", "ft."),
  folded the same way.

Cutting at any spaced dash also merges the rare real titles with a dash in the name
("Part 1 - Intro") with their siblings by the same artist; the key only groups
results, it never drops a track from the catalogue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

JOIN_BLOCK = 1 << 16  # rows per block of the version keys' join
SEPARATOR = "|"  # between title and artist; never left inside either part

_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_DASH_SUFFIX = re.compile(r"\s+[-\u2013\u2014]\s+.*$")
_FEAT = re.compile(r"\s+(?:feat\.?|ft\.|featuring)\s+.*$")
_ARTIST_SPLIT = re.compile(r"\s*(?:[,;]|\s&\s|\s(?:feat\.?|ft\.|featuring)\s)\s*")
_NON_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")  # "Don't" and "Dont" are one word
# letters whose upper case folds back to another letter ("ı".upper() == "I")
_LOOKALIKES = str.maketrans({"\u0131": "i"})


def fold(text: str) -> str:
    """Case-fold, drop accents and punctuation: "Beyoncé & Co." -> "beyonce and co"."""
    if text.isascii():  # most titles: no Unicode work needed
        plain = text.lower()
    else:
        # case-folding first: it can itself produce combining marks ("İ" -> "i" + dot)
        decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LOOKALIKES))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    if "&" in plain:
        plain = plain.replace("&", " and ")
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", plain)).strip()


def _casefolded(text: str) -> str:
    text = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return text.casefold().strip()


def song_title(title: str) -> str:
    """The title without its version annotations, folded (see the module docstring)."""
    text = _casefolded(str(title))
    previous = None
    while previous != text:  # nested brackets: "(Live (2011 Remaster))"
        previous = text
        text = _BRACKETS.sub(" ", text)
    text = _FEAT.sub("", _DASH_SUFFIX.sub("", text.strip()))
    # a title that is nothing but a version note keeps its own words, so unrelated
    # titles of one artist do not all collapse into an empty key
    return fold(text) or fold(str(title)) or _plain(title)


def primary_artist(artist: str) -> str:
    """The first of several credited artists, folded: "Queen, David Bowie" -> "queen"."""
    text = _casefolded(str(artist))
    first = next((part for part in _ARTIST_SPLIT.split(text) if part.strip()), text)
    return fold(first) or _plain(artist)


def _plain(text: object) -> str:
    """Last resort for text without letters or digits ("!!!", "?"): case-folded as is,
    whitespace collapsed, the separator replaced."""
    return " ".join(str(text).casefold().replace(SEPARATOR, " ").split())


def version_key(title: str, artist: str) -> str:
    """One key for every version of a song by one primary artist, e.g.
    ``version_key("Bohemian Rhapsody - Remastered 2011", "Queen") == "bohemian rhapsody|queen"``.
    """
    return song_title(title) + SEPARATOR + primary_artist(artist)


def version_keys(titles: Iterable[object], artists: Iterable[object]) -> ExtensionArray:
    """:func:`version_key` of each (title, artist) pair, a pandas "str" array of length n.

    Titles and artists repeat (an artist's many tracks, common titles), so each distinct
    string is normalised once and the keys are put together by Arrow, not per row; the
    result stays in Arrow memory (Python strings would cost ~70 bytes a row: 0.7 GB at
    10M tracks).
    """
    return keyed_versions(titles, artists)[0]


def keyed_versions(titles: Iterable[object], artists: Iterable[object],
                   order: np.ndarray | None = None) -> tuple[ExtensionArray, np.ndarray]:
    """:func:`version_keys` and one int64 code per row: equal keys share a code, numbered
    in order of first appearance, as Arrow's ``dictionary_encode`` of the keys numbers
    them. Found from integer pairs (a key is its title part and its artist part, and the
    separator is never inside either), not by hashing 10M strings. ``order``: the rows
    to answer for, in that order (the build's sort by vibe), so that the keys are made
    in artifact order without a sorted copy of the titles and artists."""
    title_codes, title_uniques = _factorize(titles)
    artist_codes, artist_uniques = _factorize(artists)
    if len(title_codes) != len(artist_codes):
        raise ValueError(f"{len(title_codes)} titles but {len(artist_codes)} artists")
    song_id, songs = _distinct([song_title(t) for t in title_uniques] + [""])
    first_id, firsts = _distinct([primary_artist(a) for a in artist_uniques] + [""])
    width = int(first_id.max()) + 1
    # each row's song and first artist as integers, the temporaries freed as they go
    song = song_id[title_codes]
    del title_codes
    first = first_id[artist_codes]
    del artist_codes
    if order is not None:
        song, first = song[order], first[order]
    pair = song * width
    pair += first
    codes = pd.factorize(pair)[0]
    del pair
    return _joined(songs, song, firsts, first).to_pandas().array, codes.astype(np.int64,
                                                                                copy=False)


def _joined(left: pa.LargeStringArray, left_rows: np.ndarray, right: pa.LargeStringArray,
            right_rows: np.ndarray, block: int = JOIN_BLOCK) -> pa.LargeStringArray:
    """``left[left_rows] + SEPARATOR + right[right_rows]`` as one array, joined a block of
    rows at a time into buffers sized beforehand: the whole result is the only copy of
    the keys (per-row string arrays and their join were three; a join of blocks then
    concatenated, two)."""
    sep = len(SEPARATOR.encode())
    offsets = np.zeros(len(left_rows) + 1, dtype=np.int64)
    lengths = pc.binary_length(left).to_numpy()[left_rows]
    lengths += pc.binary_length(right).to_numpy()[right_rows] + sep
    np.cumsum(lengths, out=offsets[1:])
    del lengths
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for a in range(0, len(left_rows), block):
        part = pc.binary_join_element_wise(left.take(left_rows[a:a + block]),
                                           right.take(right_rows[a:a + block]),
                                           pa.scalar(SEPARATOR, pa.large_string()))
        ends = np.frombuffer(part.buffers()[1], dtype=np.int64)[part.offset:][[0, len(part)]]
        data[offsets[a]:offsets[a + len(part)]] = np.frombuffer(
            part.buffers()[2], dtype=np.uint8)[ends[0]:ends[1]]
    return pa.LargeStringArray.from_buffers(len(left_rows), pa.py_buffer(offsets),
                                            pa.py_buffer(data))


def _distinct(text: list[str]) -> tuple[np.ndarray, pa.LargeStringArray]:
    """Codes of ``text`` into its distinct strings (in order of first appearance), and
    those strings (large_string: the type pandas keeps text in, so the keys are not
    copied into it)."""
    codes, uniques = pd.factorize(np.asarray(text, dtype=object))
    return codes, pa.array(uniques, type=pa.large_string())


def _factorize(values: Iterable[object]) -> tuple[np.ndarray, list[str]]:
    """Codes into the distinct strings; a missing value gets one past the last."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes), [str(u) for u in uniques]
