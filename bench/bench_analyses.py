"""Time each validation analysis on a real catalogue and print a markdown snippet.

    .venv/bin/python bench/bench_analyses.py [--csv ../shared/data/tracks_real.csv]
        [--n-clusters 4] [--seed 0] [--skip ward] [--rows 20000]

The parent reads the nine feature columns (and ``genres``), z-scores them (StandardScaler)
and fits K-Means for the vibe labels, then runs every analysis in its own child process so
each gets its own wall time and peak RSS (``ru_maxrss`` of the child, which includes the
~data it loads itself).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import emit, machine_line, md_row, peak_rss_mib  # noqa: E402
from vibemap.indexer.features import FEATURES  # noqa: E402

ANALYSES = ("profiles", "projection", "genre_map", "genre_agreement", "outliers", "ward")
DEFAULT_CSV = REPO.parent / "shared" / "data" / "tracks_real.csv"


def prepare(csv: Path, n_clusters: int, seed: int, rows: int | None, out: Path) -> dict[str, Any]:
    """Read, scale and cluster once; store the arrays for the child processes."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    header = pd.read_csv(csv, nrows=0).columns
    columns = list(FEATURES) + (["genres"] if "genres" in header else [])
    frame = pd.read_csv(csv, usecols=columns).dropna(subset=list(FEATURES))
    if rows is not None and rows < len(frame):
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    raw = frame[list(FEATURES)].to_numpy(np.float64)
    X = StandardScaler().fit_transform(raw).astype(np.float32)
    start = time.perf_counter()
    labels = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit_predict(X)
    kmeans_s = time.perf_counter() - start
    np.save(out / "X.npy", X)
    np.save(out / "raw.npy", raw)
    np.save(out / "labels.npy", labels.astype(np.int64))
    genres = (
        frame["genres"].where(frame["genres"].notna(), None).tolist() if "genres" in frame else []
    )
    (out / "genres.json").write_text(json.dumps(genres))
    return {"n_tracks": int(len(X)), "kmeans_s": kmeans_s, "sizes": np.bincount(labels).tolist()}


def run_child(name: str, data: Path, seed: int) -> dict[str, Any]:
    """One analysis on the stored arrays: seconds, peak RSS and a few headline numbers."""
    X = np.load(data / "X.npy", allow_pickle=False)
    raw = np.load(data / "raw.npy", allow_pickle=False)
    labels = np.load(data / "labels.npy", allow_pickle=False)
    genre_cells = json.loads((data / "genres.json").read_text())
    # Imports first, so the timing is the analysis alone.
    from vibemap.indexer.genre_labels import genre_lists
    from vibemap.indexer.validation.genre_agreement import neighbour_genre_agreement
    from vibemap.indexer.validation.genres import genre_vibe_map
    from vibemap.indexer.validation.outliers import find_outliers
    from vibemap.indexer.validation.profiles import profile_vibes
    from vibemap.indexer.validation.projection import pca_projection
    from vibemap.indexer.validation.taxonomy import ward_taxonomy

    base = peak_rss_mib()
    start = time.perf_counter()
    if name == "profiles":
        result = profile_vibes(X, raw, labels, FEATURES)
        summary = f"{len(result.profiles)} vibes"
    elif name == "projection":
        result = pca_projection(X, labels, FEATURES, seed=seed)
        summary = "; ".join(result.readings[:2]) + f"; sample {result.rows.size}"
    elif name in ("genre_map", "genre_agreement"):
        if not genre_cells:
            return {"name": name, "skipped": "no genres column"}
        genres = genre_lists(genre_cells)
        if name == "genre_map":
            result = genre_vibe_map(genres, labels)
            summary = (
                f"{len(result.genres)} genres >= {result.min_tracks} tracks; primary genre vs "
                f"vibe NMI {result.nmi:.3f}, ARI {result.ari:.3f}"
            )
        else:
            result = neighbour_genre_agreement(X, genres, seed=seed)
            summary = "; ".join(
                f"{s.metric} {s.agreement:.3f} vs random {s.baseline:.3f} (x{s.lift:.2f})"
                for s in result.scores
            )
    elif name == "outliers":
        result = find_outliers(X, seed=seed)
        summary = (
            f"eps {result.eps:.3f} (min_samples {result.min_samples}), outliers "
            f"{result.n_outliers} ({result.outlier_share:.2%}), {result.n_clusters} DBSCAN "
            f"clusters, exact re-search {result.exact_search_share:.1%}"
        )
    elif name == "ward":
        result = ward_taxonomy(X, labels, seed=seed)
        summary = (
            f"ARI(Ward cut at {result.n_clusters}, K-Means) {result.ari_vs_kmeans:.3f}; "
            f"cophenetic r {result.cophenetic_correlation:.3f} "
            f"(sample {result.cophenetic_sample_size})"
        )
    else:
        raise ValueError(f"unknown analysis {name!r}; choose from {ANALYSES}")
    seconds = time.perf_counter() - start
    json.dumps(result.to_dict())  # the metrics must serialise
    return {
        "name": name,
        "seconds": seconds,
        "base_rss_mib": base,
        "peak_rss_mib": peak_rss_mib(),
        "summary": summary,
    }


def faiss_line() -> str:
    try:
        import faiss

        return f"faiss {faiss.__version__} ({faiss.get_compile_options().strip() or 'generic'})"
    except (ImportError, AttributeError):
        return "faiss ?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--n-clusters", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=None, help="random subset of this size")
    parser.add_argument("--skip", nargs="*", default=[], choices=ANALYSES)
    parser.add_argument("--child", choices=ANALYSES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        emit(json.dumps(run_child(args.child, args.data, args.seed)))
        return 0
    if not args.csv.is_file():
        parser.error(f"no CSV at {args.csv}")

    command = ".venv/bin/python bench/bench_analyses.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    with tempfile.TemporaryDirectory(prefix="vibemap-bench-") as tmp:
        data = Path(tmp)
        start = time.perf_counter()
        info = prepare(args.csv, args.n_clusters, args.seed, args.rows, data)
        prep_s = time.perf_counter() - start
        results = []
        for name in ANALYSES:
            if name in args.skip:
                continue
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--data",
                    str(data),
                    "--seed",
                    str(args.seed),
                ],
                capture_output=True,
                text=True,
                check=False,
                cwd=REPO,
            )
            if proc.returncode != 0:
                results.append({"name": name, "error": proc.stderr.strip().splitlines()[-1:]})
                continue
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    emit(f"### Validation analyses on `{args.csv.name}`")
    emit()
    emit(
        f"- data: {info['n_tracks']:,} tracks x {len(FEATURES)} features, z-scored; K-Means "
        f"K={args.n_clusters} (n_init=4, seed {args.seed}) sizes {info['sizes']}; read + scale + "
        f"K-Means {prep_s:.1f} s (K-Means {info['kmeans_s']:.1f} s)"
    )
    emit(f"- machine: {machine_line()}; {faiss_line()}")
    emit(f"- command: `{command.strip()}`")
    emit(
        "- each analysis runs in its own process; peak RSS is that process's ru_maxrss, "
        "including the arrays it loads (base column)"
    )
    emit()
    emit("| analysis | wall s | peak RSS MiB | base RSS MiB | result |")
    emit("| --- | ---: | ---: | ---: | --- |")
    for r in results:
        if "seconds" in r:
            emit(md_row(r["name"], f"{r['seconds']:.1f}", f"{r['peak_rss_mib']:.0f}",
                        f"{r['base_rss_mib']:.0f}", r["summary"]))
        else:
            emit(md_row(r["name"], "-", "-", "-", r.get("skipped") or r.get("error")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
