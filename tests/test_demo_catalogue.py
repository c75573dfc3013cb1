"""The synthetic demo catalogue: schema, invariants, determinism, and realism vs real data."""

from __future__ import annotations

import ast
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from vibemap.indexer.features import FEATURES, VALID_RANGES
from vibemap.indexer.synthetic.generator import (
    COLUMNS,
    DEMO_LABEL,
    generate_catalogue,
    sample_features,
)
from vibemap.indexer.synthetic.stats import DEFAULT_STATS_PATH, load_demo_stats

logger = logging.getLogger(__name__)

# the public single_genre_artists.csv header, spelled out on purpose (a schema pin)
REFERENCE_COLUMNS = [
    "id_songs", "name_song", "popularity_songs", "duration_ms", "explicit", "id_artists",
    "release_date", "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
    "followers", "genres", "name_artists", "popularity_artists",
]
BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")
RELEASE_DATE = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")
MAX_KS = 0.08
MAX_CORRELATION_DIFF = 0.10
REALISM_TRACKS = 96_000


@pytest.fixture(scope="module")
def stats() -> dict:
    return load_demo_stats()


@pytest.fixture(scope="module")
def catalogue(stats: dict) -> pd.DataFrame:
    return generate_catalogue(20_000, seed=7, stats=stats)


def test_label_and_stats_path() -> None:
    assert DEMO_LABEL == "synthetic demo catalogue"
    assert DEFAULT_STATS_PATH.name == "demo_stats.json"
    assert DEFAULT_STATS_PATH.parent.name == "data"


def test_stats_file_is_small_and_says_how_it_was_made(stats: dict) -> None:
    assert DEFAULT_STATS_PATH.stat().st_size < 300_000
    note = stats["note"]
    assert note["source_file"] == "tracks_real.csv"
    assert re.fullmatch(r"[0-9a-f]{64}", note["source_sha256"])
    assert note["rows_used"] > 10_000
    assert note["method"] and note["created"]
    assert list(stats["features"]) == list(FEATURES)


def test_columns_in_reference_order(catalogue: pd.DataFrame) -> None:
    assert list(COLUMNS) == REFERENCE_COLUMNS
    assert list(catalogue.columns) == REFERENCE_COLUMNS


def test_same_seed_same_frame_other_seed_other_frame(stats: dict) -> None:
    a = generate_catalogue(3_000, seed=11, stats=stats)
    b = generate_catalogue(3_000, seed=11, stats=stats)
    c = generate_catalogue(3_000, seed=12, stats=stats)
    pd.testing.assert_frame_equal(a, b)
    assert not a["id_songs"].equals(c["id_songs"])
    assert not np.allclose(a[list(FEATURES)].to_numpy(), c[list(FEATURES)].to_numpy())


def test_sample_features_equals_catalogue_features(stats: dict) -> None:
    X = sample_features(2_000, seed=5, stats=stats)
    frame = generate_catalogue(2_000, seed=5, stats=stats)
    assert X.shape == (2_000, len(FEATURES))
    np.testing.assert_array_equal(X, frame[list(FEATURES)].to_numpy())


@pytest.mark.parametrize("n_tracks", [1, 2, 10, 97, 5_000])
def test_n_tracks_honoured(stats: dict, n_tracks: int) -> None:
    frame = generate_catalogue(n_tracks, seed=0, stats=stats)
    assert len(frame) == n_tracks
    assert frame["id_songs"].is_unique
    assert frame.index.equals(pd.RangeIndex(n_tracks))


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "10"])
def test_bad_n_tracks_is_refused(stats: dict, bad: object) -> None:
    with pytest.raises(ValueError, match="n_tracks"):
        generate_catalogue(bad, stats=stats)  # type: ignore[arg-type]


def test_ids_are_unique_base62(catalogue: pd.DataFrame) -> None:
    assert catalogue["id_songs"].is_unique
    assert catalogue["id_songs"].str.fullmatch(BASE62_ID).all()
    assert catalogue["id_artists"].str.fullmatch(BASE62_ID).all()
    assert not set(catalogue["id_songs"]) & set(catalogue["id_artists"])


def test_features_inside_valid_ranges(catalogue: pd.DataFrame) -> None:
    for name in FEATURES:
        x = catalogue[name].to_numpy()
        rng = VALID_RANGES[name]
        low_ok = x >= rng.low if rng.low_inclusive else x > rng.low
        assert x.dtype == np.float64
        assert np.isfinite(x).all(), name
        assert (low_ok & (x <= rng.high)).all(), f"{name} outside {rng}"


def test_one_genre_per_artist_and_several_tracks(catalogue: pd.DataFrame) -> None:
    per_artist = catalogue.groupby("id_artists")
    assert (per_artist["genres"].nunique() == 1).all()
    assert (per_artist["name_artists"].nunique() == 1).all()
    assert catalogue.groupby("name_artists")["id_artists"].nunique().max() == 1
    sizes = per_artist.size()
    assert (sizes < 2).sum() <= 1  # only the last, truncated artist may have one track
    assert sizes.mean() >= 3
    genres = catalogue["genres"].drop_duplicates().map(ast.literal_eval)
    assert genres.map(lambda g: isinstance(g, list) and len(g) == 1).all()
    assert genres.str[0].nunique() >= 20


def test_metadata_columns_look_like_the_reference(catalogue: pd.DataFrame) -> None:
    assert catalogue["release_date"].str.fullmatch(RELEASE_DATE).all()
    years = catalogue["release_date"].str.slice(0, 4).astype(int)
    assert years.between(1900, 2030).all()
    assert catalogue["explicit"].isin([0, 1]).all()
    assert catalogue["key"].between(0, 11).all()
    assert catalogue["mode"].isin([0, 1]).all()
    assert catalogue["time_signature"].isin([1, 3, 4, 5]).all()
    assert catalogue["popularity_songs"].between(0, 100).all()
    assert catalogue["popularity_artists"].between(0, 100).all()
    assert (catalogue["duration_ms"] > 0).all()
    assert (catalogue["followers"] >= 0).all()
    assert (catalogue["name_song"].str.len() > 0).all()


def test_point_mass_at_zero_instrumentalness(catalogue: pd.DataFrame) -> None:
    # the real data has ~29% exact zeros; the quantile table must reproduce that
    zero_share = (catalogue["instrumentalness"] == 0).mean()
    assert 0.2 < zero_share < 0.4


def test_loader_keeps_every_demo_row(tmp_path: Path, stats: dict) -> None:
    from vibemap.indexer.catalogue import clean_catalogue
    from vibemap.indexer.readers import read_input

    path = tmp_path / "demo.csv"
    generate_catalogue(3_000, seed=2, stats=stats).to_csv(path, index=False)
    result = clean_catalogue(read_input(path).frame, source_name=path.name)
    assert result.report.rows_kept == 3_000, result.report.to_dict()


def test_load_demo_stats_errors(tmp_path: Path, stats: dict) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_demo_stats(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_demo_stats(broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"version": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="lack"):
        load_demo_stats(partial)
    reordered = tmp_path / "reordered.json"
    reordered.write_text(json.dumps({**stats, "features": list(FEATURES)[::-1]}),
                         encoding="utf-8")
    with pytest.raises(ValueError, match="do not match"):
        load_demo_stats(reordered)


@pytest.mark.realdata
def test_demo_is_close_to_real_data(real_tracks_csv: Path, stats: dict) -> None:
    real = pd.read_csv(real_tracks_csv, usecols=list(FEATURES))[list(FEATURES)]
    demo = generate_catalogue(REALISM_TRACKS, seed=0, stats=stats)[list(FEATURES)]
    ks = {name: float(ks_2samp(demo[name], real[name]).statistic) for name in FEATURES}
    corr_diff = np.abs(demo.corr().to_numpy() - real.corr().to_numpy())
    logger.info("KS per feature: %s", {k: round(v, 4) for k, v in ks.items()})
    logger.info("max |pearson(demo) - pearson(real)|: %.4f", corr_diff.max())
    assert max(ks.values()) <= MAX_KS, ks
    assert corr_diff.max() <= MAX_CORRELATION_DIFF, pd.DataFrame(
        corr_diff, index=FEATURES, columns=FEATURES).round(3)


@pytest.mark.realdata
def test_artist_names_are_not_real_artists(real_tracks_csv: Path, catalogue: pd.DataFrame) -> None:
    names = pd.read_csv(real_tracks_csv, usecols=["name_artists"])["name_artists"].dropna()
    real = set(names.str.lower().str.split(", ").explode().str.strip().str.removeprefix("the "))
    demo = set(catalogue["name_artists"].str.lower().str.removeprefix("the "))
    assert not demo & real, sorted(demo & real)[:10]
