"""The ``vibemap`` console script: the only place that parses flags, configures
logging and prints. Subcommands import their module lazily so that, e.g.,
``vibemap ui`` never loads the indexer."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vibemap.indexer.errors import VibemapError

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


def cmd_index(args: argparse.Namespace, console: Console) -> int:
    from vibemap.indexer.pipeline import build_index
    from vibemap.indexer.settings import BuildSettings

    csv = Path(args.csv) if args.csv else None
    out = (
        Path(args.out)
        if args.out
        else BuildSettings.default_out(csv, Path(_env("INDEXES", "indexes")))
    )
    settings = BuildSettings(
        csv=csv,
        out=out,
        n_clusters=args.k,
        seed=args.seed,
        n_init=args.n_init,
        metric=args.metric,
        evaluate=not args.no_eval,
        demo_tracks=args.demo_tracks,
    )
    source = str(csv) if csv else f"synthetic demo catalogue ({settings.demo_tracks:,} tracks)"
    console.print(f"building [bold]{out}[/bold] from {source}")

    def progress(stage: str, seconds: float) -> None:
        console.print(f"  [green]✓[/green] {stage:<17} {seconds:6.2f} s")

    with console.status("building…"):
        result = build_index(settings, progress=progress)
    _print_build_summary(console, result)
    if settings.evaluate:
        from vibemap.reports import print_metrics

        metrics = json.loads((result.path / "metrics.json").read_text(encoding="utf-8"))
        print_metrics(console, result.manifest, metrics)
    return 0


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    from vibemap.indexer.artifact import load_artifact
    from vibemap.indexer.pipeline import evaluate_artifact
    from vibemap.reports import print_metrics

    path = Path(args.index)
    art = load_artifact(path)
    if args.rerun or not art.metrics.get("evaluated"):
        console.print(f"evaluating [bold]{path}[/bold] (K-loop, outliers, Ward, PCA, genres)…")

        def progress(stage: str, seconds: float) -> None:
            console.print(f"  [green]✓[/green] {stage:<17} {seconds:6.2f} s")

        evaluate_artifact(path, progress=progress)
        art = load_artifact(path)
    print_metrics(console, art.manifest, art.metrics)
    return 0


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Build the demo artifact if missing, then serve API + UI from one process and port."""
    import uvicorn
    from fastapi.responses import RedirectResponse

    from vibemap.indexer.artifact import read_manifest
    from vibemap.recommender.api import create_app
    from vibemap.recommender.api.server import uvicorn_options
    from vibemap.recommender.engine import Engine
    from vibemap.recommender.settings import ServiceSettings
    from vibemap.ui.app import mount_ui

    index = Path(args.index)
    if args.rebuild or not (index / "manifest.json").is_file():
        console.print(f"no artifact at {index}: building the synthetic demo catalogue "
                      "(about two minutes with the validation analyses)")
        build_args = argparse.Namespace(csv=None, out=str(index), k=4, seed=0, n_init=10,
                                        metric="cosine", no_eval=args.no_eval,
                                        demo_tracks=args.demo_tracks)
        cmd_index(build_args, console)
    else:
        read_manifest(index)  # a clear error now rather than a 503 later
    settings = ServiceSettings.from_env(index_dir=index, host=args.host, port=args.port)
    engine = Engine.load(settings.index_dir)
    app = create_app(settings, engine=engine)
    local_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    mount_ui(app, f"http://{local_host}:{settings.port}")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

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

    p = sub.add_parser("index", help="build an artifact from a track CSV (or the demo catalogue)")
    p.add_argument("csv", nargs="?", help="track CSV; omit to use the synthetic demo catalogue")
    p.add_argument("--k", type=int, default=4, help="number of vibes (K-Means clusters), default 4")
    p.add_argument("--out", help="artifact directory (default indexes/demo or indexes/<csv stem>)")
    p.add_argument("--seed", type=int, default=0, help="random seed for K-Means++ and sampling")
    p.add_argument("--n-init", type=int, default=10, help="K-Means++ restarts (default 10)")
    p.add_argument(
        "--metric",
        choices=("cosine", "euclidean"),
        default="cosine",
        help="similarity used by the index (default cosine on z-scores)",
    )
    p.add_argument("--no-eval", action="store_true", help="skip the validation analyses")
    p.add_argument(
        "--demo-tracks",
        type=int,
        default=96_000,
        help="size of the demo catalogue when no CSV is given",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("evaluate", help="show (or compute) an artifact's validation metrics")
    p.add_argument("--index", default=_env("INDEX", "indexes/demo"), help="artifact directory")
    p.add_argument("--rerun", action="store_true", help="recompute even if already evaluated")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="build the demo artifact if missing, serve API + UI")
    p.add_argument("--index", default=_env("INDEX", "indexes/demo"), help="artifact directory")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--port", type=int, default=8000, help="port for both API and UI")
    p.add_argument("--rebuild", action="store_true", help="rebuild the artifact even if present")
    p.add_argument("--no-eval", action="store_true", help="build without the validation analyses")
    p.add_argument("--demo-tracks", type=int, default=96_000, help="size of the demo catalogue")
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


if __name__ == "__main__":
    sys.exit(main())
