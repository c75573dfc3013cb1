"""Name / artist search over a catalogue, precomputed once at load.

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

Exact matches come from a dict, prefixes from sorted keys (bisect), words from an inverted
index over the distinct titles and artists, substrings from a vectorised byte scan of one
UTF-8 haystack (UTF-8 is self-synchronising, so a byte match of a folded query is a
character match). No per-row Python work runs per query.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from vibemap.indexer.folding import fold

EXACT, PREFIX, WORDS, SUBSTRING, NO_MATCH = 0, 1, 2, 3, 4
# haystack line = name, field separator, artist; fold() turns both into spaces in a query
_FIELD_SEP = "\x1f"
_LINE_SEP = "\n"
_BATCH_LINES = 1 << 18
_WORD = re.compile(r"\w+")
_LAST = "\U0010ffff"
MIN_PREFIX = 2  # a last query word this long may be unfinished ("ed she"); "3" is a word


class _WordIndex:
    """Word -> the codes of the distinct strings holding it (an inverted index)."""

    def __init__(self, strings: Sequence[str]) -> None:
        postings: dict[str, list[int]] = {}
        for code, text in enumerate(strings):
            for word in set(_WORD.findall(text)):
                postings.setdefault(word, []).append(code)
        self.n_codes = len(strings)
        self.words = sorted(postings)
        self._codes = [np.asarray(postings[w], dtype=np.int64) for w in self.words]

    def having(self, word: str, prefix: bool) -> np.ndarray:
        """bool (n_codes,): strings holding ``word`` (or a word starting with it)."""
        lo = bisect.bisect_left(self.words, word)
        hi = (bisect.bisect_left(self.words, word + _LAST, lo) if prefix
              else lo + int(lo < len(self.words) and self.words[lo] == word))
        out = np.zeros(self.n_codes, dtype=bool)
        if hi > lo:
            out[np.concatenate(self._codes[lo:hi])] = True
        return out


class TrackSearch:
    """Ranked text search; row i of every input is catalogue row i.

    folded_names : per row, the title already passed through :func:`fold`.
    artist_of, folded_artists : per row, a code into the distinct folded artists.
    version_of : int (n,) one code per song (versions share it).
    popularity : float array (n,), NaN for unknown (ranked last).
    """

    def __init__(self, folded_names: Sequence[str], artist_of: np.ndarray,
                 folded_artists: Sequence[str], version_of: np.ndarray,
                 popularity: np.ndarray) -> None:
        n = len(folded_names)
        self.n = n
        self._version_of = np.asarray(version_of, dtype=np.int64)
        self._artist_of = np.asarray(artist_of, dtype=np.int64)
        name_of, names = pd.factorize(pd.Series(folded_names, dtype=object),
                                      use_na_sentinel=False)
        self._name_of = np.asarray(name_of, dtype=np.int64)
        self._name_words = _WordIndex([str(s) for s in names])
        self._artist_words = _WordIndex(folded_artists)
        per_row_artists = [folded_artists[c] for c in self._artist_of.tolist()]
        self._sorted: list[tuple[list[str], np.ndarray]] = []
        for folded in (folded_names, per_row_artists):
            order = sorted(range(n), key=folded.__getitem__)
            self._sorted.append(([folded[i] for i in order], np.asarray(order, dtype=np.int64)))
        self._build_haystack(folded_names, per_row_artists)
        pop = np.asarray(popularity, dtype=np.float64)
        # position of each row when sorted by popularity desc (unknown last), then row
        order = np.lexsort((np.arange(n), np.isnan(pop), -np.nan_to_num(pop, nan=0.0)))
        self.popularity_rank = np.empty(n, dtype=np.int64)
        self.popularity_rank[order] = np.arange(n)
        self.popularity_order = order

    def _build_haystack(self, names: Sequence[str], artists: Sequence[str]) -> None:
        """One UTF-8 buffer of every "name<FS>artist" line, encoded a batch of lines at a
        time (one str of every line would briefly cost three times the buffer at 10M)."""
        haystack = bytearray()
        for start in range(0, self.n, _BATCH_LINES):
            if start:
                haystack += _LINE_SEP.encode()
            stop = start + _BATCH_LINES
            haystack += _LINE_SEP.join(
                f"{a}{_FIELD_SEP}{b}" for a, b in zip(names[start:stop], artists[start:stop],
                                                      strict=True)).encode("utf-8")
        self._buf = np.frombuffer(haystack, dtype=np.uint8)
        newlines = np.flatnonzero(self._buf == ord(_LINE_SEP))
        self._line_starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        self._byte_freq = np.bincount(self._buf, minlength=256)

    def _prefix_rows(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows whose name or artist starts with q, rows whose name or artist is q)."""
        prefix, exact = [], []
        for keys, rows in self._sorted:
            lo = bisect.bisect_left(keys, q)
            hi = bisect.bisect_left(keys, q + _LAST)
            prefix.append(rows[lo:hi])
            exact.append(rows[lo:bisect.bisect_right(keys, q, lo, hi)])
        return np.concatenate(prefix), np.concatenate(exact)

    def _word_rows(self, q: str) -> np.ndarray:
        """bool (n,): rows whose title and artist words hold every word of q (the last
        word may be unfinished)."""
        words = _WORD.findall(q)
        if not words:
            return np.zeros(self.n, dtype=bool)
        found = np.ones(self.n, dtype=bool)
        for i, word in enumerate(words):
            last = i == len(words) - 1 and len(word) >= MIN_PREFIX
            found &= (self._name_words.having(word, last)[self._name_of]
                      | self._artist_words.having(word, last)[self._artist_of])
            if not found.any():
                break
        return found

    def _substring_rows(self, q: str) -> np.ndarray:
        needle = np.frombuffer(q.encode("utf-8"), dtype=np.uint8)
        length, total = len(needle), len(self._buf)
        if length == 0 or length > total:
            return np.empty(0, dtype=np.int64)
        # anchor on the query's rarest byte, then check the other bytes at those offsets
        anchor = int(np.argmin(self._byte_freq[needle]))
        pos = np.flatnonzero(self._buf == needle[anchor]) - anchor
        pos = pos[(pos >= 0) & (pos <= total - length)]
        for k in range(length):
            if k != anchor and len(pos):
                pos = pos[self._buf[pos + k] == needle[k]]
        return np.searchsorted(self._line_starts, pos, side="right") - 1

    def match_classes(self, q: str) -> np.ndarray:
        """int8 (n,): EXACT / PREFIX / WORDS / SUBSTRING / NO_MATCH per row for a folded
        query."""
        cls = np.full(self.n, NO_MATCH, dtype=np.int8)
        if not q:
            return cls
        cls[self._substring_rows(q)] = SUBSTRING
        cls[self._word_rows(q)] = WORDS
        prefix, exact = self._prefix_rows(q)
        cls[prefix] = PREFIX
        cls[exact] = EXACT
        return cls

    def _grouped(self, rows: np.ndarray, key: np.ndarray, end: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The matching rows that can fill the first ``end`` places once versions are kept
        together, with sort keys doing so: a song's best ``key``, then the version's
        popularity. A song placed in the first ``end`` has its best row among the ``end``
        smallest keys (every row ranked before it belongs to a song placed earlier), so
        only those songs are sorted."""
        versions = self._version_of[rows]
        if end < len(rows):
            top = np.argpartition(key, end - 1)[:end]
            keep = np.isin(versions, np.unique(versions[top]))
            rows, key, versions = rows[keep], key[keep], versions[keep]
        order = np.lexsort((key, versions))
        first = np.ones(len(order), dtype=bool)
        first[1:] = versions[order][1:] != versions[order][:-1]
        best = np.empty(len(rows), dtype=np.int64)
        best[order] = key[order][np.flatnonzero(first)[np.cumsum(first) - 1]]
        return rows, best * self.n + self.popularity_rank[rows]

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
        cls = self.match_classes(folded)
        keep = cls < NO_MATCH
        if allowed is not None:
            keep &= allowed
        rows = np.flatnonzero(keep)
        total = len(rows)
        if offset >= total:
            return rows[:0], total
        end = min(offset + limit, total)
        rows, key = self._grouped(rows, cls[rows].astype(np.int64) * self.n
                                  + self.popularity_rank[rows], end)
        part = np.argpartition(key, end - 1)[:end] if end < len(rows) else np.arange(len(rows))
        part = part[np.argsort(key[part], kind="stable")]
        return rows[part[offset:end]], total
