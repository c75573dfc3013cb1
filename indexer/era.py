"""The era dimension: release year as one more standardised, weighted coordinate.

Nine audio features say how a track sounds; two tracks can match on all nine and still be
fifty years apart. Appending ``W * z(year)`` to the z-scored features makes neighbours
prefer the same era in proportion to ``W``. Vibes stay K-Means on the nine features: era
changes who is *near*, not which personality a track has.

Missing years take the catalogue mean, i.e. a standardised value of 0: such a track is
neither pulled towards nor pushed from any era. A catalogue without years (or with one
year only) gives an all-zero column, so the dimension is neutral there instead of NaN.
With ``W = 0`` the column is exactly zero and cosine neighbours are those of the nine
features (tests/test_era.py checks this).

Pure functions on arrays: no I/O, no global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MISSING_POLICY = "catalogue mean"
"""How a track without a release year is placed: at the mean year (z = 0, neutral)."""

ERA_COLUMN = "release_year"
"""The tracks-table column the era dimension is built from (see indexer/catalogue.py)."""


@dataclass(frozen=True)
class EraScaler:
    """How release years become the era coordinate; stored in the manifest.

    ``mean`` and ``scale`` are the population mean and standard deviation of the known
    years (``None`` when there are none). ``scale`` is 1.0 when the known years are all
    equal, so the coordinate is 0 for everyone (neutral) rather than a division by zero.
    The coordinate of a year ``y`` is ``weight * (y - mean) / scale``; a missing year
    gets ``weight * 0``.
    """

    mean: float | None
    scale: float
    weight: float
    missing: str = MISSING_POLICY
    n_known: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"era weight must be a finite number >= 0, got {self.weight!r}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"era scale must be a finite number > 0, got {self.scale!r}")
        if self.mean is not None and not math.isfinite(self.mean):
            raise ValueError(f"era mean must be finite or None, got {self.mean!r}")
        if self.missing != MISSING_POLICY:
            raise ValueError(
                f"unknown missing-year policy {self.missing!r}; have {MISSING_POLICY!r}"
            )

    @property
    def active(self) -> bool:
        """True when the era coordinate can move any neighbour (weight > 0 and years vary)."""
        return self.weight > 0 and self.mean is not None and self.n_known > 0

    def transform(self, years: np.ndarray) -> np.ndarray:
        """Years -> weighted era coordinates.

        Parameters
        ----------
        years : float array of shape (n_tracks,), NaN where the year is unknown.

        Returns
        -------
        float32 array of shape (n_tracks,), finite: ``weight * z`` with z = 0 for a missing
        year or when the fitted catalogue had no years.
        """
        return _finite_float32(self.weight * standardised_years(years, self.mean, self.scale))

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": ERA_COLUMN,
            "weight": float(self.weight),
            "mean": None if self.mean is None else float(self.mean),
            "scale": float(self.scale),
            "missing": self.missing,
            "n_known": int(self.n_known),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EraScaler:
        mean = data.get("mean")
        return cls(
            mean=None if mean is None else float(mean),
            scale=float(data["scale"]),
            weight=float(data["weight"]),
            missing=str(data.get("missing", MISSING_POLICY)),
            n_known=int(data.get("n_known", 0)),
        )


def _as_years(years: np.ndarray) -> np.ndarray:
    """A 1-D float64 copy with every non-finite value (NaN, inf) read as missing."""
    y = np.array(years, dtype=np.float64, copy=True).reshape(-1)
    y[~np.isfinite(y)] = np.nan
    return y


def _finite_float32(values: np.ndarray) -> np.ndarray:
    """float64 -> float32, clipped to float32's range so no absurd input becomes inf."""
    limit = float(np.finfo(np.float32).max)
    return np.clip(values, -limit, limit).astype(np.float32)


def fit_era_scaler(years: np.ndarray, weight: float) -> EraScaler:
    """Mean and standard deviation of the known years, and the weight to apply.

    Parameters
    ----------
    years : float array of shape (n_tracks,), NaN (or any non-finite value) where unknown.
        An integer column with pandas' ``<NA>`` converts with
        ``series.to_numpy(dtype=float, na_value=np.nan)``.
    weight : W >= 0; 0 keeps today's nine-feature neighbours.

    Returns
    -------
    EraScaler
        ``mean=None`` when no year is known; ``scale=1.0`` when fewer than two distinct
        years are known (every coordinate is then 0: neutral).
    """
    y = _as_years(years)
    known = y[np.isfinite(y)]
    if known.size == 0:
        return EraScaler(mean=None, scale=1.0, weight=float(weight), n_known=0)
    if known.min() == known.max():  # one distinct year: exactly neutral, no rounding noise
        return EraScaler(mean=float(known[0]), scale=1.0, weight=float(weight), n_known=known.size)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(known.mean()), float(known.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        # absurd finite values (1e308) overflow the sums: redo them on years / max|year|
        top = float(np.abs(known).max())
        unit = known / top
        mean, std = float(unit.mean()) * top, float(unit.std()) * top
    scale = std if std > 0 and math.isfinite(std) else 1.0
    return EraScaler(mean=mean, scale=scale, weight=float(weight), n_known=int(known.size))


def standardised_years(years: np.ndarray, mean: float | None, scale: float) -> np.ndarray:
    """``(year - mean) / scale`` with missing years (and a catalogue without years) at 0.

    Parameters
    ----------
    years : float array of shape (n_tracks,), NaN where unknown.
    mean, scale : from :func:`fit_era_scaler`; ``mean=None`` means no year was known.

    Returns
    -------
    float64 array of shape (n_tracks,), always finite.
    """
    y = _as_years(years)
    if mean is None:
        return np.zeros_like(y)
    with np.errstate(over="ignore", invalid="ignore"):
        z = (0.5 * y - 0.5 * mean) / scale * 2.0  # halves: y - mean cannot overflow
    z[~np.isfinite(z)] = 0.0  # missing years, and overflow from absurd inputs: neutral
    return z


def append_era(Z: np.ndarray, era: np.ndarray, weight: float) -> np.ndarray:
    """The nine z-scored features with ``weight * era`` as one more column.

    Parameters
    ----------
    Z : float array of shape (n_tracks, 9), z-scored audio features.
    era : float array of shape (n_tracks,), standardised years (:func:`standardised_years`),
        finite.
    weight : W >= 0; with 0 the new column is exactly 0.0.

    Returns
    -------
    float32 array of shape (n_tracks, 10); columns 0..8 are ``Z`` unchanged (so plain
    audio similarity is ``[:, :9]``), column 9 is ``weight * era``.
    """
    Z = np.asarray(Z)
    era = np.asarray(era, dtype=np.float64).reshape(-1)
    if Z.ndim != 2 or Z.shape[0] != era.shape[0]:
        raise ValueError(f"Z must have shape ({era.shape[0]}, d) like era, got {Z.shape}")
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"era weight must be a finite number >= 0, got {weight!r}")
    if not np.isfinite(era).all():
        raise ValueError("era must be finite (use standardised_years, which maps missing to 0)")
    out = np.empty((Z.shape[0], Z.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = Z
    out[:, -1] = _finite_float32(weight * era) if weight > 0 else 0.0
    return out


def era_vectors(Z: np.ndarray, years: np.ndarray, weight: float) -> tuple[np.ndarray, EraScaler]:
    """Fit the era scaler on ``years`` and append the weighted column to ``Z``.

    Z : float array (n_tracks, 9); years : float array (n_tracks,), NaN where unknown.
    Returns the float32 (n_tracks, 10) matrix and the fitted :class:`EraScaler`.
    """
    scaler = fit_era_scaler(years, weight)
    era = standardised_years(years, scaler.mean, scaler.scale)
    return append_era(Z, era, weight), scaler
