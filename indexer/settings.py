"""The build's one settings object, read once at the edge (CLI flags / environment)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from vibemap.indexer.errors import BuildError
from vibemap.indexer.vector_index import METRICS

MAX_CLUSTERS = 50
DEMO_CATALOGUES = ("real", "synthetic")
SYNTHETIC_TRACKS = 96_000  # the synthetic catalogue's size when none is given
# the era dimension's weight (issue 16): measured in bench/bench_era.py (bench/RESULTS.md),
# agreement@10 never drops with W on any real set and the real demo gains +10.1% at W = 1
DEFAULT_ERA_WEIGHT = 1.0
# validation is exact up to this many tracks, sampled with 95% intervals above (issue 13):
# chosen from the measured cost of the O(n^2) analyses (bench/RESULTS.md, "Validation budget")
EXACT_MAX_TRACKS = 100_000


@dataclass(frozen=True)
class BuildSettings:
    """Everything ``vibemap index`` needs; validated on creation.

    csv : the track CSV, or None for a demo catalogue.
    demo_catalogue : which demo catalogue when there is no CSV: "real" (the vendored
        real tracks, data/demo_catalogue.parquet) or "synthetic" (the generator, for
        scale tests and benchmarks).
    demo_tracks : the synthetic catalogue's size (default SYNTHETIC_TRACKS); only with
        demo_catalogue="synthetic".
    demo_sample : keep this many real demo tracks, drawn with ``seed`` (small builds for
        tests); only with demo_catalogue="real".
    out : the artifact directory (``indexes/<name>``).
    ann_threshold : catalogues of up to this many rows (in all) get exact flat FAISS
        search; larger ones an approximate IVF-Flat index tuned to recall@10 >= 0.99
        (see vibemap.indexer.vector_index); 500k keeps flat search under the 5 ms p99
        target (figure: bench/RESULTS.md, "Measured design choices").
    era_weight : W >= 0, the weight of the release-year coordinate appended to the index
        vectors (vibemap.indexer.era); 0 keeps the nine-feature vectors of before.
    exact_max_tracks : validation is exact up to this many tracks; above, the O(n^2)
        analyses (silhouette, Ward) run on stratified samples with 95% intervals.
    exact : force the exact analyses whatever the size (``--exact``).
    """

    csv: Path | None = None
    out: Path = field(default_factory=lambda: Path("indexes/demo"))
    n_clusters: int = 4
    seed: int = 0
    n_init: int = 10
    metric: str = "cosine"
    evaluate: bool = True
    demo_catalogue: str = "real"
    demo_tracks: int | None = None
    demo_sample: int | None = None
    ann_threshold: int = 500_000
    era_weight: float = DEFAULT_ERA_WEIGHT
    exact_max_tracks: int = EXACT_MAX_TRACKS
    exact: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.n_clusters <= MAX_CLUSTERS:
            raise BuildError(f"--k must be between 1 and {MAX_CLUSTERS}, got {self.n_clusters}")
        if self.n_init < 1:
            raise BuildError(f"--n-init must be >= 1, got {self.n_init}")
        if self.metric not in METRICS:
            raise BuildError(f"--metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        self._check_demo()
        if self.ann_threshold < 0:
            raise BuildError(f"ann_threshold must be >= 0, got {self.ann_threshold}")
        if self.exact_max_tracks < 1:
            raise BuildError(f"exact_max_tracks must be >= 1, got {self.exact_max_tracks}")
        if self.seed < 0:
            raise BuildError(f"--seed must be >= 0, got {self.seed}")
        if not (isinstance(self.era_weight, int | float) and math.isfinite(self.era_weight)
                and 0 <= self.era_weight <= 100):
            raise BuildError(f"--era-weight must be a number between 0 and 100, "
                             f"got {self.era_weight!r}")

    def _check_demo(self) -> None:
        if self.demo_catalogue not in DEMO_CATALOGUES:
            raise BuildError(f"demo_catalogue must be one of {', '.join(DEMO_CATALOGUES)}, "
                             f"got {self.demo_catalogue!r}")
        synthetic = self.demo_catalogue == "synthetic"
        if self.demo_tracks is not None and (self.demo_tracks < 1 or not synthetic):
            raise BuildError(f"--synthetic N must be >= 1, got {self.demo_tracks}" if synthetic
                             else "demo_tracks sizes the synthetic catalogue: ask for it "
                             "with demo_catalogue='synthetic' (CLI: --synthetic N)")
        if self.demo_sample is not None and (self.demo_sample < 1 or synthetic):
            raise BuildError("--demo-sample N samples the real demo catalogue, not the "
                             "synthetic one" if synthetic
                             else f"--demo-sample must be >= 1, got {self.demo_sample}")
        if self.csv is not None and (synthetic or self.demo_sample is not None):
            raise BuildError("give a track file or a demo catalogue option "
                             "(--synthetic / --demo-sample), not both")

    @property
    def exact_budget(self) -> int | None:
        """Tracks up to which validation is exact; None with ``exact`` (always exact)."""
        return None if self.exact else self.exact_max_tracks

    @property
    def synthetic_tracks(self) -> int:
        """The synthetic catalogue's size (SYNTHETIC_TRACKS unless demo_tracks says)."""
        return self.demo_tracks if self.demo_tracks is not None else SYNTHETIC_TRACKS

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
