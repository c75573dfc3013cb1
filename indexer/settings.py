"""The build's one settings object, read once at the edge (CLI flags / environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vibemap.indexer.errors import BuildError
from vibemap.indexer.vector_index import METRICS

MAX_CLUSTERS = 50


@dataclass(frozen=True)
class BuildSettings:
    """Everything ``vibemap index`` needs; validated on creation.

    csv : the track CSV, or None for the synthetic demo catalogue.
    out : the artifact directory (``indexes/<name>``).
    ann_threshold : catalogues of up to this many rows (in all) get exact flat FAISS
        search; larger ones an approximate IVF-Flat index tuned to recall@10 >= 0.99
        (see vibemap.indexer.vector_index). Flat search of 1M 9-D rows takes ~5 ms per query
        on one core, over the 5 ms p99 target; 500k keeps flat under it.
    """

    csv: Path | None = None
    out: Path = field(default_factory=lambda: Path("indexes/demo"))
    n_clusters: int = 4
    seed: int = 0
    n_init: int = 10
    metric: str = "cosine"
    evaluate: bool = True
    demo_tracks: int = 96_000
    ann_threshold: int = 500_000

    def __post_init__(self) -> None:
        if not 1 <= self.n_clusters <= MAX_CLUSTERS:
            raise BuildError(f"--k must be between 1 and {MAX_CLUSTERS}, got {self.n_clusters}")
        if self.n_init < 1:
            raise BuildError(f"--n-init must be >= 1, got {self.n_init}")
        if self.metric not in METRICS:
            raise BuildError(f"--metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.demo_tracks < 1:
            raise BuildError(f"--demo-tracks must be >= 1, got {self.demo_tracks}")
        if self.ann_threshold < 0:
            raise BuildError(f"ann_threshold must be >= 0, got {self.ann_threshold}")
        if self.seed < 0:
            raise BuildError(f"--seed must be >= 0, got {self.seed}")

    @staticmethod
    def default_out(csv: Path | None, indexes_dir: Path = Path("indexes")) -> Path:
        """``indexes/demo`` for the demo catalogue, else ``indexes/<input name>``: the file
        name without its data suffixes, the directory's name, or a glob's folder name."""
        if csv is None:
            return indexes_dir / "demo"
        path = Path(csv)
        if any(ch in path.name for ch in "*?["):
            path = path.parent
        name = path.resolve().name if path.name in ("", ".", "..") else path.name
        for suffix in (".gz", ".csv", ".tsv", ".parquet", ".parq", ".pq"):
            name = name.removesuffix(suffix) or name
        return indexes_dir / (name or "catalogue")
