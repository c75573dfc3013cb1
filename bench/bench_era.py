"""Does the era dimension help? Neighbour genre agreement@10 for era weights W.

    .venv/bin/python bench/bench_era.py [--data DIR] [--csv PATH ...] [--weights 0,0.25,0.5,1,2]
        [--sample-size 0] [--json OUT.json]

For each catalogue: load and clean it with the project's own loader (vibemap.indexer.catalogue:
columns map through the alias table, rows dropped for the stated reasons), z-score the nine
features with the build's scaler, append ``W * z(release year)`` (vibemap.indexer.era; missing
years at the catalogue mean, i.e. neutral), and score the cosine neighbours with the indexer's
own ``neighbour_genre_agreement`` (faiss IndexFlatIP over L2-normalised vectors, self excluded,
"shares at least one genre token", among tracks with a genre). ``--sample-size 0`` (the default)
queries every track with a genre: leave-one-out over the whole catalogue. Random pairs are the
same share for as many uniformly drawn pairs (identical for every W: same seed).

The price of the gain is shown too: "audio top-10 kept" is the share of today's (W = 0) ten
cosine neighbours of a track, searched among all tracks as the engine does, that are still
among its ten neighbours with weight W.

By default it runs on the single-source real files with genres in ../shared/data
(tidytuesday_2020, musicoset, classic_hits, mgc_genres); ``--csv`` adds (or, with
``--no-default``, replaces them by) a user's own catalogue (CSV, or Parquet such as
data/demo_catalogue.parquet, through the same cleaner). Prints a markdown table for
bench/RESULTS.md and writes the figures as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from vibemap.indexer.catalogue import clean_catalogue, load_catalogue
from vibemap.indexer.era import append_era, fit_era_scaler, standardised_years
from vibemap.indexer.errors import CatalogueError
from vibemap.indexer.features import FEATURES
from vibemap.indexer.genre_labels import genre_lists
from vibemap.indexer.personalities import fit_scaler
from vibemap.indexer.validation.genre_agreement import _drop_self, neighbour_genre_agreement
from vibemap.indexer.vector_index import to_index_space

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import command_line, emit, machine_info, machine_line, write_json  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_SETS = ("tidytuesday_2020", "musicoset", "classic_hits", "mgc_genres")
DEFAULT_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
N_NEIGHBOURS = 10

logger = logging.getLogger("bench_era")


def measure(path: Path, weights: tuple[float, ...], sample_size: int, seed: int) -> dict:
    """Agreement@10 for each weight on one catalogue (see the module docstring)."""
    start = time.perf_counter()
    if path.suffix == ".parquet":  # e.g. the vendored demo catalogue: same cleaning
        catalogue = clean_catalogue(pd.read_parquet(path), source_name=path.name)
    else:
        catalogue = load_catalogue(path)
    tracks = catalogue.tracks
    F = tracks[list(FEATURES)].to_numpy(dtype=np.float64)
    Z = fit_scaler(F).transform(F)  # the build's own z-scores (indexer/pipeline.py "scale")
    years = tracks["release_year"].to_numpy(dtype=np.float64, na_value=np.nan)
    genres = genre_lists(tracks["genres"].tolist())
    n_genre = sum(1 for g in genres if g)
    era_fit = fit_era_scaler(years, weight=1.0)
    era = standardised_years(years, era_fit.mean, era_fit.scale)
    result: dict = {
        "dataset": path.stem,
        "file": str(path),
        "n": len(tracks),
        "n_with_genre": n_genre,
        "n_with_year": era_fit.n_known,
        "year_mean": era_fit.mean,
        "year_std": era_fit.scale if era_fit.mean is not None else None,
        "era_neutral": not era.any(),
        "by_weight": {},
    }
    if n_genre <= N_NEIGHBOURS:
        result["skipped"] = f"only {n_genre} tracks with a genre: agreement cannot be measured"
        return result
    size = n_genre if sample_size <= 0 else sample_size
    rows = np.sort(np.random.default_rng(seed).choice(len(tracks), min(size, len(tracks)), False))
    audio = None
    result["audio_overlap"] = {}
    for weight in weights:
        X = append_era(Z, era, weight)
        neighbours = _cosine_neighbours(X, rows)
        audio = neighbours if audio is None else audio  # W = 0 comes first: today's neighbours
        result["audio_overlap"][_key(weight)] = _overlap(neighbours, audio)
        agree = neighbour_genre_agreement(
            X, genres, n_neighbours=N_NEIGHBOURS, sample_size=size, seed=seed
        ).score("cosine")
        result["by_weight"][_key(weight)] = agree.agreement
        result["random"] = agree.baseline
        result["queries"] = min(size, n_genre)
        logger.info("%s W=%g: agreement@10 %.4f", path.stem, weight, agree.agreement)
    base = result["by_weight"][_key(weights[0])] if weights[0] == 0 else None
    result["gain_vs_w0"] = {
        k: (None if not base else v / base - 1.0) for k, v in result["by_weight"].items()
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def _cosine_neighbours(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Top-10 cosine neighbours (self excluded) of ``rows`` among all tracks, as the engine
    would search them: int64 (len(rows), 10)."""
    vectors = to_index_space(X, "cosine")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, ids = index.search(vectors[rows], N_NEIGHBOURS + 1)
    return _drop_self(ids, rows)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row of ``a`` found in the same row of ``b``."""
    return float((a[:, :, None] == b[:, None, :]).any(axis=2).mean())


def _key(weight: float) -> str:
    return f"{weight:g}"


def markdown(results: list[dict], weights: tuple[float, ...]) -> str:
    heads = ["dataset", "n", "with genre / year", "random"] + [f"W={_key(w)}" for w in weights]
    gains = [w for w in weights if w != 0]
    heads += [f"gain W={_key(w)}" for w in gains]
    heads.append("audio top-10 kept (" + " / ".join(f"W={_key(w)}" for w in gains) + ")")
    lines = ["| " + " | ".join(heads) + " |", "| --- |" + " ---: |" * (len(heads) - 1)]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | {r['n']:,} | {r['skipped']} |")
            continue
        by, gain = r["by_weight"], r["gain_vs_w0"]
        best = max(by.values())
        cells = [
            r["dataset"] + (" (no years: era neutral)" if r["era_neutral"] else ""),
            f"{r['n']:,}",
            f"{r['n_with_genre']:,} / {r['n_with_year']:,}",
            f"{r['random']:.3f}",
        ]
        cells += [_bold(f"{by[_key(w)]:.3f}", by[_key(w)] == best) for w in weights]
        cells += ["n/a" if gain.get(_key(w)) is None else f"{gain[_key(w)]:+.1%}" for w in gains]
        cells.append(" / ".join(f"{r['audio_overlap'][_key(w)]:.0%}" for w in gains))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bold(text: str, on: bool) -> str:
    return f"**{text}**" if on else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the real sets")
    parser.add_argument("--csv", type=Path, action="append", default=[], help="a catalogue CSV")
    parser.add_argument("--no-default", action="store_true", help="only the --csv catalogues")
    parser.add_argument("--weights", default=",".join(_key(w) for w in DEFAULT_WEIGHTS))
    parser.add_argument("--sample-size", type=int, default=0, help="queries; 0 = every track")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        weights = tuple(float(w) for w in args.weights.split(","))
    except ValueError:
        sys.stderr.write(f"--weights must be comma-separated numbers, got {args.weights!r}\n")
        return 2
    if not weights or any(not np.isfinite(w) or w < 0 for w in weights):
        sys.stderr.write(f"--weights must be finite numbers >= 0, got {args.weights!r}\n")
        return 2
    weights = (0.0, *[w for w in weights if w != 0])  # W = 0 is the reference, always first
    paths = [] if args.no_default else [args.data / f"{name}.csv" for name in DEFAULT_SETS]
    paths = [p for p in paths if p.exists()] + list(args.csv)
    if not paths:
        sys.stderr.write(f"no catalogue to measure: none of {DEFAULT_SETS} in {args.data}\n")
        return 2
    results = []
    for path in paths:
        try:
            results.append(measure(path, weights, args.sample_size, args.seed))
        except (CatalogueError, OSError) as err:
            sys.stderr.write(f"{path}: {err}\n")
            return 2
    command = command_line("bench_era.py", sys.argv[1:])
    report = {
        "machine": machine_info(),
        "command": command,
        "n_neighbours": N_NEIGHBOURS,
        "metric": "cosine (faiss IndexFlatIP over L2-normalised z-scores + W * z(year))",
        "weights": list(weights),
        "results": results,
    }
    write_json(args.json, report)
    emit(f"`{command}` on {machine_line()}\n\n{markdown(results, weights)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
