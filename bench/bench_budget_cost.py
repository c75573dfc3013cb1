"""How the exact analyses' cost grows with n: the figures behind ``exact_max_tracks``.

    .venv/bin/python bench/bench_budget_cost.py [--sizes 25000,50000,100000,200000]
        [--ward-sizes 25000,50000,100000] [--dbscan-sizes 100000,200000,1000000]

Reads the nine features of the shared 1M synthetic demo (Parquet), z-scores them, labels
them with K-Means (K=2..10, n_init=1, fitted on a 50k sample) and times, on seeded random
subsets of each size: the exact silhouette of the 9 labelings in one pass, Ward
(fastcluster), and DBSCAN (exact below 20k, IVF k-NN above). One process, sequential.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sizes", default="25000,50000,100000,200000")
    ap.add_argument("--ward-sizes", default="25000,50000,100000")
    ap.add_argument("--dbscan-sizes", default="100000,200000,1000000")
    args = ap.parse_args()
    from sklearn.cluster import KMeans

    from vibemap.indexer.validation.outliers import find_outliers
    from vibemap.indexer.validation.silhouette import silhouette_samples_multi
    from vibemap.indexer.validation.taxonomy import ward_taxonomy

    Z, _ = parquet_z_scores(args.data, FEATURES)
    rng = np.random.default_rng(0)
    fit_rows = rng.choice(len(Z), 50_000, replace=False)
    labelings = [KMeans(k, n_init=1, random_state=0).fit(Z[fit_rows]).predict(Z)
                 for k in range(2, 11)]
    emit(machine_line())
    emit(md_row("analysis", "n", "wall s"))
    emit(md_row("---", "---:", "---:"))
    for n in [int(s) for s in args.sizes.split(",") if s]:
        rows = np.sort(rng.choice(len(Z), n, replace=False))
        t0 = time.perf_counter()
        silhouette_samples_multi(Z[rows], [lab[rows] for lab in labelings])
        emit(md_row("exact silhouette, 9 K in one pass", f"{n:,}",
                    f"{time.perf_counter() - t0:.1f}"))
    for n in [int(s) for s in args.ward_sizes.split(",") if s]:
        rows = np.sort(rng.choice(len(Z), n, replace=False))
        t0 = time.perf_counter()
        ward_taxonomy(Z[rows], labelings[2][rows], n_clusters=4)
        emit(md_row("Ward (fastcluster linkage_vector)", f"{n:,}",
                    f"{time.perf_counter() - t0:.1f}"))
    for n in [int(s) for s in args.dbscan_sizes.split(",") if s]:
        rows = np.sort(rng.choice(len(Z), min(n, len(Z)), replace=False))
        t0 = time.perf_counter()
        rep = find_outliers(Z[rows])
        emit(md_row("DBSCAN (IVF k-NN, exact refine above eps)", f"{len(rows):,}",
                    f"{time.perf_counter() - t0:.1f} (exact share "
                    f"{rep.exact_search_share:.3f})"))


if __name__ == "__main__":
    main()
