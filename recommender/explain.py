"""Why a track was recommended: the features where it is closest to and furthest from
the query, compared in scaler units so that features of different ranges compare."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EXPLAIN_FEATURES = 3


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
    closest = order[:, :e].tolist()
    furthest = order[:, ::-1][:, :e].tolist()
    Fl = np.round(F, 6).tolist()
    ref_l = np.round(ref, 6).tolist()
    return [{"closest": [{"feature": features[j], "track": fr[j], "query": ref_l[j]}
                         for j in near],
             "furthest": [{"feature": features[j], "track": fr[j], "query": ref_l[j]}
                          for j in far]}
            for fr, near, far in zip(Fl, closest, furthest, strict=True)]
