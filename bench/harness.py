"""What every benchmark shares: one way to emit results, read the machine and peak memory,
and run a server subprocess until it answers.

Bench scripts import this as a sibling module (Python puts a script's own folder first on
``sys.path``); tests import it as ``bench.harness`` (the repository root is on their path).
Standard library only, so importing it loads nothing of vibemap.

Results have one format: the markdown snippet for ``bench/RESULTS.md`` on stdout (rows from
:func:`md_row`, the machine from :func:`machine_line`), and with ``--json OUT`` the same
figures as one JSON document (:func:`write_json`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


# -- results ------------------------------------------------------------------------------
def emit(line: str = "") -> None:
    """One line on stdout, flushed (the bench may run for minutes under a pipe)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def md_row(*cells: object) -> str:
    """A markdown table row: ``| a | b |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write_json(path: Path | None, report: Mapping[str, Any]) -> None:
    """The figures as one JSON document (indented, newline-terminated); no-op without a path."""
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")


def command_line(script: str, argv: Sequence[str]) -> str:
    """How to rerun this bench: ``.venv/bin/python bench/<script> <argv>``."""
    return shlex.join([".venv/bin/python", f"bench/{script}", *argv])


# -- the machine --------------------------------------------------------------------------
def parquet_z_scores(data: Path, columns: Sequence[str], extra: Sequence[str] = (),
                     rows: int = 0, finite_only: bool = True):
    """The ``columns`` (the nine features) of a Parquet input as float32 z-scores (the
    population std, as the build's scaler) and the table read (with ``extra`` columns): the
    input of the benchmarks that time analyses outside the build. ``rows``: the first rows
    only; ``finite_only``: drop rows with a missing or non-finite feature."""
    import numpy as np
    import pyarrow.dataset as ds

    table = ds.dataset(data, format="parquet").to_table(columns=[*columns, *extra])
    if rows:
        table = table.slice(0, rows)
    F = np.column_stack([table[c].to_numpy() for c in columns]).astype(np.float64)
    if finite_only:
        F = F[np.isfinite(F).all(axis=1)]
    return ((F - F.mean(0)) / F.std(0)).astype(np.float32), table


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else whatever platform knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cores() -> int:
    """The cores this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
    """The machine block of every JSON report: CPU model, nproc, 1-minute load average."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"cpu": cpu_model(), "nproc": os.cpu_count(), "load_average": round(load, 2)}


def machine_line() -> str:
    """'<cpu>, nproc N, load average L': the machine line of every markdown snippet."""
    m = machine_info()
    return f"{m['cpu']}, nproc {m['nproc']}, load average {m['load_average']:.2f}"


# -- memory -------------------------------------------------------------------------------
def status_kib(key: str) -> int:
    """A kB field of /proc/self/status (VmRSS, VmHWM, ...); 0 where there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (``ru_maxrss``, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Reset VmHWM (and ru_maxrss) to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- servers ------------------------------------------------------------------------------
def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass(frozen=True)
class Server:
    proc: subprocess.Popen
    ready_s: float  # seconds from the start until every ready URL answered 200


@contextlib.contextmanager
def serve(cmd: Sequence[str], ready_urls: Sequence[str], log: Path, *,
          env: Mapping[str, str] | None = None, timeout: float = 180.0) -> Iterator[Server]:
    """Run ``cmd`` (output to ``log``) until every URL in ``ready_urls`` answers 200, yield
    it, then stop it (terminate, kill after 15 s). RuntimeError, with the log's tail, when
    it exits or is not ready within ``timeout`` seconds."""
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(cmd), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None)
    try:
        pending = list(ready_urls)
        while pending:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
            with contextlib.suppress(OSError):
                while pending and http_get(pending[0], timeout=2.0)[0] == 200:
                    pending.pop(0)
            if pending and time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{pending[0]} not ready after {timeout:.0f} s:\n{_tail(log)}")
            if pending:
                time.sleep(0.05)
        yield Server(proc, time.perf_counter() - t0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]
