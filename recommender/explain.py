"""Why a track was recommended: the features where it is closest to and furthest from
the query, compared in scaler units so that features of different ranges compare, and,
for an artifact with an era column, the release years compared."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EXPLAIN_FEATURES = 3
SAME_ERA_YEARS = 5  # years apart that still read as "same era"


def explanations(F: np.ndarray, ref: np.ndarray, scale: np.ndarray,
                 features: Sequence[str]) -> list[dict]:
    """One ``{"closest", "furthest"}`` explanation per result row.

    F : float64 (m, d) the results' features in original units; ref : float64 (d,) the
    query in original units; scale : float64 (d,) the scaler's scale. Each list holds
    ``min(3, d // 2)`` (at least one) ``{"feature", "track", "query"}`` items, closest
    first / furthest first (ties: feature order).
    """
    dz = np.abs(F - ref) / scale
    order = np.argsort(dz, axis=1, kind="stable")
    e = max(1, min(EXPLAIN_FEATURES, len(features) // 2))
    # the closest e then the furthest e features of each row, as plain lists at once
    picked = np.concatenate([order[:, :e], order[:, :-e - 1:-1]], axis=1).tolist()
    tracks = np.round(F, 6).tolist()
    query = np.round(ref, 6).tolist()
    out = []
    for row, track in zip(picked, tracks, strict=True):
        items = [{"feature": features[j], "track": track[j], "query": query[j]} for j in row]
        out.append({"closest": items[:e], "furthest": items[e:]})
    return out


def _year(value: float | None) -> int | None:
    return None if value is None or not math.isfinite(value) else int(round(value))


def era_explanation(track_year: float, query_year: float | None) -> dict:
    """``{"track", "query", "difference", "text"}``: the result's release year, the year
    the query stands for (None: no year entered the query), their difference (track minus
    query) and a sentence such as "same era: 1975 vs 1977" or "12 years later (1975 vs
    1987)"."""
    track, query = _year(track_year), _year(query_year)
    if track is None:
        return {"track": None, "query": query, "difference": None,
                "text": "release year unknown"}
    if query is None:
        return {"track": track, "query": None, "difference": None,
                "text": f"released {track}"}
    diff = track - query
    if abs(diff) <= SAME_ERA_YEARS:
        text = f"same era: {query} vs {track}"
    else:
        text = f"{abs(diff)} years {'later' if diff > 0 else 'earlier'} ({query} vs {track})"
    return {"track": track, "query": query, "difference": diff, "text": text}
