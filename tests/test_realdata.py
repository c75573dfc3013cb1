"""Integration on the real Spotify tracks in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.artifact import load_artifact
from indexer.features import FEATURES
from vibemap.cli import main

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def real_artifact(real_tracks_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "indexes" / "real"
    assert (
        main(["index", str(real_tracks_csv), "--out", str(out), "--no-eval", "--n-init", "3"]) == 0
    )
    return out


def test_real_tracks_index(real_artifact: Path, real_tracks_csv: Path) -> None:
    art = load_artifact(real_artifact)
    m = art.manifest
    assert m["source"]["file"] == real_tracks_csv.name
    assert m["rows"]["read"] == 94_207
    # the README of the data names 5 rows with tempo = 0; nothing else is invalid
    assert m["rows"]["dropped_by_reason"]["out_of_range"] == 5
    assert m["cleaning"]["out_of_range_by_feature"]["tempo"] == 5
    assert m["rows"]["kept"] == len(art.tracks) > 90_000
    names = [v["name"] for v in art.vibes]
    assert len(set(names)) == 4
    sizes = [v["size"] for v in art.vibes]
    assert min(sizes) > 0.03 * sum(sizes)  # no degenerate personality on real data
    Z = art.scaler.transform(art.tracks[list(FEATURES)].to_numpy())
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-3)
