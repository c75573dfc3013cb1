"""The real demo catalogue: 32k real tracks vendored as ``data/demo_catalogue.parquet``.

Made by ``data/make_demo_catalogue.py`` from two MIT-licensed data sets (TidyTuesday
2020 Spotify songs and the R package ``billboard``; notices in ``data/README.md``).
``data/demo_catalogue.json`` beside it records the file's sha256, its rows, label,
licence and origins: the build checks the file against it and copies the facts into
the manifest's ``source``.

The file is read here with pyarrow and handed to the same cleaning as a user CSV, so
the demo does not depend on which input formats ``vibemap index FILE`` accepts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vibemap.indexer.catalogue import Catalogue, clean_catalogue
from vibemap.indexer.errors import BuildError
from vibemap.indexer.files import sha256_file

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CATALOGUE_PATH = DATA_DIR / "demo_catalogue.parquet"
META_PATH = DATA_DIR / "demo_catalogue.json"


def read_meta(meta_path: Path = META_PATH) -> dict:
    """The provenance record written with the catalogue (sha256, rows, label, sources)."""
    try:
        return json.loads(Path(meta_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"the real demo catalogue's record {meta_path} is missing; "
                         "remake it with `python data/make_demo_catalogue.py`") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(f"{meta_path}: not valid JSON ({exc})") from None


def read_frame(path: Path = CATALOGUE_PATH, sample: int | None = None, seed: int = 0
               ) -> pd.DataFrame:
    """The vendored rows as a frame: text columns with '' for missing (as a CSV read
    gives them), numbers typed. ``sample`` keeps that many rows, drawn with ``seed``
    and kept in file order (a small real catalogue for tests)."""
    if not Path(path).is_file():
        raise BuildError(f"the real demo catalogue {path} is missing; use --synthetic N "
                         "for the synthetic one or remake it with data/make_demo_catalogue.py")
    frame = pq.read_table(path).to_pandas()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].fillna("").astype(str)
    if sample is not None and sample < len(frame):
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=sample,
                                                          replace=False))
        frame = frame.iloc[rows].reset_index(drop=True)
    return frame


def real_demo_catalogue(sample: int | None = None, seed: int = 0,
                        path: Path = CATALOGUE_PATH, meta_path: Path = META_PATH
                        ) -> tuple[Catalogue, dict]:
    """The real demo catalogue, cleaned, and the manifest's ``source`` facts.

    Raises BuildError when the file is missing or differs from its recorded sha256 (a
    corrupted or hand-edited file would otherwise build silently).
    """
    meta = read_meta(meta_path)
    digest = sha256_file(path) if Path(path).is_file() else ""
    if digest and digest != meta.get("sha256"):
        raise BuildError(f"{path}: sha256 {digest[:12]}… does not match the "
                         f"{meta.get('sha256', '?')[:12]}… recorded in {Path(meta_path).name}")
    frame = read_frame(path, sample=sample, seed=seed)
    catalogue = clean_catalogue(frame, source_name=Path(path).name)
    sources = meta.get("sources", {})
    source = {
        "file": None,
        "kind": "demo",
        "catalogue": "real",
        "synthetic": False,
        "label": meta.get("label", "real demo catalogue"),
        "licence": meta.get("licence"),
        "origin": [s.get("origin") for s in sources.values()],
        "copyright": [s.get("copyright") for s in sources.values()],
        "catalogue_file": f"data/{Path(path).name}",
        "sha256": digest,
        "rows_in_file": int(meta.get("rows", 0)),
        "sample": sample,
        "sample_seed": seed if sample is not None else None,
    }
    logger.info("real demo catalogue: %d rows from %s", len(frame), path)
    return catalogue, source
