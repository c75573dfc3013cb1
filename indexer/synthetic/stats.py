"""The synthetic catalogue's statistics file: where it lives and what it must hold.

``data/demo_stats.json`` (made by ``data/derive_demo_stats.py``) holds only statistics of
real Spotify audio features: quantile tables, genre-level means and covariances of
normal scores, metadata frequencies. No real row is in it.
"""

from __future__ import annotations

import json
from pathlib import Path

from vibemap.indexer.features import FEATURES

DEFAULT_STATS_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_stats.json"
REQUIRED_KEYS = ("version", "note", "features", "probabilities", "quantiles", "genres",
                 "tail", "artist_share", "artists", "metadata")


def load_demo_stats(path: Path | str | None = None) -> dict:
    """Read and check the demo statistics JSON.

    Raises
    ------
    ValueError
        When the file is missing, not JSON, or lacks a required part.
    """
    path = Path(path) if path is not None else DEFAULT_STATS_PATH
    if not path.is_file():
        raise ValueError(
            f"demo statistics not found at {path}; regenerate them with "
            "`python data/derive_demo_stats.py` (needs ../shared/data/tracks_real.csv)"
        )
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"demo statistics at {path} are not valid JSON: {exc}") from None
    validate_stats(stats, source=str(path))
    return stats


def validate_stats(stats: object, source: str = "<stats>") -> None:
    """Raise ValueError unless ``stats`` has the parts the generator reads."""
    if not isinstance(stats, dict):
        raise ValueError(f"{source}: demo statistics must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in stats]
    if missing:
        raise ValueError(f"{source}: demo statistics lack {', '.join(missing)}")
    if list(stats["features"]) != list(FEATURES):
        raise ValueError(
            f"{source}: features {list(stats['features'])} do not match {list(FEATURES)}"
        )
    m = len(stats["probabilities"])
    for name in FEATURES:
        table = stats["quantiles"].get(name)
        if table is None or len(table) != m:
            raise ValueError(f"{source}: quantile table for {name!r} missing or not {m} long")
    if not stats["genres"]:
        raise ValueError(f"{source}: demo statistics list no genres")
