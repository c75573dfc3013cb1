"""Sampled vs exact silhouette of the K-loop (issue 13): is every K's exact mean inside its
reported 95% interval, and does the sample prefer the same K?

    .venv/bin/python bench/bench_sampled_silhouette.py --csv ../shared/data/tracks_real.csv
    .venv/bin/python bench/bench_sampled_silhouette.py --demo-tracks 300000

Features z-scored, K-Means++ for K=2..10 (``--n-init``, default 1: the comparison is of the
two silhouette estimates on the same labelings, not of the fits), then the exact silhouette
of all nine labelings in one pass and the build's estimator (``estimate_silhouettes`` with
the build's sample sizes), each timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import emit, machine_line, md_row  # noqa: E402
from vibemap.indexer.features import FEATURES  # noqa: E402


def features(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    if args.csv:
        import pandas as pd

        frame = pd.read_csv(args.csv, usecols=list(FEATURES)).dropna()
        return frame.to_numpy(np.float64), f"{Path(args.csv).name}"
    from vibemap.indexer.synthetic.generator import generate_catalogue

    frame = generate_catalogue(n_tracks=args.demo_tracks, seed=0)
    return frame[list(FEATURES)].dropna().to_numpy(np.float64), (
        f"synthetic demo, {args.demo_tracks:,} generated")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--demo-tracks", type=int, default=300_000)
    ap.add_argument("--n-init", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from vibemap.indexer.validation.kloop import DEFAULT_K_VALUES, _fit_all
    from vibemap.indexer.validation.sampled_silhouette import estimate_silhouettes
    from vibemap.indexer.validation.silhouette import available_cores, silhouette_samples_multi

    F, source = features(args)
    Z = ((F - F.mean(0)) / F.std(0)).astype(np.float32)
    ks = DEFAULT_K_VALUES
    t0 = time.perf_counter()
    fits, _ = _fit_all(Z, ks, args.seed, args.n_init, available_cores())
    t_fit = time.perf_counter() - t0
    labelings = [km.labels_ for km in fits]
    t0 = time.perf_counter()
    est = estimate_silhouettes(Z, labelings, ks, seed=args.seed)
    t_sampled = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = [float(s.mean()) for s in silhouette_samples_multi(Z, labelings)]
    t_exact = time.perf_counter() - t0

    emit(f"{source}: {len(Z):,} tracks; {machine_line()}")
    emit(f"K-Means (n_init={args.n_init}) {t_fit:.1f} s; exact silhouette of 9 K "
         f"{t_exact:.1f} s; sampled {t_sampled:.1f} s (sample sizes {list(est.rounds)})")
    emit()
    emit(md_row("K", "exact", "sampled", "95% CI ±", "exact inside"))
    emit(md_row("---:", "---:", "---:", "---:", "---"))
    inside = []
    for k, e, x in zip(ks, est.estimates, exact, strict=True):
        inside.append(abs(e.mean - x) <= e.ci95)
        emit(md_row(k, f"{x:.4f}", f"{e.mean:.4f}", f"{e.ci95:.4f}",
                    "yes" if inside[-1] else "**no**"))
    best_exact = ks[int(np.argmax(exact))]
    best_sampled = est.comparisons[0].best_k
    emit()
    emit(f"every exact value inside its interval: {all(inside)}; preferred K exact "
         f"{best_exact}, sampled {best_sampled}; sample cannot tell apart from K="
         f"{best_sampled}: {list(est.unresolved) or 'none'}")


if __name__ == "__main__":
    main()
