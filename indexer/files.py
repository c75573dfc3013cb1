"""File helpers shared by the loader, the artifact and the scripts."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BLOCK = 1 << 22  # 4 MiB: artifacts' files run to GBs at 10M tracks


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks into one reused buffer, the kernel told
    the reads are sequential (a wider read-ahead: from a cold page cache, loading a 10M
    artifact is bound by these reads; bench/RESULTS.md)."""
    digest = hashlib.sha256()
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
