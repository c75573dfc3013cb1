"""Which exact computation ranks a filtered recommendation: the cone walk
(:mod:`.cone_scan`) on an artifact with cones, which checks the filters and scores only
the rows that can still make the top k; otherwise, or when the walk gives up, the filter
mask over the scope and a score of every passing row (:func:`.ranking.scan_best`).
Both give the same exact ranking (score desc, then row)."""

from __future__ import annotations

import numpy as np

from vibemap.recommender.catalogue import Catalogue
from vibemap.recommender.cone_scan import ConeScan
from vibemap.recommender.query import RowFilters
from vibemap.recommender.ranking import Best, Scope, scan_best


class FilteredRanking:
    """``best(k)`` for a recommendation's filters over one catalogue.

    cones : the artifact's cone walk over the index vectors, or None.
    """

    def __init__(self, catalogue: Catalogue, cones: ConeScan | None, metric: str) -> None:
        self.catalogue = catalogue
        self.cones = cones
        self.metric = metric

    def best(self, X: np.ndarray, q: np.ndarray, scope: Scope, filters: RowFilters,
             exclude: set[int], every_row: bool) -> Best | None:
        """The ranking of the scope's rows passing ``filters`` (not in ``exclude``) by
        their score to ``q`` over ``X``; None when there are no filters and ``every_row``
        is False (the index searches then). ``every_row``: ``X`` is not the index space
        (audio_only), so every row is scored even without filters."""
        c = self.catalogue
        if not filters and not every_row:
            return None
        plain: list[Best] = []

        def scan(k: int) -> tuple[np.ndarray, np.ndarray]:
            if not plain:
                mask = c.candidate_mask(filters, scope.start, scope.stop)
                if mask is None:
                    mask = np.ones(scope.size, dtype=bool)
                plain.append(scan_best(X, q, scope, mask, exclude, self.metric))
            return plain[0](k)

        if self.cones is None or every_row or X is not self.cones.X or scope.size == 0:
            return scan
        codes = c.exclude_codes(filters.exclude_artists)
        ex = np.sort(np.fromiter(exclude, dtype=np.int64))

        def walk(k: int) -> tuple[np.ndarray, np.ndarray]:
            got = None if plain else self.cones.top(
                q, k, scope.vibe_id, lambda rows: c.filters.mask(filters, rows, codes), ex)
            return scan(k) if got is None else got

        return walk
