"""An array parked on disk while the build needs the memory for something else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


class ParkedArray:
    """``array`` in an anonymous file (gone once taken back, or at exit): the z-scores
    wait there while the build sorts and writes the track table (0.7 GB at 10M rows)."""

    def __init__(self, array: np.ndarray, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".vibemap-array-")
        np.save(self._file, array, allow_pickle=False)

    def take(self) -> np.ndarray:
        """The array, bit for bit; the file is closed."""
        self._file.seek(0)
        try:
            return np.load(self._file, allow_pickle=False)
        finally:
            self._file.close()
