"""The ``vibemap`` console script: the only place that parses flags, configures
logging and prints. Subcommands import their module lazily so that, e.g.,
``vibemap ui`` never loads the indexer."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from vibemap.addresses import listen_problem
from vibemap.indexer.errors import VibemapError

if TYPE_CHECKING:
    from vibemap.indexer.settings import BuildSettings

logger = logging.getLogger("vibemap")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"VIBEMAP_{name}", default)


def _print_build_summary(console: Console, result) -> None:
    manifest = result.manifest
    rows = manifest["rows"]
    source = manifest["source"]
    label = source.get("label") or source.get("file")
    console.print(
        f"\n[bold]{manifest['name']}[/bold] — {label}"
        + (" [yellow](synthetic)[/yellow]" if source.get("synthetic") else "")
    )
    table = Table(title="Rows", show_header=True)
    table.add_column("read", justify="right")
    table.add_column("kept", justify="right")
    table.add_column("dropped", justify="right")
    table.add_column("dropped by reason")
    reasons = ", ".join(f"{k}: {v}" for k, v in rows["dropped_by_reason"].items() if v) or "-"
    table.add_row(str(rows["read"]), str(rows["kept"]), str(rows["dropped"]), reasons)
    console.print(table)
    for note in manifest["cleaning"]["notes"]:
        console.print(f"note: {note}")
    era = manifest.get("era") or {}
    if era.get("weight"):
        known = f"{era['n_known']:,} of {rows['kept']:,} tracks have a year"
        console.print(f"era dimension: weight {era['weight']:g} ({known}; the others sit at "
                      f"the {era['missing']})")
    vt = Table(title=f"Vibes (K={manifest['n_clusters']}, metric={manifest['build']['metric']})")
    for col, justify in (
        ("id", "right"),
        ("name", "left"),
        ("tracks", "right"),
        ("share", "right"),
        ("signature", "left"),
    ):
        vt.add_column(col, justify=justify)
    for v in result.vibes:
        vt.add_row(
            str(v["vibe_id"]), v["name"], f"{v['size']:,}", f"{v['share']:.1%}", v["signature"]
        )
    console.print(vt)
    console.print(f"artifact written to [bold]{result.path}[/bold]")


def build_settings(args: argparse.Namespace, out: Path | None = None) -> BuildSettings:
    """The one path from flags to a BuildSettings, for ``index`` and ``demo`` alike: flags
    left unset (None) take BuildSettings' own defaults, so no default is written twice."""
    from vibemap.indexer.settings import BuildSettings

    csv = Path(args.csv) if getattr(args, "csv", None) else None
    if out is None:
        out = (
            Path(args.out)
            if args.out
            else BuildSettings.default_out(csv, Path(_env("INDEXES", "indexes")))
        )
    given = {
        "n_clusters": getattr(args, "k", None),
        "seed": getattr(args, "seed", None),
        "n_init": getattr(args, "n_init", None),
        "metric": getattr(args, "metric", None),
        "era_weight": getattr(args, "era_weight", None),
        "exact_max_tracks": getattr(args, "exact_max_tracks", None),
        **_demo_options(args),
    }
    return BuildSettings(
        csv=csv,
        out=out,
        evaluate=not args.no_eval,
        exact=bool(getattr(args, "exact", False)),
        **{key: value for key, value in given.items() if value is not None},
    )


def cmd_index(args: argparse.Namespace, console: Console) -> int:
    settings = build_settings(args)
    if args.engine == "spark":
        from vibemap.indexer.spark.session import SparkSettings, parse_conf

        spark = SparkSettings(master=args.spark_master, conf=parse_conf(args.spark_conf),
                              kmeans=args.spark_kmeans, scratch=args.spark_scratch)
        return run_build(settings, console, quiet=args.quiet, spark=spark)
    return run_build(settings, console, quiet=args.quiet)


def run_build(settings: BuildSettings, console: Console, quiet: bool = False,
              spark=None) -> int:
    """Build ``settings``' artifact (on Spark when ``spark`` holds SparkSettings),
    printing stages, the summary and the metrics."""
    from vibemap.indexer.pipeline import build_index
    from vibemap.indexer.staging import check_replaceable
    from vibemap.progress import progress_bars

    out, csv = settings.out, settings.csv
    check_replaceable(out)  # before minutes of work, and again before the swap
    source = str(csv) if csv else _demo_description(settings)
    console.print(f"building [bold]{out}[/bold] from {source}")

    def progress(stage: str, seconds: float) -> None:
        console.print(f"  [green]✓[/green] {stage:<17} {seconds:6.2f} s")

    with progress_bars(quiet) as tick:
        if spark is None:
            result = build_index(settings, progress=progress, tick=tick)
        else:
            from vibemap.indexer.spark.build import build_index_spark

            result = build_index_spark(settings, spark, progress=progress)
    _print_build_summary(console, result)
    if spark is not None:
        metrics = json.loads((result.path / "metrics.json").read_text(encoding="utf-8"))
        console.print("validation on Spark: " + json.dumps(metrics.get("at_scale", {})))
    elif settings.evaluate:
        from vibemap.reports import print_metrics

        metrics = json.loads((result.path / "metrics.json").read_text(encoding="utf-8"))
        print_metrics(console, result.manifest, metrics)
    return 0


def _demo_options(args: argparse.Namespace) -> dict:
    """BuildSettings fields of --synthetic N (alias --demo-tracks N) and --demo-sample N."""
    synthetic = getattr(args, "synthetic", None)
    return {"demo_catalogue": "synthetic" if synthetic is not None else "real",
            "demo_tracks": synthetic, "demo_sample": getattr(args, "demo_sample", None)}


def _demo_description(settings) -> str:
    if settings.demo_catalogue == "synthetic":
        return f"the synthetic demo catalogue ({settings.synthetic_tracks:,} generated tracks)"
    sample = f", a seeded sample of {settings.demo_sample:,}" if settings.demo_sample else ""
    return f"the real demo catalogue (data/demo_catalogue.parquet{sample})"


def _add_demo_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synthetic", "--demo-tracks", dest="synthetic", type=int, metavar="N",
                   help="use the SYNTHETIC catalogue of N generated tracks instead of the real "
                        "demo (scale tests, benchmarks); --demo-tracks N is the old name")
    p.add_argument("--demo-sample", type=int, metavar="N",
                   help="use a seeded sample of N tracks of the real demo catalogue")


def _add_budget_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exact", action="store_true",
                   help="exact validation whatever the size (slow above the budget: the "
                        "silhouette and Ward are O(n^2))")
    p.add_argument("--exact-max-tracks", type=int, metavar="N",
                   help="validation budget: exact up to N tracks, above it silhouette and "
                        "Ward on stratified samples with 95%% confidence intervals (default "
                        "measured, see README)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (they are off anyway when stderr is not a terminal)")


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    """Every file against the manifest's checksums (serving skips the labelled CSV's)."""
    from vibemap.indexer.artifact import read_manifest, verify_files

    path = Path(args.index)
    manifest = read_manifest(path)
    verify_files(path, manifest, every=True)
    console.print(f"{path}: all {len(manifest['files'])} files match their manifest checksums")
    return 0


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    from vibemap.indexer.artifact import load_artifact
    from vibemap.indexer.errors import BuildError
    from vibemap.indexer.pipeline import evaluate_artifact
    from vibemap.indexer.settings import EXACT_MAX_TRACKS
    from vibemap.progress import progress_bars
    from vibemap.reports import print_metrics

    path = Path(args.index)
    art = load_artifact(path)
    if args.rerun or not art.metrics.get("evaluated"):
        console.print(f"evaluating [bold]{path}[/bold] (K-loop, outliers, Ward, PCA, genres)…")

        def progress(stage: str, seconds: float) -> None:
            console.print(f"  [green]✓[/green] {stage:<17} {seconds:6.2f} s")

        with progress_bars(args.quiet) as tick:
            budget = EXACT_MAX_TRACKS if args.exact_max_tracks is None else args.exact_max_tracks
            if budget < 1:
                raise BuildError(f"--exact-max-tracks must be >= 1, got {budget}")
            evaluate_artifact(path, progress=progress, tick=tick,
                              exact_max_tracks=None if args.exact else budget)
        art = load_artifact(path)
    print_metrics(console, art.manifest, art.metrics)
    return 0


async def redirect_to_ui():  # no return annotation: FastAPI would read it as a model
    """``vibemap demo`` serves the UI at /ui; the bare address leads there."""
    from fastapi.responses import RedirectResponse

    return RedirectResponse("/ui/")


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Build the demo artifact if missing, then serve API + UI from one process and port."""
    import uvicorn

    from vibemap.indexer.artifact import read_manifest
    from vibemap.recommender.api import create_app
    from vibemap.recommender.api.server import uvicorn_options
    from vibemap.recommender.engine import Engine
    from vibemap.recommender.errors import SettingsError
    from vibemap.recommender.settings import ServiceSettings
    from vibemap.ui.app import mount_ui

    index = Path(args.index)
    # the address is checked before a build that may take minutes
    settings = ServiceSettings.from_env(index_dir=index, host=args.host, port=args.port)
    if problem := listen_problem(settings.host, settings.port):
        raise SettingsError(problem)
    if args.rebuild or not (index / "manifest.json").is_file():
        console.print(f"no artifact at {index}: building it (the validation analyses take "
                      "a while; --no-eval skips them)")
        run_build(build_settings(args, out=index), console, quiet=args.quiet)
    else:
        manifest = read_manifest(index)  # a clear error now rather than a 503 later
        if (manifest.get("source") or {}).get("synthetic") and args.synthetic is None:
            console.print(f"note: {index} holds the SYNTHETIC catalogue; `vibemap demo "
                          "--rebuild` builds the real demo catalogue")
    engine = Engine.load(settings.index_dir)
    app = create_app(settings, engine=engine)
    local_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    mount_ui(app, f"http://{local_host}:{settings.port}")

    app.add_api_route("/", redirect_to_ui, include_in_schema=False)

    summary = engine.artifact_summary()
    base = f"http://{local_host}:{settings.port}"
    console.print(f"serving [bold]{summary['name']}[/bold] ({summary['label']}, "
                  f"{engine.n_tracks:,} tracks, K={summary['n_clusters']})")
    console.print(f"  UI        {base}/ui/")
    console.print(f"  API docs  {base}/docs")
    console.print(f"  health    {base}/health")
    uvicorn.run(app, **uvicorn_options(settings.host, settings.port, args.verbose))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vibemap",
        description="Musical personalities and next-best-track recommendations.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "index", help="build an artifact from a track catalogue (or the demo catalogue)"
    )
    p.add_argument(
        "csv",
        nargs="?",
        metavar="INPUT",
        help="track catalogue: a CSV (comma, semicolon or tab delimited; UTF-8 or UTF-16; "
        "may be gzipped), a Parquet file, or a directory or quoted glob of CSV or Parquet "
        "files with the same columns; omit to use the real demo catalogue",
    )
    p.add_argument("--k", type=int, help="number of vibes (K-Means clusters), default 4")
    p.add_argument(
        "--out",
        help="artifact directory (default indexes/demo or indexes/<input name>); must be "
        "new, empty or an earlier vibemap artifact: nothing else is ever replaced",
    )
    p.add_argument("--seed", type=int, help="random seed for K-Means++ and sampling")
    p.add_argument("--n-init", type=int, help="K-Means++ restarts (default 10)")
    p.add_argument(
        "--metric",
        choices=("cosine", "euclidean"),
        help="similarity used by the index (default cosine on z-scores)",
    )
    p.add_argument(
        "--era-weight",
        type=float,
        metavar="W",
        help="weight of the release-year (era) coordinate appended to the nine audio "
        "features in the index (default 1.0, measured in bench/RESULTS.md); 0 = audio only",
    )
    p.add_argument("--no-eval", action="store_true", help="skip the validation analyses")
    _add_budget_options(p)
    _add_demo_options(p)
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="where the build runs: this process (default) or Apache Spark "
                   "(pip install 'vibemap[spark]', Java 17+); the same artifact either way")
    p.add_argument("--spark-master", default="local[*]", metavar="URL",
                   help="Spark master with --engine spark (default local[*])")
    p.add_argument("--spark-conf", action="append", metavar="KEY=VALUE",
                   help="a Spark setting with --engine spark (repeatable)")
    p.add_argument("--spark-scratch", metavar="URI",
                   help="with --engine spark: where the executors write the sorted rows for "
                   "this machine to read (a new folder inside it, removed afterwards); "
                   "default: beside --out, which only a local[*] master reaches")
    p.add_argument("--spark-kmeans", choices=("sample", "mllib"), default="sample",
                   help="K-Means on Spark: the local K-Means++ on a uniform sample plus "
                   "distributed assignment (default), or MLlib's KMeans (k-means||)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("evaluate", help="show (or compute) an artifact's validation metrics")
    p.add_argument("--index", default=_env("INDEX", "indexes/demo"), help="artifact directory")
    p.add_argument("--rerun", action="store_true", help="recompute even if already evaluated")
    _add_budget_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("verify", help="check every file of an artifact against its manifest's "
                       "checksums (serving checks the labelled CSV's size only)")
    p.add_argument("--index", default=_env("INDEX", "indexes/demo"), help="artifact directory")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="build the demo artifact if missing, serve API + UI")
    p.add_argument("--index", default=_env("INDEX", "indexes/demo"), help="artifact directory")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--port", type=int, default=8000, help="port for both API and UI")
    p.add_argument("--rebuild", action="store_true", help="rebuild the artifact even if present")
    p.add_argument("--no-eval", action="store_true", help="build without the validation analyses")
    _add_budget_options(p)
    _add_demo_options(p)
    p.set_defaults(func=cmd_demo)

    from vibemap.recommender.commands import register as register_recommender
    from vibemap.ui.commands import register as register_ui

    register_recommender(sub)
    register_ui(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    console = Console(stderr=False, highlight=False)
    try:
        return int(args.func(args, console) or 0)
    except VibemapError as exc:
        print(f"vibemap: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"vibemap: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("vibemap: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("vibemap: error: out of memory; the README's sizing section gives the memory "
              "each catalogue size needs", file=sys.stderr)
        return 1
    except Exception as exc:  # most likely a bug: one line that says so (frames on -v)
        if args.verbose:
            traceback.print_exc()
        print(f"vibemap: internal error ({type(exc).__name__}: {exc}): most likely a bug in "
              "vibemap; please report it with the command"
              + ("" if args.verbose else " (`vibemap -v ...` prints the traceback)"),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
