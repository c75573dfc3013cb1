"""Named build stages, timed, and the two progress hooks a build reports to.

Kept apart from the maths: the CLI turns the hooks into a stage list and progress bars
(vibemap.progress); the analyses only ever call a plain ``Tick``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger("vibemap.indexer.pipeline")

ProgressFn = Callable[[str, float], None]
"""(stage, seconds) as each stage ends."""
Tick = Callable[[str, int, int | None], None]
"""Progress of a long step: (task, done, total); total None = size unknown; done == total
= finished. The CLI draws it as a bar; the maths never imports rich."""


class Stages:
    """Times named stages and reports each to a progress callback as it ends (and to
    ``tick`` as it starts and ends, for a bar)."""

    def __init__(self, progress: ProgressFn | None, tick: Tick | None = None) -> None:
        self.progress = progress
        self.tick = tick
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self.tick:
            self.tick(name, 0, None)
        yield
        if self.tick:
            self.tick(name, 1, 1)
        seconds = time.perf_counter() - start
        self.timings[name] = round(seconds, 4)
        logger.info("stage %s: %.2f s", name, seconds)
        if self.progress:
            self.progress(name, seconds)
