"""Build time, peak memory, query latency and recall of the vibe index at 1M-10M tracks.

    .venv/bin/python bench/bench_scale.py --sizes 1000000 10000000 [--n-clusters 4]
        [--queries 2000] [--kmeans-sample 200000] [--kmeans-full-max 1000000]
        [--n-init 10] [--ann-threshold N] [--seed 0] [--json OUT] [--workdir DIR]

Each size runs in two fresh child processes, so that one size's memory does not count
against the next: the first draws the nine features with
``vibemap.indexer.synthetic.generator.sample_features`` (the demo generator's features,
without its text metadata) and saves them to a scratch ``features.npy``; the second, whose
peak RSS is what is reported, runs the pipeline's pure steps on them and then queries the
index it wrote:

- scale: ``fit_scaler`` + ``transform`` (float64 in, float32 z-scores out);
- cluster: ``fit_personalities`` (sklearn K-Means++, ``--n-init`` starts) on every row up
  to ``--kmeans-full-max`` rows; above, on a seeded sample of ``--kmeans-sample`` rows,
  after which every row is assigned to its nearest centroid (at sizes where both run,
  the agreement of the sample fit with the full fit is reported);
- index: sort by vibe, ``to_index_space``, ``PartitionedIndex.build`` with the
  ``BuildSettings`` threshold (IVF-Flat above it: K-Means per vibe, add, then nprobe
  tuned until the recall@10 measured on 1,000 sampled rows per scope is >= 0.99);
- write: ``vectors.npy``, ``tracks.parquet`` (row, a synthetic track_id, vibe_id and
  the nine features; not the full metadata or the labelled CSV export of a real
  build), the FAISS files, and the sha256 of each, as the artifact writer does;
- load: the index files read back (``PartitionedIndex.load``) and ``vectors.npy``.

Queries then run on the loaded index with one search thread (``set_search_threads(1)``,
as the service runs), one vector at a time, limit 11 (a "similar" query's 10 + its
seed): ``--queries`` seeds drawn at random, searched within their own vibe and across
all vibes. recall@10 of those very queries (seed excluded) is checked against exact
search; exact single-thread flat search of the same scope is timed on a few of them
for scale. Peak RSS per stage comes from /proc/self/status (VmHWM, reset per stage).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vibemap.indexer.files import sha256_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    command_line,
    emit,
    machine_info,
    machine_line,
    peak_rss_mib,
    reset_peak,
    status_kib,
    write_json,
)

TARGET_BUILD_S = 600.0
TARGET_PEAK_GIB = 8.0
TARGET_P99_MS = 5.0
TARGET_RECALL = 0.99
EXACT_TIMED_QUERIES = 50


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        self.can_reset = reset_peak()

    def run(self, name: str, fn, *args, **kwargs):
        if self.can_reset:
            reset_peak()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        self.peak_mib[name] = round(status_kib("VmHWM") / 1024, 1)
        emit(f"  {name}: {self.seconds[name]:.1f} s, peak RSS {self.peak_mib[name]:,.0f} MiB")
        return out


# ------------------------------------------------------------------ child steps
def _generate(n: int, seed: int, path: Path) -> None:
    from vibemap.indexer.synthetic.generator import sample_features

    t0 = time.perf_counter()
    F = sample_features(n, seed)
    np.save(path, F, allow_pickle=False)
    emit(f"  generate {n:,} x {F.shape[1]} features: {time.perf_counter() - t0:.1f} s")


def _cluster(Z: np.ndarray, n_clusters: int, seed: int, n_init: int, sample: int,
             full_max: int) -> dict:
    """The pipeline's K-Means on every row up to ``full_max`` rows, else on a sample
    followed by nearest-centroid assignment of every row."""
    from vibemap.indexer.personalities import fit_personalities

    n = len(Z)
    out: dict = {}
    t0 = time.perf_counter()
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
        p = fit_personalities(Z[rows], n_clusters, seed=seed, n_init=n_init)
        labels, inertia = _assign(Z, p.centroids)
        out["sample"] = {"labels": labels, "inertia": inertia,
                         "seconds": round(time.perf_counter() - t0, 3), "rows": sample}
    if n <= full_max:
        t1 = time.perf_counter()
        p = fit_personalities(Z, n_clusters, seed=seed, n_init=n_init)
        out["full"] = {"labels": p.labels, "inertia": p.inertia,
                       "seconds": round(time.perf_counter() - t1, 3)}
    return out


def _assign(Z: np.ndarray, centroids: np.ndarray, chunk: int = 1 << 20
            ) -> tuple[np.ndarray, float]:
    """Nearest centroid of every row (squared euclidean), in chunks; and the inertia."""
    C = np.asarray(centroids, dtype=np.float32)
    c2 = (C * C).sum(axis=1)
    labels = np.empty(len(Z), dtype=np.int32)
    inertia = 0.0
    for lo in range(0, len(Z), chunk):
        z = Z[lo : lo + chunk]
        d = c2[None, :] - 2.0 * (z @ C.T)
        labels[lo : lo + chunk] = d.argmin(axis=1)
        inertia += float(d.min(axis=1).sum() + (z.astype(np.float64) ** 2).sum())
    return labels, inertia


def _write(out: Path, F: np.ndarray, order: np.ndarray, labels: np.ndarray,
           vectors: np.ndarray, index) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from vibemap.indexer.features import FEATURES

    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", vectors, allow_pickle=False)
    n = len(order)
    ids = pc.binary_join_element_wise(pa.scalar("t"), pc.cast(pa.array(order), pa.string()), "")
    columns = {"row": pa.array(np.arange(n, dtype=np.int64)), "track_id": ids,
               "vibe_id": pa.array(labels.astype(np.int32))}
    for j, f in enumerate(FEATURES):
        columns[f] = pa.array(F[order, j])
    pq.write_table(pa.table(columns), out / "tracks.parquet")
    del columns
    files = ["vectors.npy", "tracks.parquet", *index.save(out)]
    return {rel: {"bytes": (out / rel).stat().st_size, "sha256": sha256_file(out / rel)}
            for rel in files}


def _time_queries(search, queries: np.ndarray, vibes: list, warmup: int = 50) -> np.ndarray:
    for i in range(min(warmup, len(queries))):
        search(queries[i : i + 1], vibes[i])
    ms = np.empty(len(queries))
    clock = time.perf_counter_ns
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t0 = clock()
        search(q, vibes[i])
        ms[i] = (clock() - t0) / 1e6
    return ms


def _pcts(ms: np.ndarray) -> dict:
    return {"p50": round(float(np.percentile(ms, 50)), 4),
            "p99": round(float(np.percentile(ms, 99)), 4),
            "mean": round(float(ms.mean()), 4), "max": round(float(ms.max()), 3)}


def _query(index, X: np.ndarray, labels: np.ndarray, n_queries: int, seed: int) -> dict:
    import faiss

    from vibemap.indexer.exhaustive_search import exact_search
    from vibemap.indexer.recall import drop_self as _drop_self
    from vibemap.indexer.recall import recall_at_k
    from vibemap.recommender.engine import set_search_threads

    n = len(X)
    rows = np.random.default_rng(seed + 1).choice(n, min(n_queries, n), replace=False)
    Q = np.ascontiguousarray(X[rows])
    own = [int(v) for v in labels[rows]]
    result: dict = {}
    for scope, vibes in (("within vibe", own), ("across vibes", [None] * len(rows))):
        set_search_threads(1)
        ms = _time_queries(lambda q, v: index.search(q, 11, v), Q, vibes)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # the exact oracle may use all cores
        hits = []
        for v in sorted(set(vibes), key=lambda x: -1 if x is None else x):
            sel = np.flatnonzero([u == v for u in vibes])
            p = index.partitions.get(v)
            lo, hi = (p.start, p.stop) if p else (0, n)
            eD, eI = exact_search(X[lo:hi], Q[sel], 11, index.metric, offset=lo)
            aD, aI = index.search(Q[sel], 11, v)
            exact = _drop_self(eD, eI, rows[sel], 10)
            approx = _drop_self(aD, aI, rows[sel], 10)
            hits.append((len(sel), recall_at_k(*approx, *exact, 10)))
        recall = sum(c * r for c, r in hits) / sum(c for c, _ in hits)
        set_search_threads(1)
        k = min(EXACT_TIMED_QUERIES, len(rows))

        def flat(q, v):
            p = index.partitions.get(v)
            lo, hi = (p.start, p.stop) if p else (0, n)
            return exact_search(X[lo:hi], q, 11, index.metric, offset=lo)

        exact_ms = _time_queries(flat, Q[:k], vibes[:k], warmup=3)
        result[scope] = {**_pcts(ms), "recall_at_10": round(recall, 5),
                         "exact_flat": _pcts(exact_ms)}
        emit(f"  query {scope}: p50 {result[scope]['p50']:.3f} ms, p99 "
             f"{result[scope]['p99']:.3f} ms, recall@10 {recall:.4f}; exact flat p50 "
             f"{result[scope]['exact_flat']['p50']:.2f} ms")
    return result


def _build_and_query(args: argparse.Namespace) -> dict:
    from vibemap.indexer.personalities import fit_scaler
    from vibemap.indexer.settings import BuildSettings
    from vibemap.indexer.vector_index import (
        PartitionedIndex,
        index_type_for,
        partitions_from_sorted_labels,
        to_index_space,
    )

    metric = "cosine"
    threshold = args.ann_threshold if args.ann_threshold is not None \
        else BuildSettings().ann_threshold
    work = Path(args.workdir)
    stages = _Stages()
    F = stages.run("read features", np.load, work / "features.npy", allow_pickle=False)
    n = len(F)

    def scale(F: np.ndarray) -> np.ndarray:
        return fit_scaler(F).transform(F)

    Z = stages.run("scale", scale, F)
    fits = stages.run("cluster", _cluster, Z, args.n_clusters, args.seed, args.n_init,
                      args.kmeans_sample, args.kmeans_full_max)
    chosen = fits.get("full") or fits["sample"]
    labels = chosen["labels"]
    cluster = {k: {"seconds": v["seconds"], "inertia": round(v["inertia"], 2),
                   **({"rows": v["rows"]} if "rows" in v else {})} for k, v in fits.items()}
    cluster["used"] = "full" if "full" in fits else "sample"
    if "full" in fits and "sample" in fits:
        from sklearn.metrics import adjusted_rand_score

        cluster["sample_vs_full_ari"] = round(float(adjusted_rand_score(
            fits["full"]["labels"], fits["sample"]["labels"])), 5)
        cluster["sample_vs_full_inertia_ratio"] = round(
            fits["sample"]["inertia"] / fits["full"]["inertia"], 5)
    del fits

    def prepare(Z: np.ndarray) -> tuple:
        order = np.argsort(labels, kind="stable")
        vectors = to_index_space(Z[order], metric)
        return order, vectors, partitions_from_sorted_labels(labels[order], args.n_clusters)

    order, vectors, partitions = stages.run("sort + index space", prepare, Z)
    del Z
    kind = index_type_for(n, threshold)
    index = stages.run("index build", PartitionedIndex.build, vectors, partitions, metric,
                       kind=kind, seed=args.seed)
    out = work / "artifact"
    files = stages.run("write", _write, out, F, order, labels[order], vectors, index)
    spec = index.manifest_fields()
    del F, index, order

    def load():
        vec = np.load(out / "vectors.npy", allow_pickle=False)
        return vec, PartitionedIndex.load(out, metric, partitions)

    vectors, loaded = stages.run("load", load)
    sorted_labels = np.repeat([p.vibe_id for p in partitions], [p.size for p in partitions])
    queries = stages.run("query", _query, loaded, vectors, sorted_labels, args.queries, args.seed)
    build_stages = ("scale", "cluster", "sort + index space", "index build", "write")
    return {
        "n": n, "n_clusters": args.n_clusters, "metric": metric, "ann_threshold": threshold,
        "index": spec["index"], "index_params": spec["index_params"],
        "recall_at_10_build": spec["recall_at_10"],
        "partitions": [p.size for p in partitions],
        "cluster": cluster, "stages_s": stages.seconds, "stages_peak_mib": stages.peak_mib,
        # the cluster stage may also have run the other fit, for comparison: count the used one
        "build_s": round(sum(stages.seconds[s] for s in build_stages) - stages.seconds["cluster"]
                         + cluster[cluster["used"]]["seconds"], 2),
        # ru_maxrss is reset along with VmHWM on Linux: the peak is the largest stage peak
        "peak_rss_mib": max(stages.peak_mib.values()) if stages.can_reset else
        round(peak_rss_mib(), 1),
        "files_mib": {k: round(v["bytes"] / 2**20, 1) for k, v in files.items()},
        "queries": queries, "n_queries": args.queries,
    }


# ------------------------------------------------------------------------ driver
def _child(args: argparse.Namespace, step: str, n: int, workdir: Path) -> dict | None:
    result = workdir / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_step", step, "--_n", str(n),
           "--workdir", str(workdir), "--n-clusters", str(args.n_clusters),
           "--queries", str(args.queries), "--kmeans-sample", str(args.kmeans_sample),
           "--kmeans-full-max", str(args.kmeans_full_max), "--n-init", str(args.n_init),
           "--seed", str(args.seed)]
    if args.ann_threshold is not None:
        cmd += ["--ann-threshold", str(args.ann_threshold)]
    subprocess.run(cmd, check=True, cwd=REPO)
    return json.loads(result.read_text()) if step == "build" else None


def _report(results: list[dict], argv: list[str]) -> None:
    emit()
    emit(f"### Vibe index at scale (synthetic features, K={results[0]['n_clusters']}, cosine)")
    emit()
    emit(f"`{command_line('bench_scale.py', argv)}` on {machine_line()} at the end "
         "(a shared machine). Features from `vibemap.indexer.synthetic.generator.sample_features`; "
         "build = scale + K-Means + sort + index build (incl. recall tuning) + write "
         "(vectors.npy, a minimal tracks.parquet, FAISS files, sha256). Queries: one thread, "
         "one vector, limit 11, on the index loaded back from disk.")
    emit()
    emit("| tracks | index | K-Means | scale s | K-Means s | sort s | index s (train / add "
         "/ recall tuning) | write s | build s | peak RSS GiB | files MiB |")
    emit("| ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in results:
        s, bs = r["stages_s"], r["index_params"].get("build_seconds") or {}
        inner = " / ".join(f"{bs[k]:.1f}" for k in ("train", "add", "tune_recall") if k in bs)
        km = r["cluster"]
        how = "full" if km["used"] == "full" else f"{km['sample']['rows']:,}-row sample + assign"
        emit(f"| {r['n']:,} | {r['index']} | {how} | {s['scale']:.1f} | "
             f"{km[km['used']]['seconds']:.1f} | "
             f"{s['sort + index space']:.1f} | {s['index build']:.1f}"
             f"{f' ({inner})' if inner else ''} | {s['write']:.1f} | {r['build_s']:.1f} | "
             f"{r['peak_rss_mib'] / 1024:.2f} | {sum(r['files_mib'].values()):,.0f} |")
    emit()
    emit("| tracks | scope | nprobe | p50 ms | p99 ms | max ms | recall@10 (queries) | "
         "recall@10 (build) | exact flat p50 ms |")
    emit("| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for r in results:
        params, rb = r["index_params"], r["recall_at_10_build"] or {}
        for scope, q in r["queries"].items():
            if scope == "within vibe":
                nprobe = ", ".join(str(lay["nprobe"]) for lay in params.get("lists", [])) or "-"
                built = ", ".join(f"{v}" for v in (rb.get("vibes") or {}).values()) or "exact"
            else:
                nprobe = str(params.get("nprobe", "-"))
                built = f"{rb['all']} (blends {rb['all_blends']})" if rb else "exact"
            emit(f"| {r['n']:,} | {scope} | {nprobe} | {q['p50']:.3f} | {q['p99']:.3f} | "
                 f"{q['max']:.2f} | {q['recall_at_10']:.4f} | {built} | "
                 f"{q['exact_flat']['p50']:.2f} |")
    emit()
    for r in results:
        km = r["cluster"]
        if "sample_vs_full_ari" in km:
            emit(f"K-Means at {r['n']:,}: full fit {km['full']['seconds']:.1f} s vs "
                 f"{km['sample']['rows']:,}-row sample + assign {km['sample']['seconds']:.1f} s;"
                 f" ARI {km['sample_vs_full_ari']:.4f}, inertia ratio "
                 f"{km['sample_vs_full_inertia_ratio']:.4f} (the full fit is what was used).")
        p99 = max(q["p99"] for q in r["queries"].values())
        recall = min(q["recall_at_10"] for q in r["queries"].values())
        checks = [(r["build_s"] < TARGET_BUILD_S, f"build {r['build_s']:.0f} s < "
                   f"{TARGET_BUILD_S:.0f} s"),
                  (r["peak_rss_mib"] / 1024 < TARGET_PEAK_GIB,
                   f"peak {r['peak_rss_mib'] / 1024:.2f} GiB < {TARGET_PEAK_GIB:g} GiB"),
                  (p99 < TARGET_P99_MS, f"p99 {p99:.3f} ms < {TARGET_P99_MS:g} ms"),
                  (recall >= TARGET_RECALL, f"recall@10 {recall:.4f} >= {TARGET_RECALL}")]
        emit(f"{r['n']:,} tracks: " + "; ".join(
            f"{'meets' if ok else 'MISSES'} {text}" for ok, text in checks) + ".")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--n-clusters", type=int, default=4)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--kmeans-sample", type=int, default=200_000)
    parser.add_argument("--kmeans-full-max", type=int, default=1_000_000,
                        help="K-Means on every row up to this many rows, else on a sample")
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--ann-threshold", type=int, default=None,
                        help="default: BuildSettings().ann_threshold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--_step", choices=["generate", "build"], help=argparse.SUPPRESS)
    parser.add_argument("--_n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._step == "generate":
        _generate(args._n, args.seed, Path(args.workdir) / "features.npy")
        return 0
    if args._step == "build":
        result = _build_and_query(args)
        write_json(Path(args.workdir) / "result.json", result)
        return 0

    results = []
    for n in args.sizes:
        emit(f"{n:,} tracks")
        with tempfile.TemporaryDirectory(prefix="vibemap-scale-", dir=args.workdir) as tmp:
            _child(args, "generate", n, Path(tmp))
            results.append(_child(args, "build", n, Path(tmp)))
    _report(results, argv)
    write_json(args.json, {"machine": machine_info(), "argv": argv, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
