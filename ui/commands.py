"""The ``vibemap ui`` subcommand: serve the Gradio UI alone against a running API.

``register(subparsers)`` adds the subcommand; ``vibemap.cli`` calls it. The module
imports nothing heavy at import time, so ``vibemap --help`` stays fast.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from vibemap.addresses import host_problem, listen_problem, port_problem


def _port(text: str) -> int:
    """A TCP port for --port (argparse: a bad one exits 2 naming the flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if problem := port_problem(value):
        raise argparse.ArgumentTypeError(problem)
    return value


def _seconds(text: str) -> float:
    """A finite positive number of seconds for --timeout."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _host(text: str) -> str:
    """An address or name to listen on for --host."""
    if problem := host_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def _api_url(text: str) -> str:
    """An http(s) URL with a host for --api."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected the API's http(s) URL, e.g. http://127.0.0.1:8000, got {text!r}")
    return text


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``vibemap ui --api URL [--host H] [--port P]`` to ``subparsers``."""
    p = subparsers.add_parser(
        "ui", help="serve the Gradio UI against a running vibemap API",
        description="Serve the Gradio UI on its own; every figure it shows comes from the API "
                    "at --api (start one with `vibemap serve`).")
    p.add_argument("--api", type=_api_url,
                   default=os.environ.get("VIBEMAP_API_URL", "http://127.0.0.1:8000"),
                   help="base URL of the vibemap API (default $VIBEMAP_API_URL or "
                        "http://127.0.0.1:8000)")
    p.add_argument("--host", type=_host, default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--timeout", type=_seconds, default=10.0,
                   help="seconds to wait for each API call (default 10)")
    p.set_defaults(func=cmd_ui)
    return p


def cmd_ui(args: argparse.Namespace, console: Any) -> int:
    from vibemap.ui.app import run_ui
    from vibemap.ui.client import ApiClient, ApiError

    if problem := listen_problem(args.host, args.port):  # before the API is asked anything
        sys.stderr.write(f"vibemap: error: {problem}\n")
        return 2

    with ApiClient(args.api, timeout=args.timeout) as client:
        try:
            art = client.artifact()
            console.print(f"API {args.api}: artifact [bold]{art.get('name')}[/bold], "
                          f"{art.get('rows')} tracks")
        except ApiError as err:
            # the UI still starts and says the same on its pages; the API may come up later
            console.print(f"[yellow]warning:[/yellow] {err.message}")
    console.print(f"UI on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    run_ui(args.api, host=args.host, port=args.port, timeout=args.timeout)
    return 0
