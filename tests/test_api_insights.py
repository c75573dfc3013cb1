"""The analysis routes the UI uses: PCA points, outliers, CSV export, live K-loop."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import write_tracks_csv
from vibemap.cli import main
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tmp = tmp_path_factory.mktemp("insights")
    csv_path = write_tracks_csv(tmp / "t.csv", n=400, seed=4, n_blobs=3)
    out = tmp / "indexes" / "t"
    assert main(["index", str(csv_path), "--out", str(out), "--k", "3", "--n-init", "2"]) == 0
    app = create_app(ServiceSettings(index_dir=out), engine=Engine.load(out))
    with TestClient(app) as c:
        yield c


def test_pca_points_carry_tracks_and_follow_filters(client: TestClient) -> None:
    body = client.get("/v1/validation/pca").json()
    assert body["evaluated"] and body["total"] == body["sample_size"] == len(body["points"])
    p = body["points"][0]
    assert {"track_id", "name", "artist", "vibe_id", "vibe_name", "pc1", "pc2"} <= set(p)
    only = client.get("/v1/validation/pca", params={"vibe": 1}).json()
    assert only["points"] and {q["vibe_id"] for q in only["points"]} == {1}
    few = client.get("/v1/validation/pca", params={"limit": 7}).json()
    assert len(few["points"]) == 7 and few["total"] == body["total"]
    assert client.get("/v1/validation/pca", params={"limit": 0}).status_code == 422


def test_outliers_route(client: TestClient) -> None:
    body = client.get("/v1/validation/outliers", params={"limit": 3}).json()
    assert body["evaluated"] and len(body["tracks"]) == 3  # the most atypical, outliers or not
    assert {"track_id", "k_distance"} <= set(body["tracks"][0])
    distances = [t["k_distance"] for t in body["tracks"]]
    assert distances == sorted(distances, reverse=True)


def test_tracks_csv_matches_search(client: TestClient) -> None:
    r = client.get("/v1/tracks.csv", params={"vibe": 0})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = client.get("/v1/tracks", params={"vibe": 0, "limit": 1}).json()["total"]
    assert len(rows) == total and {row["vibe_id"] for row in rows} == {"0"}
    assert "energy" in rows[0]


def test_live_k_loop_on_a_sample(client: TestClient) -> None:
    r = client.post("/v1/validation/kloop", json={"sample_size": 200, "k_min": 2, "k_max": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sample_size"] == 200
    assert [m["n_clusters"] for m in body["k_loop"]["metrics"]] == [2, 3, 4]
    assert body["chosen_k"]["k"] == 3
    bad = client.post("/v1/validation/kloop", json={"sample_size": 10})
    assert bad.status_code == 422 and bad.json()["code"]


def test_vibes_have_typical_tracks(client: TestClient) -> None:
    vibes = client.get("/v1/vibes").json()["vibes"]
    for v in vibes:
        assert 1 <= len(v["typical_tracks"]) <= 5
        assert {t["vibe_id"] for t in v["typical_tracks"]} == {v["vibe_id"]}


def test_analysis_routes_without_evaluation(tmp_path: Path) -> None:
    from factories import build_tiny_artifact

    path = build_tiny_artifact(tmp_path, n=100, n_clusters=2)
    app = create_app(ServiceSettings(index_dir=path), engine=Engine.load(path))
    with TestClient(app) as c:
        assert c.get("/v1/validation/pca").json() == {
            "evaluated": False, "sample_size": 0, "total": 0, "points": [], "readings": []}
        assert c.get("/v1/validation/outliers").json()["evaluated"] is False
