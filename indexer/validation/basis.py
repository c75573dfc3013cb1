"""What each validation figure rests on: "exact on n tracks", "sampled m of N, 95% CI ±x", or
"fitted on a sample of m, all N tracks assigned".

Why: above the exact budget (``BuildSettings.exact_max_tracks``) the O(n^2) analyses run on
samples, and a reader must never mistake an estimate for an exact figure. Every figure of
metrics.json gets a basis entry; the CLI and the UI print its ``label``, written once here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

BOOTSTRAP_ROUNDS = 200


def exact(n: int, what: str = "tracks") -> dict:
    """The basis of a figure computed on all ``n`` tracks."""
    return {"method": "exact", "n": int(n), "of": int(n), "ci95": None,
            "label": f"exact on {n:,} {what}"}


def sampled(m: int, n_total: int, ci95: float | None, what: str = "tracks",
            note: str = "") -> dict:
    """The basis of a figure estimated on ``m`` of ``n_total`` tracks; ``ci95`` is the
    half-width of its 95% confidence interval (None: not measured, ``note`` says why)."""
    ci = None if ci95 is None or not math.isfinite(ci95) else round(float(ci95), 6)
    label = f"sampled {m:,} of {n_total:,} {what}"
    if ci is not None:
        label += f", 95% CI ±{_short(ci)}"
    if note:
        label += f" ({note})"
    return {"method": "sampled", "n": int(m), "of": int(n_total), "ci95": ci, "label": label}


def sampled_fit(m: int, n_total: int, what: str = "tracks") -> dict:
    """The basis of a figure computed on all ``n_total`` tracks from a model fitted on ``m``
    of them (the K-loop's K-Means above the budget, vibemap.indexer.validation.kfits): no
    sampling error in the figure given the fit; the fit itself rests on the sample."""
    return {"method": "sampled_fit", "n": int(n_total), "of": int(n_total),
            "fit_sample": int(m), "ci95": None,
            "label": f"fitted on a sample of {m:,}, all {n_total:,} {what} assigned"}


def _short(x: float) -> str:
    """Two significant digits: ±0.0021, ±0.013, ±1.2."""
    return f"{x:.2g}" if x >= 1e-4 else f"{x:.1e}"


def bootstrap_ci95(statistic: Callable[[np.ndarray], float], n: int, *,
                   rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> float:
    """Half-width of the 95% percentile bootstrap interval of ``statistic`` over ``n`` rows.

    statistic : maps an int array of resampled row indices (shape (n,)) to a float.
    """
    if n < 2:
        return math.inf
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(rounds)])
    low, high = np.quantile(values, [0.025, 0.975])
    return float(high - low) / 2
