"""From request values to a query: parameter checks, the row filters, and the query
vector built from seeds, negatives and targets (pure functions on numpy arrays)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vibemap.indexer.era import EraScaler
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
ERA_RULE = (
    "When the artifact has an era column (built with --era-weight W > 0), every index vector "
    "carries W * z(release year) after the nine features, so seeds and negatives bring their "
    "own years (unknown years sit at the catalogue mean: neutral). target_year sets the "
    "query's era: every positive (each seed, re-built from its features, and the target "
    "vector) takes that year, so the query sounds like the seeds but comes from that year; "
    "negatives keep their own. Without target_year the target vector's era is the seeds' "
    "mean known year (neutral for a target-only query). target_year needs a seed or a "
    "target_<feature> and is refused without an era column or with audio_only=true. "
    "min_year / max_year are exact, inclusive filters (unknown years fail them). "
    "audio_only=true ranks by the nine features alone, exactly: the index vectors' first "
    "nine columns (re-normalised under cosine, which gives exactly the nine-feature cosine) "
    "scored by brute force over the scope; on an artifact without an era column it changes "
    "nothing."
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
    min_year: float | None = None
    max_year: float | None = None

    def __bool__(self) -> bool:
        return bool(self.mins or self.maxs or self.genres or self.exclude_artists) or \
            self.min_popularity is not None or self.max_popularity is not None or \
            self.min_year is not None or self.max_year is not None


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


def year_params(target_year: object, min_year: object, max_year: object
                ) -> tuple[float | None, float | None, float | None]:
    """Checked (target_year, min_year, max_year); min_year > max_year raises InvalidQuery."""
    target, lo, hi = (None if v is None else finite_number(k, v) for k, v in (
        ("target_year", target_year), ("min_year", min_year), ("max_year", max_year)))
    if lo is not None and hi is not None and lo > hi:
        raise InvalidQuery(f"min_year={lo:g} is greater than max_year={hi:g}")
    if target is not None and not 0 <= target <= 10_000:
        raise InvalidQuery(f"target_year must be between 0 and 10000, got {target:g}")
    return target, lo, hi


def bool_param(key: str, value: object) -> bool:
    """``value`` as a bool (only True / False), else InvalidQuery naming ``key``."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidQuery(f"{key} must be true or false, got {value!r}")
    return bool(value)


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
def _era_points(years: np.ndarray, rows: list[int], mean_year: float) -> list[float]:
    """The rows' years, unknown ones at the catalogue mean (where their coordinate is 0)."""
    return [float(y) if math.isfinite(y) else mean_year for y in years[rows].tolist()]


def query_year(years: np.ndarray, seed_rows: list[int], negative_rows: list[int],
               target_year: float | None, has_target: bool, mean_year: float | None
               ) -> float | None:
    """The year the query's era coordinate stands for, by the same combination as the
    vectors (:data:`ERA_RULE`): explanations compare results with it. None when no year
    enters the query (no known seed year and no target_year) or the catalogue has none."""
    known = [y for y in years[seed_rows].tolist() if math.isfinite(y)]
    if mean_year is None or (not known and target_year is None):
        return None
    if target_year is not None:  # every positive takes the target year
        ref = float(target_year)
    else:
        points = _era_points(years, seed_rows, mean_year)
        if has_target:
            points.append(float(np.mean(known)))
        ref = float(np.mean(points))
    if negative_rows:
        ref = 2.0 * ref - float(np.mean(_era_points(years, negative_rows, mean_year)))
    return ref


def build_query(X: np.ndarray, F: np.ndarray, scaler: Scaler, metric: str,
                features: Sequence[str], seed_rows: list[int], negative_rows: list[int],
                targets: dict[str, float], era: EraScaler | None = None,
                years: np.ndarray | None = None, target_year: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The query by :data:`COMBINATION_RULE` (and :data:`ERA_RULE` when ``era`` is given).

    X : float32 (n, D) index-space vectors; F : float64 (n, d) features in original units,
    columns in ``features`` order; D = d, or d + 1 with ``era`` (the era column last);
    years : float64 (n,) release years, NaN where unknown (needed with ``era``).
    Returns (query, ref): float32 (D,) in index space, and float64 (d,), the same
    combination in original units (what explanations compare with).
    """
    if era is not None and target_year is not None and seed_rows:
        # the seeds' sound, from the target year
        year = era.transform(np.full(len(seed_rows), target_year, dtype=np.float64))
        seeds_z = np.column_stack([scaler.transform(F[seed_rows]), year])
        positives = list(to_index_space(seeds_z, metric).astype(np.float64))
    else:
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
        if era is not None:
            t_z = np.column_stack([t_z, era.transform(np.asarray(
                [_target_era_year(years, seed_rows, target_year)], dtype=np.float64))])
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


def _target_era_year(years: np.ndarray | None, seed_rows: list[int],
                     target_year: float | None) -> float:
    """The target vector's year: target_year, else the seeds' mean known year, else NaN
    (unknown: the era coordinate is then 0, neutral)."""
    if target_year is not None:
        return target_year
    known = [] if years is None else [y for y in years[seed_rows].tolist() if math.isfinite(y)]
    return float(np.mean(known)) if known else math.nan
