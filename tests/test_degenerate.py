"""Degenerate data (issue 15 item 3): constant features carry no weight and are reported;
data that cannot be clustered or analysed as asked exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import make_tracks
from vibemap.cli import main
from vibemap.indexer.degenerate import near_constant
from vibemap.indexer.features import FEATURES
from vibemap.indexer.personalities import fit_scaler


@given(
    base=st.floats(-60, 260, allow_nan=False),
    noise=st.floats(0, 1e-12),
    n=st.integers(2, 50),
)
def test_float_noise_is_not_blown_up_to_unit_variance(base: float, noise: float, n: int) -> None:
    rng = np.random.default_rng(0)
    F = np.column_stack([base + noise * rng.standard_normal(n), rng.random(n)])
    assert near_constant(F).tolist() == [True, False]
    Z = fit_scaler(F).transform(F)
    assert np.abs(Z[:, 0]).max() < 1e-9  # weight zero, not noise scaled to 1
    assert Z[:, 1].std() == pytest.approx(1.0)


def test_a_small_real_spread_is_not_constant() -> None:
    F = np.full((1_000, 1), 120.0)
    F[0, 0] = 120.001
    assert not near_constant(F)[0]


def _run(tmp_path: Path, frame, capsys, *extra: str) -> tuple[int, str, Path]:
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "art"
    code = main(["index", str(csv), "--out", str(out), "--n-init", "1", *extra])
    return code, capsys.readouterr().err, out


def test_constant_feature_is_reported_in_the_manifest(tmp_path: Path, capsys) -> None:
    frame = make_tracks(60)
    frame["liveness"] = 0.25 + 1e-15 * np.arange(60)
    code, err, out = _run(tmp_path, frame, capsys, "--k", "2", "--no-eval")
    assert code == 0, err
    cleaning = json.loads((out / "manifest.json").read_text())["cleaning"]
    assert cleaning["constant_features"] == ["liveness"]
    assert any("liveness" in note for note in cleaning["notes"])
    scaler = json.loads((out / "scaler.json").read_text())
    assert scaler["scale"][FEATURES.index("liveness")] == 1.0


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ("identical", ["--k", "2", "--no-eval"], "same value for every feature"),
        ("one_varies", ["--k", "2", "--no-eval"], "only 1 feature varies"),
        ("two_distinct", ["--k", "3", "--no-eval"], "only 2 distinct feature vectors"),
        ("few", ["--k", "2"], "need at least 30 valid tracks"),
        ("", ["--k", "1"], "cannot be validated"),
    ],
)
def test_degenerate_catalogues_exit_2_with_one_line(
    tmp_path: Path, capsys, change: str, args: list[str], message: str
) -> None:
    frame = make_tracks(40)
    if change in ("identical", "one_varies", "two_distinct"):
        for name in FEATURES:
            frame[name] = frame[name].iloc[0]
    if change == "one_varies":
        frame["tempo"] = np.linspace(80, 160, len(frame))
    if change == "two_distinct":
        frame.loc[::2, ["energy", "tempo"]] = (0.9, 170.0)
    if change == "few":
        frame = frame.iloc[:10]
    code, err, out = _run(tmp_path, frame, capsys, *args)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
