"""Give freed memory back to the system at once during a build.

Both allocators a build uses keep freed memory for reuse by default, so its resident
size grew with what it had ever held, not with what it holds:

- Arrow's default allocator (mimalloc) keeps freed pages; jemalloc with a decay time of 0
  returns them immediately (bench/RESULTS.md, "Build memory": -110 MiB after reading 1M
  rows);
- glibc's malloc (numpy's arrays, FAISS) raises its mmap threshold to the size of each
  large block freed, up to 32 MiB, so arrays of a few MB (a column of 1M rows) then live
  on the heap, whose free holes it keeps; a fixed threshold keeps such arrays in their own
  mappings, unmapped when freed (-35 MiB at the 1M build's peak, ~200 MiB at its end).

Changes no value, only where memory lives.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import pyarrow as pa

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed


def return_freed_memory() -> None:
    """Make jemalloc, decay 0, the process's Arrow allocator where pyarrow has it (the
    PyPI wheels on Linux and macOS), and fix glibc's mmap threshold where malloc is
    glibc's; otherwise leave the defaults."""
    _fixed_mmap_threshold()
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        logger.debug("pyarrow has no jemalloc: keeping the %s allocator",
                     pa.default_memory_pool().backend_name)
        return
    pa.set_memory_pool(pool)


def _fixed_mmap_threshold() -> None:
    """glibc's mallopt: setting either threshold turns off their growth with each freed
    block (a no-op elsewhere: musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
            logger.debug("malloc is not glibc's: leaving its thresholds")
            return
    except OSError:
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
