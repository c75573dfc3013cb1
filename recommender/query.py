"""From request values to a query: parameter checks, the row filters, and the query
vector built from seeds, negatives and targets (pure functions on numpy arrays)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vibemap.indexer.personalities import Scaler
from vibemap.indexer.vector_index import to_index_space
from vibemap.recommender.errors import InvalidQuery

MAX_SEEDS = 5
MAX_NEGATIVES = 5

COMBINATION_RULE = (
    "Seeds, negatives and targets combine by Qdrant's average-vector rule. The positives are "
    "the index vectors of the seed tracks plus, when any target_<feature> is given, ONE target "
    "vector: the targets in original units (features not given are taken from the seeds' mean, "
    "or from the catalogue mean for a target-only query) put through the artifact's scaler and "
    "into index space. The query is mean(positives) without negatives, else "
    "2 * mean(positives) - mean(negatives); under the cosine metric it is re-normalised to unit "
    "length. Seeds and negatives never appear in the results. min_/max_<feature>, popularity, "
    "genre, vibe and artist filters are exact: ranking runs over every row that passes them."
)


@dataclass(frozen=True)
class RowFilters:
    """A recommendation's exact row filters (all inclusive; unknown popularity fails a
    popularity bound). ``genres`` are folded tokens, ``exclude_artists`` names as given."""

    mins: dict[str, float]
    maxs: dict[str, float]
    min_popularity: float | None
    max_popularity: float | None
    genres: list[str]
    exclude_artists: list[str]

    def __bool__(self) -> bool:
        return bool(self.mins or self.maxs or self.genres or self.exclude_artists) or \
            self.min_popularity is not None or self.max_popularity is not None


# ------------------------------------------------------------------ parameters
def finite_number(key: str, value: object) -> float:
    """``value`` as a finite float, else InvalidQuery naming ``key``."""
    if isinstance(value, bool) or value is None:
        raise InvalidQuery(f"{key} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidQuery(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidQuery(f"{key} must be a finite number, got {value!r}")
    return number


def int_param(key: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (no upper bound when ``high`` is None)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidQuery(f"{key} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidQuery(f"{key} must be {bounds}, got {value}")
    return value


def as_list(value: str | Iterable[str] | None) -> list[str]:
    """One string or many as a list of strings (None: none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def popularity_bounds(min_popularity: object, max_popularity: object
                      ) -> tuple[float | None, float | None]:
    """Checked (min, max) popularity; min > max raises InvalidQuery."""
    lo = None if min_popularity is None else finite_number("min_popularity", min_popularity)
    hi = None if max_popularity is None else finite_number("max_popularity", max_popularity)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidQuery(f"min_popularity={lo:g} is greater than max_popularity={hi:g}")
    return lo, hi


def parse_feature_params(params: Mapping[str, object], features: Sequence[str]
                         ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Split ``target_<f>`` / ``min_<f>`` / ``max_<f>`` keys into three dicts keyed by
    feature (values finite floats, None values skipped); unknown keys or features raise
    InvalidQuery, and so does min_<f> > max_<f>."""
    targets: dict[str, float] = {}
    mins: dict[str, float] = {}
    maxs: dict[str, float] = {}
    buckets = {"target_": targets, "min_": mins, "max_": maxs}
    for key, value in params.items():
        prefix = next((p for p in buckets if key.startswith(p)), None)
        if prefix is None:
            raise InvalidQuery(f"unknown parameter {key!r}")
        bucket, feature = buckets[prefix], key[len(prefix):]
        if feature not in features:
            raise InvalidQuery(f"unknown feature {feature!r} in {key!r}; "
                               f"features are {', '.join(features)}")
        if value is None:
            continue
        bucket[feature] = finite_number(key, value)
    for f in sorted(mins.keys() & maxs.keys()):
        if mins[f] > maxs[f]:
            raise InvalidQuery(f"min_{f}={mins[f]:g} is greater than max_{f}={maxs[f]:g}")
    return targets, mins, maxs


def seed_lists(seed_tracks: Sequence[str] | str, negative_tracks: Sequence[str] | str,
               has_targets: bool) -> tuple[list[str], list[str]]:
    """(seeds, negatives): stripped, de-duplicated track ids, checked against the limits
    and each other; a query needs a seed or a target."""
    seeds = list(dict.fromkeys(t.strip() for t in as_list(seed_tracks) if t.strip()))
    negatives = list(dict.fromkeys(t.strip() for t in as_list(negative_tracks) if t.strip()))
    if len(seeds) > MAX_SEEDS:
        raise InvalidQuery(f"at most {MAX_SEEDS} seed_tracks, got {len(seeds)}")
    if len(negatives) > MAX_NEGATIVES:
        raise InvalidQuery(f"at most {MAX_NEGATIVES} negative_tracks, got {len(negatives)}")
    both = set(seeds) & set(negatives)
    if both:
        raise InvalidQuery(f"track(s) both seed and negative: {', '.join(sorted(both))}")
    if not seeds and not has_targets:
        raise InvalidQuery("give at least one seed track or one target_<feature>")
    return seeds, negatives


# ---------------------------------------------------------------------- query
def build_query(X: np.ndarray, F: np.ndarray, scaler: Scaler, metric: str,
                features: Sequence[str], seed_rows: list[int], negative_rows: list[int],
                targets: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The query by :data:`COMBINATION_RULE`.

    X : float32 (n, d) index-space vectors; F : float64 (n, d) features in original units,
    columns in ``features`` order. Returns (query, ref): float32 (d,) in index space, and
    float64 (d,), the same combination in original units (what explanations compare with).
    """
    positives = [X[r].astype(np.float64) for r in seed_rows]
    points = [F[r] for r in seed_rows]
    if targets:
        base = (F[seed_rows].mean(axis=0) if seed_rows
                else np.asarray(scaler.mean, dtype=np.float64).copy())
        for f, v in targets.items():
            base[list(features).index(f)] = v
        with np.errstate(over="ignore"):
            t_z = scaler.transform(base[None, :])
        # beyond a million standard deviations a target means nothing and overflows L2
        if not np.all(np.abs(t_z) < 1e6):
            raise InvalidQuery("target values are too far outside the catalogue's range")
        positives.append(to_index_space(t_z, metric)[0].astype(np.float64))
        points.append(base)
    q = np.mean(positives, axis=0)
    ref = np.mean(points, axis=0)
    if negative_rows:
        q = 2.0 * q - X[negative_rows].astype(np.float64).mean(axis=0)
        ref = 2.0 * ref - F[negative_rows].mean(axis=0)
    if metric == "cosine":
        norm = float(np.linalg.norm(q))
        if norm < 1e-9:
            raise InvalidQuery(
                "the combined query vector is zero (targets at the catalogue mean, or "
                "negatives cancelling the seeds); there is no direction to rank by")
        q = q / norm
    return np.ascontiguousarray(q, dtype=np.float32), ref
