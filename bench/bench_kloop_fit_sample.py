"""The K-loop's sampled fits against fits on all rows: what ``kfits.FIT_SAMPLE`` rests on.

    .venv/bin/python bench/bench_kloop_fit_sample.py [--data DIR] [--samples 200000,500000]
        [--lloyd]

Reads the nine features of a Parquet directory (default: the shared 1M synthetic demo),
z-scores them (float32) and runs ``kfits.fit_all`` for K = 2..10 (n_init 10, two fits at a
time) on all rows, then on each sample size (fit on the sample, every row assigned). Per K:
the inertia on all rows relative to the full fit, and the ARI of the labels against the full
fit's. With ``--lloyd``, also one Lloyd step on all rows after the sampled fit (means of
the assigned rows, then assigned again). One process, sequential.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import emit, machine_line, md_row, parquet_z_scores  # noqa: E402
from vibemap.indexer.features import FEATURES  # noqa: E402

DATA = Path("/work/bench-data/demo_1m_parquet")
K_VALUES = tuple(range(2, 11))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--samples", default="200000,500000")
    ap.add_argument("--lloyd", action="store_true")
    args = ap.parse_args()
    from sklearn.metrics import adjusted_rand_score

    from vibemap.indexer.validation.kfits import assign_nearest, fit_all

    Z, _ = parquet_z_scores(args.data, FEATURES)
    emit(machine_line())
    t0 = time.perf_counter()
    full = fit_all(Z, K_VALUES, 0, 10, 2)
    emit(f"full fits on {len(Z):,} rows, K=2..10: {time.perf_counter() - t0:.1f} s wall")
    emit(md_row("sample", "K", "inertia / full", "ARI vs full", "after 1 Lloyd step: inertia / "
                "full, ARI"))
    emit(md_row("---:", "---:", "---:", "---:", "---:"))
    for size in [int(s) for s in args.samples.split(",") if s]:
        t0 = time.perf_counter()
        fits = fit_all(Z, K_VALUES, 0, 10, 2, fit_sample=size)
        wall = time.perf_counter() - t0
        for f, g in zip(fits, full, strict=True):
            lloyd = ""
            if args.lloyd:
                C = np.stack([Z[f.labels == j].mean(axis=0, dtype=np.float64)
                              for j in range(f.n_clusters)])
                labels, inertia = assign_nearest(Z, C)
                lloyd = (f"{inertia / g.inertia:.5f}, "
                         f"{adjusted_rand_score(g.labels, labels):.4f}")
            emit(md_row(f"{size:,}", f.n_clusters, f"{f.inertia / g.inertia:.5f}",
                        f"{adjusted_rand_score(g.labels, f.labels):.4f}", lloyd))
        emit(f"sampled fits on {size:,} rows + assignment of all, K=2..10: {wall:.1f} s wall")


if __name__ == "__main__":
    main()
