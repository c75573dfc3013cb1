"""Hot reload across worker processes (``vibemap serve --workers N``).

One small JSON pointer file, ``{"path": ..., "generation": n}``, names the artifact every
worker serves. POST /admin/reload, in whichever worker receives it, loads and validates the
new artifact, swaps it in, then rewrites the pointer atomically (a temporary file renamed over
it, under an advisory lock so two reloads cannot take one generation number). Every worker
polls the pointer's stat every ``POLL_S`` seconds; when the generation passes its own, it loads
the artifact named (in a thread, so it keeps answering from the old one meanwhile) and swaps
its one engine reference, as a reload does: each response still comes from exactly one
artifact and names it in its X-Vibemap-Artifact header. Each worker then writes its own
acknowledgement file (``worker-<pid>.gen``), and the reload answers once ``workers``
acknowledgements carry the new generation (or after ``ACK_TIMEOUT_S``, with a warning).
A worker that starts later (uvicorn replaces one that died) reads the pointer first.
The pointer also carries the identities of the files the process that wrote it verified, so
a worker loading the same files unchanged does not hash them again
(:mod:`vibemap.indexer.checksums`; the pointer lives in a private temporary directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vibemap.indexer.checksums import Identity

logger = logging.getLogger(__name__)
POLL_S = 0.5  # how often a worker looks at the pointer (one stat call)
ACK_TIMEOUT_S = 120.0  # the longest a reload waits for every worker (loading takes seconds)


@dataclass(frozen=True)
class Pointer:
    """Which artifact every worker should serve, and the reload count that chose it."""

    path: Path
    generation: int
    verified: dict[str, Identity] = field(default_factory=dict, compare=False)


def read_pointer(file: Path) -> Pointer:
    data = json.loads(file.read_text(encoding="utf-8"))
    verified = {str(rel): tuple(int(v) for v in ident)
                for rel, ident in dict(data.get("verified") or {}).items()}
    return Pointer(Path(data["path"]), int(data["generation"]), verified)


def _pointer_text(path: Path, generation: int, verified: dict[str, Identity] | None) -> str:
    return json.dumps({"path": str(path), "generation": generation,
                       "verified": {rel: list(i) for rel, i in (verified or {}).items()}})


def _write_atomic(file: Path, text: str) -> None:
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, file)


@contextlib.contextmanager
def _locked(file: Path) -> Iterator[None]:
    with open(file.with_name(file.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def init_pointer(file: Path, path: Path, verified: dict[str, Identity] | None = None
                 ) -> Pointer:
    """The pointer at generation 0 (``vibemap serve`` writes it before starting workers,
    with what its own load verified)."""
    pointer = Pointer(path.resolve(), 0, dict(verified or {}))
    _write_atomic(file, _pointer_text(pointer.path, 0, verified))
    return pointer


def advance(file: Path, path: Path, verified: dict[str, Identity] | None = None) -> Pointer:
    """Point every worker at ``path`` (as the reloading worker verified it): the next
    generation, written atomically."""
    with _locked(file):
        generation = read_pointer(file).generation + 1
        _write_atomic(file, _pointer_text(Path(path).resolve(), generation, verified))
    return Pointer(Path(path).resolve(), generation, dict(verified or {}))


def stamp(file: Path) -> tuple[int, int] | None:
    """What changes when the pointer is replaced: inode and modification time."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def acknowledge(file: Path, generation: int) -> None:
    """This worker now serves ``generation``."""
    _write_atomic(file.with_name(f"worker-{os.getpid()}.gen"), str(generation))


def forget(file: Path) -> None:
    """This worker is stopping: its acknowledgement goes."""
    with contextlib.suppress(OSError):
        file.with_name(f"worker-{os.getpid()}.gen").unlink()


def acknowledged(file: Path, generation: int) -> int:
    """How many live workers serve ``generation`` or a later one (the file of a worker that
    was killed stays behind; its process id no longer answers)."""
    count = 0
    for ack in file.parent.glob("worker-*.gen"):
        with contextlib.suppress(OSError, ValueError):
            if _alive(int(ack.stem.removeprefix("worker-"))):
                count += int(ack.read_text()) >= generation
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


async def wait_for_workers(file: Path, generation: int, workers: int,
                           timeout: float = ACK_TIMEOUT_S) -> int:
    """Wait until ``workers`` workers serve ``generation``; how many do when it returns."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (count := acknowledged(file, generation)) < workers and loop.time() < deadline:
        await asyncio.sleep(POLL_S / 5)
    if count < workers:
        logger.warning("reload: %d of %d workers serve generation %d after %.0f s",
                       count, workers, generation, timeout)
    return count
