"""In-process latency of the recommender engine at ~96k tracks; prints a markdown snippet.

    .venv/bin/python bench/bench_engine.py [--index DIR] [--csv PATH] [--queries 3000]
                                           [--threads 1] [--seed 0] [--json OUT]

Artifact: ``--index DIR`` when given; otherwise one is built (K=4, no evaluation) into a
temporary directory from ``--csv``, else from the synthetic demo catalogue (96,000 tracks).

Each operation runs ``--queries`` times on seeds drawn uniformly at random (seeded), after
a warm-up, timed per call with ``time.perf_counter_ns``; FAISS runs with ``--threads``
OpenMP threads (the service's default is 1). No HTTP: this is the engine alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import emit, machine_info, machine_line, md_row, write_json  # noqa: E402
from vibemap.recommender.engine import Engine, set_search_threads  # noqa: E402

TARGET_SIMILAR_P99_MS = 1.0


def _build(out: Path, csv: Path | None) -> str:
    from vibemap.indexer.pipeline import build_index
    from vibemap.indexer.settings import BuildSettings

    settings = BuildSettings(csv=csv, out=out, n_clusters=4, n_init=3, evaluate=False,
                             demo_catalogue="real" if csv else "synthetic")
    build_index(settings)
    return str(csv) if csv else "synthetic demo catalogue"


def _time(fn: Callable[[int], object], args: list[int], warmup: int = 200) -> np.ndarray:
    for a in args[:warmup]:
        fn(a)
    out = np.empty(len(args), dtype=np.float64)
    clock = time.perf_counter_ns
    for i, a in enumerate(args):
        t0 = clock()
        fn(a)
        out[i] = clock() - t0
    return out / 1e6  # ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an artifact directory to load")
    parser.add_argument("--csv", type=Path, help="build from this CSV instead of the demo")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1,
                        help="search threads (FAISS OpenMP + BLAS), as the service sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    set_search_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="vibemap-bench-") as tmp:
        if args.index:
            index, source = args.index, str(args.index)
        else:
            index = Path(tmp) / "bench"
            t0 = time.perf_counter()
            source = _build(index, args.csv)
            emit(f"built {index.name} from {source} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        engine = Engine.load(index)
        load_s = time.perf_counter() - t0

    n = engine.n_tracks
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(0, n, size=args.queries).tolist()
    ids = engine.catalogue.ids  # the bench picks seeds by row
    summary = engine.artifact_summary()
    features = engine.features
    genre_pool = [g for g, _ in sorted(engine.catalogue.genre_rows.items(),
                                       key=lambda kv: -len(kv[1]))[:20]] or [None]
    names = engine.catalogue.names

    def target_of(r: int) -> dict:
        return {f"target_{features[0]}": float(engine.catalogue.F[r, 0])}

    ops: dict[str, Callable[[int], object]] = {
        "similar, scope=same (vibe sub-index)": lambda r: engine.similar(ids[r]),
        "similar, scope=any (all rows)": lambda r: engine.similar(ids[r], scope="any"),
        "recommend: 2 seeds + 1 negative + target": lambda r: engine.recommend(
            [ids[r], ids[(r + 1) % n]], [ids[(r + 7) % n]], **target_of((r + 3) % n)),
        "recommend: seed + min/max + genre filters": lambda r: engine.recommend(
            [ids[r]], genres=genre_pool[r % len(genre_pool)], min_popularity=10,
            **{f"min_{features[0]}": 0.2, f"max_{features[0]}": 0.9}),
        "recommend: seed, diversity=0.3": lambda r: engine.recommend([ids[r]], diversity=0.3),
        "search_tracks: 4-letter prefix of a name": lambda r: engine.search_tracks(
            names[r][:4] or "a"),
    }
    results = {}
    for label, fn in ops.items():
        ms = _time(fn, rows)
        results[label] = {p: round(float(np.percentile(ms, q)), 4)
                          for p, q in (("p50", 50), ("p90", 90), ("p99", 99))}
        results[label]["max"] = round(float(ms.max()), 3)
        results[label]["mean"] = round(float(ms.mean()), 4)

    emit()
    emit(f"### Engine latency, in process ({n:,} tracks, K={summary['n_clusters']}, "
         f"{summary['metric']}, flat index)")
    emit()
    emit(f"Source: {summary['label']}{' (synthetic)' if summary['synthetic'] else ''}. "
         f"{args.queries:,} calls per row, random seeds, limit 10, FAISS threads "
         f"{args.threads}; {machine_line()}. "
         f"Artifact load + engine build: {load_s:.2f} s.")
    emit()
    emit("| operation | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    emit("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        emit(md_row(label, f"{r['p50']:.3f}", f"{r['p90']:.3f}", f"{r['p99']:.3f}",
                    f"{r['max']:.2f}", f"{r['mean']:.3f}"))
    p99 = results["similar, scope=same (vibe sub-index)"]["p99"]
    verdict = "meets" if p99 < TARGET_SIMILAR_P99_MS else "misses"
    emit()
    emit(f"similar() p99 {p99:.3f} ms {verdict} the {TARGET_SIMILAR_P99_MS:g} ms target.")
    write_json(args.json, {"machine": machine_info(), "tracks": n, "queries": args.queries,
                           "threads": args.threads, "load_s": load_s, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
