"""Give freed Arrow memory back to the system at once during a build.

Arrow's default allocator (mimalloc) keeps freed pages for reuse; a build frees and
allocates GBs of column buffers stage after stage (reading, casting, sorting, writing),
so its resident size grew with what it had ever held, not with what it holds. jemalloc
with a decay time of 0 returns freed pages immediately (bench/RESULTS.md, "Build
memory": -110 MiB after reading 1M rows). Changes no value, only where memory lives.
"""

from __future__ import annotations

import logging

import pyarrow as pa

logger = logging.getLogger(__name__)


def return_freed_memory() -> None:
    """Make jemalloc, decay 0, the process's Arrow allocator where pyarrow has it (the
    PyPI wheels on Linux and macOS); otherwise leave the default."""
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        logger.debug("pyarrow has no jemalloc: keeping the %s allocator",
                     pa.default_memory_pool().backend_name)
        return
    pa.set_memory_pool(pool)
