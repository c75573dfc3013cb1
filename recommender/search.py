"""Name / artist search over a catalogue, through the structure the build stored.

Matching is case- and accent-insensitive (:func:`vibemap.indexer.folding.fold`). A track's
rank class is the best that holds for it:

0. exact: the whole query is its title or its artist ("blinding lights", "beyonce");
1. prefix: its title or artist starts with the query ("bohemian");
2. words: every word of the query is a word of its title or artist, the last one
   possibly unfinished if it has 2 characters or more ("weeknd", "shape of you ed
   sheeran", "shape of you ed she");
3. substring: the query occurs in its title or artist ("eyonc").

Within a class, more popular first (then catalogue row). Versions of one song
(:mod:`vibemap.indexer.versions`) are kept adjacent: a song ranks where its best-ranked
matching version would, and its matching versions follow in popularity order, so every
version stays findable while the most popular one comes first. Without a query, rows
are listed by popularity alone.

Everything is looked up in the build-time structure (:mod:`vibemap.indexer.search_index`),
memory-mapped: for each field (titles, artists) the sorted distinct folded values give the
exact and prefix ranges by binary search and the substring matches by a vectorised byte
scan of the distinct values' UTF-8 buffer (anchored on the query's rarest byte), the word
index gives the values holding each query word, and the rows
of the matching values come from the rows grouped by value. Only rows whose value matches
are touched (or, when a query matches a large part of the catalogue, one gather over all
rows, whichever is cheaper); no per-row Python work runs per query.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vibemap.indexer.folding import fold
from vibemap.indexer.search_index import SearchIndex, TextField, group_positions
from vibemap.indexer.search_runs import Runs, derive_runs
from vibemap.indexer.trigrams import Trigrams, value_bytes

EXACT, PREFIX, WORDS, SUBSTRING, NO_MATCH = 0, 1, 2, 3, 4
_WORD = re.compile(r"\w+")
_LAST = "\U0010ffff"
MIN_PREFIX = 2  # a last query word this long may be unfinished ("ed she"); "3" is a word
DENSE_SHARE = 4  # a query matching over 1/4 of the rows gathers over all rows instead


class _Bytes:
    """The UTF-8 bytes of a field's distinct values, back to back (a view of the mapped
    Arrow buffer), with each value's start; the build's trigram postings, and how often
    each byte occurs, to anchor a scan on a query's rarest trigram (or byte)."""

    def __init__(self, keys: pa.LargeStringArray, trigrams: Trigrams | None) -> None:
        self.offsets, self.buf = value_bytes(keys)
        self.trigrams = trigrams
        self.freq = np.bincount(self.buf, minlength=256)

    def containing(self, q: str) -> np.ndarray:
        """Codes of the values holding ``q``, once per occurrence (a byte match of UTF-8
        is a character match: UTF-8 is self-synchronising); a match must not run into the
        next value."""
        needle = np.frombuffer(q.encode("utf-8"), dtype=np.uint8)
        length, total = len(needle), len(self.buf)
        if length == 0 or length > total:
            return np.empty(0, dtype=np.int64)
        pos = None if self.trigrams is None else self.trigrams.anchored(needle)
        anchor = -1
        if pos is None:
            anchor = int(np.argmin(self.freq[needle]))
            pos = np.flatnonzero(self.buf == needle[anchor]) - anchor
        pos = pos[(pos >= 0) & (pos <= total - length)]
        for k in range(length):
            if k != anchor and len(pos):
                pos = pos[self.buf[pos + k] == needle[k]]
        codes = np.searchsorted(self.offsets, pos, side="right") - 1
        return codes[pos + length <= self.offsets[codes + 1]]  # a value may repeat


def _value_classes(field: TextField, text: _Bytes, q: str) -> np.ndarray:
    """int8 (n_values,): EXACT / PREFIX / SUBSTRING / NO_MATCH of each distinct value."""
    cls = np.full(len(field.keys), NO_MATCH, dtype=np.int8)
    cls[text.containing(q)] = SUBSTRING
    lo, hi = field.sorted_keys.range_of(q, q + _LAST)
    cls[lo:hi] = PREFIX
    cls[lo:bisect.bisect_left(field.sorted_keys, q + "\x00", lo, hi)] = EXACT  # == q
    return cls


def _values_with_word(field: TextField, word: str, prefix: bool) -> np.ndarray:
    """bool (n_values,): values holding ``word`` (or a word starting with it)."""
    lo, hi = field.sorted_words.range_of(word, word + (_LAST if prefix else "\x00"))
    out = np.zeros(len(field.keys), dtype=bool)
    if hi > lo:
        out[field.word_codes[field.word_offsets[lo]:field.word_offsets[hi]]] = True
    return out


class _Rows(NamedTuple):
    """Rows with their title and artist codes, popularity ranks and version codes."""

    rows: np.ndarray
    name_code: np.ndarray
    artist_code: np.ndarray
    rank: np.ndarray
    version: np.ndarray


class TrackSearch:
    """Ranked text search over an artifact's search structure.

    index : the :class:`SearchIndex` (titles, artists, rows by popularity);
    version_of : int (n,) one code per song (versions share it).
    """

    def __init__(self, index: SearchIndex, version_of: np.ndarray,
                 runs: dict[str, Runs] | None = None) -> None:
        self.fields = index.fields
        self.n = len(index.order)
        self._version_of = version_of
        self.popularity_order = index.order
        self.popularity_rank = index.rank
        self._runs = runs if runs is not None else derive_runs(index, version_of)
        self._bytes = {field: _Bytes(tf.keys, tf.trigrams) for field, tf in self.fields.items()}

    def _candidates(self, name_ok: np.ndarray, artist_ok: np.ndarray) -> _Rows | None:
        """The rows (each once, in no particular order) whose title value is in
        ``name_ok`` or artist value in ``artist_ok`` (bool over each field's values), with
        their facts read in runs (:mod:`vibemap.indexer.search_runs`); None when that is so
        large a share of the rows that scanning all of them is cheaper."""
        names, artists = self.fields["name"], self.fields["artist"]
        name_ok_codes, artist_ok_codes = np.flatnonzero(name_ok), np.flatnonzero(artist_ok)
        size = int((names.offsets[name_ok_codes + 1] - names.offsets[name_ok_codes]).sum()
                   + (artists.offsets[artist_ok_codes + 1]
                      - artists.offsets[artist_ok_codes]).sum())
        if size * DENSE_SHARE > self.n:
            return None
        by_name, name_codes = group_positions(names.offsets, name_ok_codes)
        by_artist, artist_codes = group_positions(artists.offsets, artist_ok_codes)
        rn, ra = self._runs["name"], self._runs["artist"]
        title_of_artist_rows = ra.other[by_artist]
        alone = ~name_ok[title_of_artist_rows]  # the others come by title
        by_artist = by_artist[alone]
        return _Rows(np.concatenate([names.rows[by_name], artists.rows[by_artist]]),
                     np.concatenate([name_codes, title_of_artist_rows[alone]]),
                     np.concatenate([rn.other[by_name], artist_codes[alone]]),
                     np.concatenate([rn.rank[by_name], ra.rank[by_artist]]),
                     np.concatenate([rn.version[by_name], ra.version[by_artist]]))

    def _value_matches(self, q: str) -> tuple[np.ndarray, np.ndarray, list]:
        """(title value classes, artist value classes, per query word the bool masks of
        the title and artist values holding it; the last word may be unfinished)."""
        names, artists = self.fields["name"], self.fields["artist"]
        words = _WORD.findall(q)
        lasts = [i == len(words) - 1 and len(w) >= MIN_PREFIX for i, w in enumerate(words)]
        with_word = [(_values_with_word(names, w, last), _values_with_word(artists, w, last))
                     for w, last in zip(words, lasts, strict=True)]
        return (_value_classes(names, self._bytes["name"], q),
                _value_classes(artists, self._bytes["artist"], q), with_word)

    @staticmethod
    def _row_classes(parts: tuple[np.ndarray, np.ndarray, list], nc: np.ndarray,
                     ac: np.ndarray) -> np.ndarray:
        """The class of rows of title codes ``nc`` and artist codes ``ac``."""
        name_cls, artist_cls, with_word = parts
        cls = np.minimum(name_cls[nc], artist_cls[ac])
        if with_word:
            found = np.ones(len(cls), dtype=bool)
            for in_name, in_artist in with_word:
                found &= in_name[nc] | in_artist[ac]
            cls[found & (cls > WORDS)] = WORDS
        return cls

    def _every_row(self) -> _Rows:
        return _Rows(np.arange(self.n), self.fields["name"].code_of,
                     self.fields["artist"].code_of, self.popularity_rank, self._version_of)

    def match_classes(self, q: str) -> np.ndarray:
        """int8 (n,): EXACT / PREFIX / WORDS / SUBSTRING / NO_MATCH per row for a folded
        query."""
        if not q:
            return np.full(self.n, NO_MATCH, dtype=np.int8)
        every = self._every_row()
        return self._row_classes(self._value_matches(q), every.name_code, every.artist_code)

    def _matching(self, q: str, allowed: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(the matching rows, in no particular order, their classes, popularity ranks and
        version codes) for a non-empty folded query."""
        parts = self._value_matches(q)
        name_cls, artist_cls, with_word = parts
        name_ok, artist_ok = name_cls < NO_MATCH, artist_cls < NO_MATCH
        if with_word:  # a WORDS match holds the first word in its title or artist
            name_ok, artist_ok = name_ok | with_word[0][0], artist_ok | with_word[0][1]
        found = self._candidates(name_ok, artist_ok)
        dense = found is None
        found = self._every_row() if found is None else found
        cls = self._row_classes(parts, found.name_code, found.artist_code)
        keep = cls < NO_MATCH
        if allowed is not None:
            keep &= allowed if dense else allowed[found.rows]
        i = np.flatnonzero(keep)
        return found.rows[i], cls[i], found.rank[i], found.version[i]

    def _grouped(self, rows: np.ndarray, key: np.ndarray, versions: np.ndarray,
                 rank: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
        """The matching rows that can fill the first ``end`` places once versions are kept
        together, with sort keys doing so: a song's best ``key``, then the version's
        popularity ``rank``. A song placed in the first ``end`` has its best row among the
        ``end`` smallest keys (every row ranked before it belongs to a song placed
        earlier), so only those songs are sorted."""
        if end < len(rows):
            top = np.argpartition(key, end - 1)[:end]
            keep = np.isin(versions, np.unique(versions[top]))
            rows, key, versions, rank = rows[keep], key[keep], versions[keep], rank[keep]
        order = np.lexsort((key, versions))
        first = np.ones(len(order), dtype=bool)
        first[1:] = versions[order][1:] != versions[order][:-1]
        best = np.empty(len(rows), dtype=np.int64)
        best[order] = key[order][np.flatnonzero(first)[np.cumsum(first) - 1]]
        return rows, best * self.n + rank

    def search(self, q: str | None, allowed: np.ndarray | None, limit: int, offset: int
               ) -> tuple[np.ndarray, int]:
        """Rows of one page, and the total number of matching rows.

        q : raw query text (folded here); empty or None lists the allowed rows by popularity.
        allowed : optional bool mask (n,) of rows that pass the other filters.
        """
        folded = fold(q or "")
        if not folded:
            rows = self.popularity_order
            if allowed is not None:
                rows = rows[allowed[rows]]
            return rows[offset:offset + limit], len(rows)
        rows, cls, rank, versions = self._matching(folded, allowed)
        total = len(rows)
        if offset >= total:
            return rows[:0], total
        end = min(offset + limit, total)
        rank = rank.astype(np.int64)
        rows, key = self._grouped(rows, cls.astype(np.int64) * self.n + rank, versions, rank,
                                  end)
        part = np.argpartition(key, end - 1)[:end] if end < len(rows) else np.arange(len(rows))
        part = part[np.argsort(key[part], kind="stable")]
        return rows[part[offset:end]], total
