"""Time the whole K-loop against sklearn's silhouette and print a markdown snippet.

    .venv/bin/python bench/bench_kloop.py [--n 96000] [--csv PATH] [--seed 0] [--json OUT]

Data: with ``--csv``, the nine feature columns of that file; otherwise the synthetic demo
catalogue (``vibemap.indexer.synthetic.generator.generate_catalogue``). Features are
z-scored (``vibemap.indexer.personalities.fit_scaler``, StandardScaler's maths) and cast
to float32. A CSV with fewer rows than ``--n`` is topped up by resampling its rows with
replacement (said in the output); ``--n 0`` keeps the file's rows as they are.

Each measurement runs in its own child process, so its peak RSS (``ru_maxrss``) is its own:
1. the K-loop: ``run_k_loop`` for K = 2..10 (K-Means++, exact silhouette of every K, DB, CH);
2. sklearn: ``sklearn.metrics.silhouette_score`` for one K (the product default, 4) on the
   same matrix and the same labels, for the ratio (9 x sklearn one-K time) / (loop time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    command_line,
    cores,
    cpu_model,
    emit,
    md_row,
    peak_rss_mib,
    write_json,
)
from vibemap.indexer.features import FEATURES  # noqa: E402

K_VALUES = tuple(range(2, 11))
SKLEARN_K = 4
TARGET_RATIO = 20.0
TARGET_LOOP_S = 30.0
TARGET_PEAK_MIB = 2048.0


def build_matrix(n: int, csv: Path | None, seed: int) -> tuple[np.ndarray, str]:
    """The standardised float32 (n, 9) matrix and a sentence saying where it came from."""
    import pandas as pd

    from vibemap.indexer.personalities import fit_scaler

    if csv is None:
        from vibemap.indexer.synthetic.generator import generate_catalogue

        frame = generate_catalogue(n_tracks=n or 96_000, seed=seed)
        raw = frame[list(FEATURES)].to_numpy(np.float64)
        source = ("synthetic demo catalogue "
                  f"(vibemap.indexer.synthetic.generator.generate_catalogue, seed {seed})")
    else:
        path = csv
        frame = pd.read_csv(path, usecols=list(FEATURES))
        read = len(frame)
        raw = frame[list(FEATURES)].dropna().to_numpy(np.float64)
        source = f"{path.name}: {len(raw):,} of {read:,} rows with all nine features"
        if n and n != len(raw):
            rng = np.random.default_rng(seed)
            if n < len(raw):
                raw = raw[np.sort(rng.choice(len(raw), n, replace=False))]
                source += f", {n:,} drawn without replacement (seed {seed})"
            else:
                extra = rng.integers(0, len(raw), n - len(raw))
                source += (f", topped up to {n:,} with {n - len(raw):,} rows resampled with "
                           f"replacement (seed {seed})")
                raw = np.concatenate([raw, raw[extra]])
    return fit_scaler(raw).transform(raw), source


def child_loop(data: Path, seed: int) -> dict[str, Any]:
    X = np.load(data / "X.npy", allow_pickle=False)
    from vibemap.indexer.validation.kloop import run_k_loop

    start = time.perf_counter()
    result = run_k_loop(X, k_values=K_VALUES, seed=seed, keep_samples_for=SKLEARN_K)
    wall = time.perf_counter() - start
    assert result.kept is not None
    np.save(data / "labels.npy", result.kept.labels)
    return {"wall_s": wall, "peak_rss_mib": peak_rss_mib(), "result": result.to_dict()}


def child_sklearn(data: Path) -> dict[str, Any]:
    X = np.load(data / "X.npy", allow_pickle=False)
    labels = np.load(data / "labels.npy", allow_pickle=False)
    from sklearn.metrics import silhouette_score

    start = time.perf_counter()
    score = float(silhouette_score(X, labels))
    return {"wall_s": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib(),
            "silhouette": score}


def _run_child(kind: str, data: Path, seed: int) -> dict[str, Any]:
    out = data / f"{kind}.json"
    cmd = [sys.executable, __file__, "--child", kind, "--data", str(data), "--seed", str(seed)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def _markdown(report: dict[str, Any]) -> list[str]:
    loop = report["loop"]
    res = loop["result"]
    t = res["timings_s"]
    sk = report["sklearn"]
    lines = [
        f"### K-loop, K = 2..10, exact silhouette ({report['date']})",
        "",
        f"- machine: {report['cores']} cores, {report['cpu']}, {report['python']}; "
        f"load average {report['load_before']} before, {report['load_after']} after "
        "(shared machine, timings are noisy; the ratio is measured in one run)",
        f"- command: `{report['command']}`",
        f"- data: {report['n']:,} x 9 float32, z-scored; {report['source']}",
        f"- whole loop (9 K-Means++ fits with n_init={res['n_init']}, exact silhouette of all "
        f"9 K in one pass, Davies-Bouldin, Calinski-Harabasz): **{loop['wall_s']:.1f} s**, "
        f"peak RSS **{loop['peak_rss_mib']:.0f} MiB** (child process)",
        f"- stages: K-Means {t['kmeans']:.1f} s (fits in parallel, one core each), silhouette "
        f"{t['silhouette']:.1f} s, Davies-Bouldin {t['davies_bouldin']:.2f} s, "
        f"Calinski-Harabasz {t['calinski_harabasz']:.2f} s",
        f"- sklearn `silhouette_score`, one K (K={SKLEARN_K}, same labels): "
        f"{sk['wall_s']:.1f} s, peak RSS {sk['peak_rss_mib']:.0f} MiB; "
        f"|ours - sklearn| = {report['silhouette_abs_diff']:.1e}",
        f"- ratio (9 x sklearn one K) / (whole loop) = **{report['ratio']:.1f}x** "
        f"(target >= {TARGET_RATIO:.0f}x)",
        "",
        "| K | inertia | silhouette | Davies-Bouldin | Calinski-Harabasz | iterations |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for m in res["metrics"]:
        lines.append(md_row(m["n_clusters"], f"{m['inertia']:,.0f}", f"{m['silhouette']:.4f}",
                            f"{m['davies_bouldin']:.4f}", f"{m['calinski_harabasz']:,.0f}",
                            m["n_iter"]))
    lines += [
        "",
        f"Preferred K: elbow {res['elbow_k']}, silhouette {res['best_silhouette_k']}, "
        f"Davies-Bouldin {res['best_davies_bouldin_k']}, "
        f"Calinski-Harabasz {res['best_calinski_harabasz_k']}.",
        "",
        report["choose_k_reason"],
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=96_000, help="rows (0: all rows of the CSV)")
    parser.add_argument("--csv", type=Path, default=None, help="read features from this CSV")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--child", choices=("loop", "sklearn"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        payload = child_loop(args.data, args.seed) if args.child == "loop" \
            else child_sklearn(args.data)
        write_json(args.data / f"{args.child}.json", payload)
        return 0

    if args.n < 0 or (args.n == 0 and args.csv is None):
        parser.error("--n must be positive (0 only with --csv)")
    command = command_line("bench_kloop.py", sys.argv[1:] if argv is None else argv)
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    X, source = build_matrix(args.n, args.csv, args.seed)
    emit(f"data: {X.shape[0]:,} x {X.shape[1]} -- {source}")
    with tempfile.TemporaryDirectory(prefix="bench_kloop_") as tmp:
        data = Path(tmp)
        np.save(data / "X.npy", X)
        emit("running the K-loop ...")
        loop = _run_child("loop", data, args.seed)
        emit(f"  loop {loop['wall_s']:.1f} s, peak RSS {loop['peak_rss_mib']:.0f} MiB")
        emit(f"running sklearn silhouette_score for K={SKLEARN_K} ...")
        sk = _run_child("sklearn", data, args.seed)
        emit(f"  sklearn {sk['wall_s']:.1f} s, peak RSS {sk['peak_rss_mib']:.0f} MiB")

    from vibemap.indexer.validation.kloop import KLoopResult, KLoopTimings, KMetrics, choose_k

    res = loop["result"]
    result = KLoopResult(
        metrics=tuple(KMetrics(**m) for m in res["metrics"]),
        elbow_k=res["elbow_k"],
        best_silhouette_k=res["best_silhouette_k"],
        best_davies_bouldin_k=res["best_davies_bouldin_k"],
        best_calinski_harabasz_k=res["best_calinski_harabasz_k"],
        n_samples=res["n_samples"], n_features=res["n_features"], seed=res["seed"],
        n_init=res["n_init"], timings=KLoopTimings(**res["timings_s"]),
    )
    ours = result.for_k(SKLEARN_K).silhouette
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": command,
        "cores": cores(),
        "cpu": cpu_model(),
        "python": f"Python {platform.python_version()}",
        "load_before": load_before,
        "load_after": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
        "n": int(X.shape[0]),
        "source": source,
        "loop": loop,
        "sklearn": sk,
        "silhouette_abs_diff": abs(ours - sk["silhouette"]),
        "ratio": len(K_VALUES) * sk["wall_s"] / loop["wall_s"],
        "choose_k_reason": choose_k(result, SKLEARN_K)[1],
        "targets": {"ratio": TARGET_RATIO, "loop_s": TARGET_LOOP_S,
                    "peak_rss_mib": TARGET_PEAK_MIB},
    }
    emit()
    for line in _markdown(report):
        emit(line)
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
