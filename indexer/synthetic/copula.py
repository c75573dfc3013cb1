"""The synthetic catalogue's feature model: a Gaussian mixture copula over real marginals.

For each track a latent normal vector
``mu_g + L_g (sqrt(s) e_artist + sqrt(1 - s) e_track)`` (``L_g L_g^T`` the genre
covariance after the stats' small correlation calibration, ``s`` the artist share), so
the genre's covariance is kept exactly and tracks of one artist sound alike; each
coordinate is mapped through the mixture's own marginal CDF to a uniform, then through
the real quantile table of that feature. Point masses (instrumentalness == 0) come out
of the quantile table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vibemap.indexer.features import FEATURES, VALID_RANGES

_LATENT_GRID = np.linspace(-7.0, 7.0, 4001)  # uniform: lookups need no search


@dataclass(frozen=True)
class Mixture:
    """The stats file's feature model as arrays (C components, 9 features)."""

    labels: list[str]  # genre label per component; "" for the tail
    weights: np.ndarray  # (C,)
    means: np.ndarray  # (C, 9)
    chols: np.ndarray  # (C, 9, 9), lower Cholesky factors of the covariances
    artist_share: np.ndarray  # (C,)
    feature_table: np.ndarray  # (9, len(_LATENT_GRID)): feature value at each latent score


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz & Stegun 7.1.26, abs. error < 1e-7), same shape."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _nearest_correlation(R: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Clip a symmetric matrix's eigenvalues at ``floor`` and rescale to unit diagonal."""
    vals, vecs = np.linalg.eigh(0.5 * (R + R.T))
    fixed = (vecs * np.maximum(vals, floor)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def _calibrated(covs: np.ndarray, stats: dict) -> np.ndarray:
    """Apply the stats file's correlation calibration to every component covariance.

    covs : float64 array of shape (C, 9, 9). The calibration (see
    ``data/derive_demo_stats.py``) is one symmetric matrix added to every
    component's within-genre correlation matrix, so that Pearson correlations of
    the drawn features match the real ones (a Gaussian copula alone matches rank
    correlations but not Pearson's on these skewed marginals).
    """
    delta = (stats.get("calibration") or {}).get("delta_correlation")
    if delta is None:
        return covs
    delta = np.asarray(delta, dtype=np.float64)
    out = np.empty_like(covs)
    for c, cov in enumerate(covs):
        sd = np.sqrt(np.diag(cov))
        R = _nearest_correlation(cov / np.outer(sd, sd) + delta)
        out[c] = R * np.outer(sd, sd)
    return out


def mixture(stats: dict) -> Mixture:
    comps = [*stats["genres"], stats["tail"]]
    weights = np.array([c["weight"] for c in comps], dtype=np.float64)
    means = np.array([c["mean"] for c in comps], dtype=np.float64)
    covs = _calibrated(np.array([c["cov"] for c in comps], dtype=np.float64), stats)
    ridge = 1e-6 * np.eye(len(FEATURES))
    chols = np.linalg.cholesky(0.5 * (covs + covs.transpose(0, 2, 1)) + ridge)
    share = np.full(len(comps), float(stats["artist_share"]))
    share[-1] = float(stats["tail"].get("artist_share", stats["artist_share"]))
    weights = weights / weights.sum()
    sds = np.sqrt(np.diagonal(covs, axis1=1, axis2=2))  # (C, 9)
    grid = _LATENT_GRID[None, :, None]  # (1, G, 1)
    cdf = (weights[:, None, None] * norm_cdf((grid - means[:, None, :]) / sds[:, None, :]))
    # latent score -> mixture CDF (a uniform) -> real quantile: tabulated once per feature
    probabilities = np.asarray(stats["probabilities"], dtype=np.float64)
    table = np.array([np.interp(u, probabilities, stats["quantiles"][f])
                      for u, f in zip(cdf.sum(axis=0).T, FEATURES, strict=True)])
    return Mixture(
        labels=[c.get("genre") or "" for c in comps],
        weights=weights,
        means=means,
        chols=chols,
        artist_share=np.clip(share, 0.0, 1.0),
        feature_table=table,
    )


@dataclass(frozen=True)
class Layout:
    """Who is who: artists sorted by mixture component, tracks sorted by artist."""

    artist_comp: np.ndarray  # int64 (n_artists,), non-decreasing
    track_artist: np.ndarray  # int64 (n_tracks,), non-decreasing

    def component_bounds(self, n_components: int) -> np.ndarray:
        """Track slice [bounds[c], bounds[c + 1]) of each component, shape (C + 1,)."""
        track_comp = self.artist_comp[self.track_artist]
        return np.searchsorted(track_comp, np.arange(n_components + 1))


def latent_scores(layout: Layout, mix: Mixture, rng: np.random.Generator) -> np.ndarray:
    """Latent normal scores per track (layout order), float64 array (n_tracks, 9)."""
    d = len(FEATURES)
    artist_noise = rng.standard_normal((len(layout.artist_comp), d))
    Z = rng.standard_normal((len(layout.track_artist), d))
    bounds = layout.component_bounds(len(mix.labels))
    for c in range(len(mix.labels)):
        lo, hi = bounds[c], bounds[c + 1]
        if lo == hi:
            continue
        s = mix.artist_share[c]
        mixed = (math.sqrt(s) * artist_noise[layout.track_artist[lo:hi]]
                 + math.sqrt(1 - s) * Z[lo:hi])
        Z[lo:hi] = mix.means[c] + mixed @ mix.chols[c].T
    return Z


def to_features(Z: np.ndarray, mix: Mixture) -> np.ndarray:
    """Map latent scores to feature values, float64 (n_tracks, 9) in original units.

    Linear interpolation in ``mix.feature_table`` on the uniform latent grid
    (index arithmetic instead of a binary search per value).
    """
    lo, step = _LATENT_GRID[0], _LATENT_GRID[1] - _LATENT_GRID[0]
    top = len(_LATENT_GRID) - 1
    X = np.empty_like(Z)
    for j, name in enumerate(FEATURES):
        pos = np.clip((Z[:, j] - lo) / step, 0.0, float(top))
        i = np.minimum(pos.astype(np.int64), top - 1)
        table = mix.feature_table[j]
        x = table[i] + (pos - i) * (table[i + 1] - table[i])
        rng = VALID_RANGES[name]
        low = rng.low if rng.low_inclusive else np.nextafter(rng.low, np.inf)
        X[:, j] = np.clip(x, low, rng.high)
    return X
