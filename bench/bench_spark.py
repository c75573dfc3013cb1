"""The Spark engine against the local build, and its scale.

``parity``: the real tracks (../shared/data/tracks_real.csv) built by both engines at
K = 4: kept/dropped counts per reason, the adjusted Rand index of the vibe labels (by
track id), and /similar for 200 random tracks, compared wherever both put the seed in the
same vibe. ``scale INPUT``: a local[2] build of a Parquet directory: wall time, stage
times, peak RSS of the driver (this Python process) and of the JVM (driver and executors
share it in local mode). Run big ones under the lock: flock /work/helpers/bench.lock ...

    python bench/bench_spark.py parity [--out DIR]
    python bench/bench_spark.py scale /work/bench-data/demo_1m_parquet [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from harness import REPO, emit, machine_line, md_row, peak_rss_mib
from sklearn.metrics import adjusted_rand_score

from vibemap.indexer.arrow_tables import read_table
from vibemap.indexer.pipeline import build_index
from vibemap.indexer.settings import BuildSettings
from vibemap.indexer.spark.build import build_index_spark
from vibemap.indexer.spark.session import SparkSettings, session_conf
from vibemap.recommender.engine import Engine

REAL = REPO.parent / "shared" / "data" / "tracks_real.csv"


def _jvm_peak_mib() -> float:
    """Peak RSS (VmHWM) of this process's Java descendants, in MiB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    peak, todo = 0.0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"java" in cmd:
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def _session(master: str, conf: dict):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master)
    for key, value in session_conf(SparkSettings(master=master, conf=conf)).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _spark(settings: BuildSettings, master: str, conf: dict, kmeans: str):
    spark = _session(master, conf)
    start = time.perf_counter()
    result = build_index_spark(settings, SparkSettings(master=master, conf=conf, kmeans=kmeans))
    seconds = time.perf_counter() - start
    jvm = _jvm_peak_mib()
    spark.stop()
    return result, seconds, jvm


def parity(out: Path, kmeans: str, n_queries: int = 200) -> dict:
    common = {"csv": REAL, "n_clusters": 4, "seed": 0}
    t0 = time.perf_counter()
    local = build_index(BuildSettings(out=out / "local", evaluate=False, **common))
    local_s = time.perf_counter() - t0
    spark, spark_s, jvm = _spark(BuildSettings(out=out / f"spark_{kmeans}", **common),
                                 "local[2]", {"spark.sql.shuffle.partitions": "4",
                                              "spark.ui.enabled": "false"}, kmeans)
    a, b = Engine.load(local.path), Engine.load(spark.path)
    ta, tb = (read_table(r.path / "tracks.arrow").select(["track_id", "vibe_id"]).to_pandas()
              for r in (local, spark))
    joined = ta.merge(tb, on="track_id", suffixes=("_local", "_spark"))
    ari = adjusted_rand_score(joined["vibe_id_local"], joined["vibe_id_spark"])
    rng = np.random.default_rng(0)
    seeds = joined.iloc[rng.choice(len(joined), n_queries, replace=False)]
    same_vibe = seeds[seeds["vibe_id_local"] == seeds["vibe_id_spark"]]
    identical = sum(
        [r["track_id"] for r in a.similar(t, limit=10)["results"]]
        == [r["track_id"] for r in b.similar(t, limit=10)["results"]]
        for t in same_vibe["track_id"])
    return {
        "kmeans": kmeans,
        "rows_equal": local.manifest["rows"] == spark.manifest["rows"],
        "cleaning_equal": local.manifest["cleaning"] == spark.manifest["cleaning"],
        "rows": spark.manifest["rows"], "ari": round(float(ari), 6),
        "similar_same_vibe": len(same_vibe), "similar_identical": int(identical),
        "local_seconds": round(local_s, 1), "spark_seconds": round(spark_s, 1),
        "spark_timings": spark.manifest["timings"], "jvm_peak_mib": round(jvm),
        "driver_peak_mib": round(peak_rss_mib()),
        "at_scale": json.loads((spark.path / "metrics.json").read_text())["at_scale"],
    }


def scale(source: Path, out: Path, kmeans: str) -> dict:
    settings = BuildSettings(csv=source, out=out / f"scale_{source.name}", n_clusters=4)
    result, seconds, jvm = _spark(settings, "local[2]", {
        "spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false"}, kmeans)
    report = {"input": str(source), "kmeans": kmeans, "rows": result.manifest["rows"],
              "seconds": round(seconds, 1), "timings": result.manifest["timings"],
              "driver_python_peak_mib": round(peak_rss_mib()), "jvm_peak_mib": round(jvm),
              "index": result.manifest["build"]["index"],
              "at_scale": json.loads((result.path / "metrics.json").read_text())["at_scale"]}
    shutil.rmtree(result.path, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("parity", "scale"))
    parser.add_argument("input", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vibemap-bench-spark"))
    parser.add_argument("--kmeans", choices=("sample", "mllib"), default="sample")
    args = parser.parse_args()
    emit(machine_line())
    if args.mode == "parity":
        report = parity(args.out, args.kmeans)
        emit(md_row("kmeans", "rows equal", "ARI", "/similar identical", "local s", "spark s"))
        emit(md_row(args.kmeans, report["rows_equal"] and report["cleaning_equal"],
                    report["ari"], f"{report['similar_identical']}/{report['similar_same_vibe']}",
                    report["local_seconds"], report["spark_seconds"]))
    else:
        report = scale(args.input, args.out, args.kmeans)
    emit(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
