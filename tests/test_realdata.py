"""Integration on the real Spotify tracks in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vibemap.cli import main
from vibemap.indexer.artifact import load_artifact
from vibemap.indexer.features import FEATURES

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


# Under the default budget (100k) the 94k real tracks are validated exactly, and Ward on
# every track alone takes ~2 minutes on 2 cores (114 of 143 s): here the budget is lowered so
# that the real data runs the sampled path (K-Means fits on a sample, every track assigned;
# sampled silhouettes; Ward and DBSCAN on stratified samples). The exact analyses are tested
# on small data (test_silhouette and test_outliers against sklearn, test_taxonomy, and
# test_evaluation end to end).
REAL_BUDGET = 20_000


def test_real_tracks_validation_metrics(real_artifact: Path, capsys: pytest.CaptureFixture) -> None:
    """The K table on real data: sane ranges and a chosen K consistent with the stated rule."""
    assert main(["evaluate", "--index", str(real_artifact),
                 "--exact-max-tracks", str(REAL_BUDGET)]) == 0
    printed = capsys.readouterr().out
    print(printed)  # the table, for the test log
    m = load_artifact(real_artifact).metrics
    rows = m["k_loop"]["metrics"]
    assert [r["n_clusters"] for r in rows] == list(range(2, 11))
    inertia = [r["inertia"] for r in rows]
    assert all(a > b for a, b in zip(inertia, inertia[1:], strict=False))  # falls with K
    for r in rows:
        assert 0.05 < r["silhouette"] < 0.5  # weak but real structure on audio features
        assert 0.5 < r["davies_bouldin"] < 3.0
        assert r["calinski_harabasz"] > 1_000
    loop = m["k_loop"]
    assert loop["best_silhouette_k"] == max(rows, key=lambda r: r["silhouette"])["n_clusters"]
    best_db = min(rows, key=lambda r: r["davies_bouldin"])["n_clusters"]
    assert loop["best_davies_bouldin_k"] == best_db
    # the product keeps K=4 and says which K each criterion prefers, without overclaiming
    chosen = m["chosen_k"]
    assert chosen["k"] == 4
    best_sil = loop["best_silhouette_k"]
    assert f"silhouette (higher is better) prefers K={best_sil}" in chosen["reason"]
    if 4 not in (loop["elbow_k"], loop["best_silhouette_k"], loop["best_davies_bouldin_k"],
                 loop["best_calinski_harabasz_k"]):
        assert "None of the four criteria prefers K=4" in chosen["reason"]
    assert 0 < m["outliers"]["outlier_share"] < 0.1
    # over the budget: fits on a sample of twice it, every track assigned; Ward on a sample
    assert loop["fit"]["sample_rows"] == 2 * REAL_BUDGET
    assert loop["fit"]["assigned_rows"] == m["n_tracks"] > REAL_BUDGET
    assert m["taxonomy"]["n_tracks"] <= REAL_BUDGET < m["n_tracks"]
    agree = m["genre_agreement"]["cosine"]
    assert agree["agreement"] > agree["baseline"]
