"""``vibemap serve`` and ``vibemap recommend``: subcommands the console script registers.

``register(subparsers)`` adds them; each handler is ``func(args, console) -> exit code``
and raises VibemapError subclasses for user errors (the CLI prints them as one line).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

logger = logging.getLogger(__name__)


def _settings(args: argparse.Namespace, **overrides: object):
    from vibemap.recommender.settings import ServiceSettings

    return ServiceSettings.from_env(index_dir=getattr(args, "index", None),
                                    host=getattr(args, "host", None),
                                    port=getattr(args, "port", None),
                                    workers=getattr(args, "workers", None), **overrides)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    """Load the artifact (failing fast on a bad one), then run uvicorn on the app: in this
    process with one worker, else as ``workers`` processes that each load it."""
    from vibemap.addresses import listen_problem
    from vibemap.indexer.checksums import EarlyCheck
    from vibemap.recommender.errors import SettingsError
    from vibemap.recommender.settings import SERVE_HEAVY_PROCESSES

    started = time.perf_counter()
    # heavy routes in a niced child process unless VIBEMAP_HEAVY_PROCESSES says otherwise
    settings = _settings(args, heavy_processes=None if os.environ.get(
        "VIBEMAP_HEAVY_PROCESSES") else SERVE_HEAVY_PROCESSES)
    if problem := listen_problem(settings.host, settings.port):  # env too; before the load
        raise SettingsError(problem)
    console.print(f"loading [bold]{settings.index_dir}[/bold] (about 1-2 s per million tracks)")
    early = EarlyCheck(settings.index_dir)  # hashes while the imports below run
    import uvicorn

    from vibemap.recommender.api import create_app
    from vibemap.recommender.api.generation import init_pointer
    from vibemap.recommender.api.server import uvicorn_options
    from vibemap.recommender.engine import Engine

    engine = Engine.load(settings.index_dir, trusted=early.trusted())
    summary = engine.artifact_summary()
    label = " [yellow](synthetic)[/yellow]" if summary["synthetic"] else ""
    console.print(f"serving {summary['name']} — {summary['label']}{label}: "
                  f"{engine.n_tracks:,} tracks, K={summary['n_clusters']}, loaded in "
                  f"{time.perf_counter() - started:.1f} s (imports included), "
                  f"on http://{settings.host}:{settings.port} (docs at /docs)"
                  + (f" with {settings.workers} workers" if settings.workers > 1 else ""))
    options = uvicorn_options(settings.host, settings.port, getattr(args, "verbose", False))
    if settings.workers == 1:
        uvicorn.run(create_app(settings, engine=engine), **options)
        return 0
    verified = engine.artifact.verified  # the workers need not hash these files again
    del engine  # each worker loads its own; this one only proved the artifact loads
    with tempfile.TemporaryDirectory(prefix="vibemap-serve-") as run_dir:
        pointer = Path(run_dir) / "current.json"
        init_pointer(pointer, settings.index_dir, verified)
        os.environ.update(worker_environment(settings, pointer))
        uvicorn.run(APP_FACTORY, factory=True, workers=settings.workers, **options)
    return 0


APP_FACTORY = "vibemap.recommender.api.app:create_app"  # each worker builds the app from env


def worker_environment(settings, pointer: Path) -> dict[str, str]:
    """What a worker process needs to rebuild ``settings`` from the environment (uvicorn
    starts workers with an import string, not objects), with the generation pointer."""
    return {"VIBEMAP_INDEX": str(settings.index_dir), "VIBEMAP_HOST": settings.host,
            "VIBEMAP_PORT": str(settings.port), "VIBEMAP_WORKERS": str(settings.workers),
            "VIBEMAP_HEAVY_PROCESSES": str(settings.heavy_processes),
            "VIBEMAP_GENERATION_FILE": str(pointer),
            **({"VIBEMAP_INDEXES": str(settings.indexes_root)} if settings.indexes_root
               else {})}


def _features_text(items: list[dict]) -> str:
    return ", ".join(f"{c['feature']} {c['track']:.3g} vs {c['query']:.3g}" for c in items)


def cmd_recommend(args: argparse.Namespace, console: Console) -> int:
    """Print the tracks most similar to one track as a table."""
    from vibemap.recommender.engine import Engine, set_search_threads

    settings = _settings(args)
    set_search_threads(settings.search_threads)
    engine = Engine.load(settings.index_dir)
    result = engine.similar(args.track_id, limit=args.limit, scope=args.scope)
    seed = result["seed"]
    scope = result["scope"]
    where = f"vibe {scope['vibe_id']} ({scope['vibe_name']})" if scope["vibe_id"] is not None \
        else "all vibes"
    table = Table(title=f"Next best tracks for “{seed['name']}” — {seed['artist']} "
                        f"[{seed['vibe_name']}], searching {where}")
    for col, justify in (("#", "right"), ("track", "left"), ("artist", "left"),
                         ("vibe", "left"), ("score", "right"), ("closest", "left"),
                         ("furthest", "left")):
        table.add_column(col, justify=justify)
    for item in result["results"]:
        table.add_row(str(item["rank"]), item["name"], item["artist"], item["vibe_name"],
                      f"{item['score']:.4f}", _features_text(item["explanation"]["closest"]),
                      _features_text(item["explanation"]["furthest"]))
    console.print(table)
    console.print("closest / furthest: the features that agree most / differ most, "
                  "result vs seed, in original units")
    if not result["results"]:
        console.print("no other tracks in this scope")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` and ``recommend`` to the ``vibemap`` parser's subcommands."""
    p = subparsers.add_parser("serve", help="serve the recommend API (FastAPI + uvicorn)")
    p.add_argument("--index", help="artifact directory (default $VIBEMAP_INDEX or indexes/demo)")
    p.add_argument("--host", help="bind address (default $VIBEMAP_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $VIBEMAP_PORT or 8000)")
    p.add_argument("--workers", type=_positive_int,
                   help="server processes (default $VIBEMAP_WORKERS or 1); up to one per core "
                        "when one process's core is saturated (README, scale-out)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("recommend", help="print the tracks most similar to one track")
    p.add_argument("track_id", help="a track id of the artifact")
    p.add_argument("--index", help="artifact directory (default $VIBEMAP_INDEX or indexes/demo)")
    p.add_argument("--limit", type=_positive_int, default=10, help="results (1-100, default 10)")
    p.add_argument("--scope", default="any",
                   help="'any' (default), 'same' (the track's vibe), or a vibe id / name")
    p.set_defaults(func=cmd_recommend)
