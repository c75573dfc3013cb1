"""Progress bars for the CLI: the ``tick(task, done, total)`` hook drawn with rich.

Why here: the build and the analyses only call a plain function (they never import rich);
this module, at the CLI edge, turns those calls into bars with elapsed time and ETA. Bars go
to stderr and are transient, so the stage summary on stdout stays as it was; they are off
when stderr is not a terminal (logs, pipes, CI) or with ``--quiet``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bars:
    """One bar per task name: created on its first tick, removed when done == total.

    ``total`` None draws an indeterminate bar (elapsed time, no ETA): steps whose size is
    unknown or that report nothing inside (a Ward tree in fastcluster).
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, done: int, total: int | None) -> None:
        key = task.strip()
        if key not in self.tasks:
            if total is not None and done >= total:
                return  # finished before it was ever shown
            self.tasks[key] = self.progress.add_task(key, total=total)
        tid = self.tasks[key]
        if total is not None and done >= total:
            self.progress.remove_task(tid)
            del self.tasks[key]
            return
        self.progress.update(tid, completed=done, total=total)


def bars_wanted(console: Console, stdout: Console, quiet: bool) -> bool:
    """Bars only on an interactive terminal and without --quiet. stdout must be one too:
    while bars are live, rich routes stdout through them, which a pipe must not get."""
    return (not quiet and console.is_terminal and not console.is_dumb_terminal
            and stdout.is_terminal)


@contextmanager
def progress_bars(quiet: bool = False, console: Console | None = None,
                  stdout: Console | None = None) -> Iterator[Bars | None]:
    """A ``tick`` for the build (or None when bars are off), live for the block; bars on
    ``console`` (default stderr)."""
    console = console or Console(stderr=True)
    if not bars_wanted(console, stdout or Console(), quiet):
        yield None
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description:<24}"), BarColumn(),
        MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=console, transient=True,
    )
    with progress:
        yield Bars(progress)
