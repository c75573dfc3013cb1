"""The per-row facts a text search ranks by, laid out in each field's grouped order (the
rows of one value together, :mod:`.search_index`): derived at build time, memory-mapped by
the service, so a query reads the facts of its matching rows in runs instead of one random
page per row and fact (at 10M rows a 4-letter query matches ~2% of them)::

    search/<field>_run_other.npy    int32 (n,): the OTHER field's code of rows[i]
    search/<field>_run_rank.npy     int32 (n,): the popularity rank of rows[i]
    search/<field>_run_version.npy  int32 (n,): the version (song) code of rows[i]

with ``rows`` the field's ``search/<field>_rows.npy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vibemap.indexer import artifact_checks as checks
from vibemap.indexer.search_index import FIELDS, SearchIndex

PARTS = ("other", "rank", "version")


def run_files(field: str) -> dict[str, str]:
    return {part: f"search/{field}_run_{part}.npy" for part in PARTS}


def runs_files() -> tuple[str, ...]:
    return tuple(f for field in FIELDS for f in run_files(field).values())


@dataclass(frozen=True)
class Runs:
    """One field's facts in its grouped order (see the module docstring)."""

    other: np.ndarray
    rank: np.ndarray
    version: np.ndarray


def derive_runs(index: SearchIndex, version_of: np.ndarray) -> dict[str, Runs]:
    """Each field's runs from the search structure and the rows' version codes."""
    out = {}
    for field, other in (("name", "artist"), ("artist", "name")):
        rows = index.fields[field].rows
        out[field] = Runs(index.fields[other].code_of[rows].astype(np.int32),
                          index.rank[rows].astype(np.int32),
                          np.asarray(version_of)[rows].astype(np.int32))
    return out


def write_runs(directory: Path, runs: dict[str, Runs]) -> None:
    for field, r in runs.items():
        for part, rel in run_files(field).items():
            np.save(directory / rel, getattr(r, part), allow_pickle=False)


def read_runs(directory: Path, n_rows: int, index: SearchIndex) -> dict[str, Runs]:
    """The mapped runs, checked for dtype, shape and the other field's code range."""
    out = {}
    for field, other in (("name", "artist"), ("artist", "name")):
        f = run_files(field)
        arrays = {part: checks.read_npy(Path(directory) / rel, np.int32, (n_rows,), rel,
                                        mmap=True) for part, rel in f.items()}
        n_other = len(index.fields[other].keys)
        codes = arrays["other"]
        if n_rows and (int(codes.min()) < 0 or int(codes.max()) >= n_other):
            raise ValueError(f"{f['other']}: codes fall outside [0, {n_other})")
        out[field] = Runs(**arrays)
    return out
