"""Name / artist search over a catalogue, precomputed once at load.

Matching is case- and accent-insensitive (:func:`vibemap.indexer.folding.fold`). A track's
rank class is the best of its name and artist matches: exact (0) > prefix (1) >
substring (2); within a class, more popular first, then catalogue row. Exact matches
come from a dict, prefixes from sorted keys (bisect), substrings from a vectorised
byte scan of one UTF-8 haystack (UTF-8 is self-synchronising, so a byte match of a
folded query is a character match). No per-row Python work runs per query.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from vibemap.indexer.folding import fold

EXACT, PREFIX, SUBSTRING, NO_MATCH = 0, 1, 2, 3
# haystack line = name, field separator, artist; fold() turns both into spaces in a query
_FIELD_SEP = "\x1f"
_LINE_SEP = "\n"
_BATCH_LINES = 1 << 18


class TrackSearch:
    """Ranked text search; row i of every input is catalogue row i.

    folded_names, folded_artists : strings already passed through :func:`fold`.
    popularity : float array (n,), NaN for unknown (ranked last).
    """

    def __init__(self, folded_names: Sequence[str], folded_artists: Sequence[str],
                 popularity: np.ndarray) -> None:
        n = len(folded_names)
        self.n = n
        self._sorted: list[tuple[list[str], np.ndarray]] = []
        for folded in (folded_names, folded_artists):
            order = sorted(range(n), key=folded.__getitem__)
            self._sorted.append(([folded[i] for i in order], np.asarray(order, dtype=np.int64)))
        # one UTF-8 buffer, encoded a batch of lines at a time (one str of every line would
        # briefly cost three times the buffer at 10M rows)
        haystack = bytearray()
        for start in range(0, n, _BATCH_LINES):
            if start:
                haystack += _LINE_SEP.encode()
            haystack += _LINE_SEP.join(
                f"{a}{_FIELD_SEP}{b}" for a, b in zip(folded_names[start:start + _BATCH_LINES],
                                                      folded_artists[start:start + _BATCH_LINES],
                                                      strict=True)).encode("utf-8")
        self._buf = np.frombuffer(haystack, dtype=np.uint8)
        newlines = np.flatnonzero(self._buf == ord(_LINE_SEP))
        self._line_starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        self._byte_freq = np.bincount(self._buf, minlength=256)
        pop = np.asarray(popularity, dtype=np.float64)
        # position of each row when sorted by popularity desc (unknown last), then row
        order = np.lexsort((np.arange(n), np.isnan(pop), -np.nan_to_num(pop, nan=0.0)))
        self.popularity_rank = np.empty(n, dtype=np.int64)
        self.popularity_rank[order] = np.arange(n)
        self.popularity_order = order

    def _prefix_rows(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows whose name or artist starts with q, rows whose name or artist is q)."""
        prefix, exact = [], []
        for keys, rows in self._sorted:
            lo = bisect.bisect_left(keys, q)
            hi = bisect.bisect_left(keys, q + "\U0010ffff")
            prefix.append(rows[lo:hi])
            exact.append(rows[lo:bisect.bisect_right(keys, q, lo, hi)])
        return np.concatenate(prefix), np.concatenate(exact)

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
        """int8 (n,): EXACT / PREFIX / SUBSTRING / NO_MATCH per row for a folded query."""
        cls = np.full(self.n, NO_MATCH, dtype=np.int8)
        if not q:
            return cls
        cls[self._substring_rows(q)] = SUBSTRING
        prefix, exact = self._prefix_rows(q)
        cls[prefix] = PREFIX
        cls[exact] = EXACT
        return cls

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
        key = cls[rows].astype(np.int64) * self.n + self.popularity_rank[rows]
        end = min(offset + limit, total)
        part = np.argpartition(key, end - 1)[:end] if end < total else np.arange(total)
        part = part[np.argsort(key[part], kind="stable")]
        return rows[part[offset:end]], total
