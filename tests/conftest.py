"""Shared fixtures: where the real data lives, and tiny in-code catalogues."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """../shared/data beside the checkout, or $VIBEMAP_SHARED_DATA."""
    env = os.environ.get("VIBEMAP_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_tracks_csv() -> Path:
    """The merged real Spotify tracks file; skips the test when it is absent."""
    path = shared_data_dir() / "tracks_real.csv"
    if not path.is_file():
        pytest.skip(f"real data not present at {path}")
    return path
