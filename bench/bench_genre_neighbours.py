"""Neighbour genre agreement: the flat scan against the k-d tree (genre_agreement.NEIGHBOUR_SEARCH).

    .venv/bin/python bench/bench_genre_neighbours.py [--data DIR] [--rows N]

Reads the nine features and the genre cells of a Parquet directory (default: the shared 1M
synthetic demo; ``--rows`` keeps the first N rows), z-scores the features (float32), encodes
the genres once and times ``neighbour_genre_agreement`` (2,000 queries, k = 10, cosine and
Euclidean) with each search, alternated twice, in one process; checks both give the same
figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import emit, machine_line, md_row, parquet_z_scores  # noqa: E402
from vibemap.indexer.features import FEATURES  # noqa: E402

DATA = Path("/work/bench-data/demo_1m_parquet")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--rows", type=int, default=0)
    args = ap.parse_args()
    from vibemap.indexer.genre_labels import encode_genres
    from vibemap.indexer.validation.genre_agreement import neighbour_genre_agreement

    Z, table = parquet_z_scores(args.data, FEATURES, extra=["genres"], rows=args.rows,
                                finite_only=False)
    genres = encode_genres(table["genres"].to_pandas())
    emit(machine_line())
    emit(md_row("search", "rows", "wall s (cosine + euclidean)", "agreement cosine / euclidean"))
    emit(md_row("---", "---:", "---:", "---"))
    seen = {}
    for search in ("flat", "kdtree", "flat", "kdtree"):
        t0 = time.perf_counter()
        result = neighbour_genre_agreement(Z, genres, search=search)
        wall = time.perf_counter() - t0
        seen.setdefault(search, result.scores)
        emit(md_row(search, f"{len(Z):,}", f"{wall:.1f}", " / ".join(
            f"{s.agreement:.4f}" for s in result.scores)))
    emit(f"same figures: {seen['flat'] == seen['kdtree']}")


if __name__ == "__main__":
    main()
