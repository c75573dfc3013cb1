"""Over HTTP: the dedupe_versions flag on every recommendation route, and the CSV export's
cells neutralised for spreadsheets (numbers unchanged)."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from factories import make_tracks
from vibemap.cli import main
from vibemap.recommender.api import create_app
from vibemap.recommender.engine import Engine
from vibemap.recommender.settings import ServiceSettings

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tmp = tmp_path_factory.mktemp("versions")
    frame = make_tracks(120, seed=11, n_blobs=2)
    # one song in 30 versions by one artist (the same blob: they are each other's neighbours)
    blob = frame.attrs["blob"]
    same = [i for i in range(3, len(frame)) if blob[i] == blob[3]][:30]
    suffixes = ["", " - Remastered 2011", " (Radio Edit)", " - Live", " - 2011 Mix"]
    for j, i in enumerate(same):
        frame.loc[i, "name_song"] = "Anthem" + suffixes[j % len(suffixes)]
        frame.loc[i, "name_artists"] = "The Band"
    frame.loc[1, "name_song"] = FORMULA
    frame.loc[2, "name_artists"] = "@SUM(A1:A2)"
    csv_path = tmp / "t.csv"
    frame.to_csv(csv_path, index=False)
    out = tmp / "indexes" / "t"
    assert main(["index", str(csv_path), "--out", str(out), "--k", "2", "--no-eval"]) == 0
    app = create_app(ServiceSettings(index_dir=out), engine=Engine.load(out))
    with TestClient(app) as c:
        c.seed = f"trk{same[0]:06d}"  # an "Anthem" version
        yield c


def names(body: dict) -> list[str]:
    return [r["name"] for r in body["results"]]


def test_every_recommendation_route_dedupes_unless_asked(client: TestClient) -> None:
    seed = client.seed
    similar = client.get(f"/v1/tracks/{seed}/similar", params={"limit": 20}).json()
    assert not any(n.startswith("Anthem") for n in names(similar))
    plain = client.get(f"/v1/tracks/{seed}/similar",
                       params={"limit": 20, "dedupe_versions": "false"}).json()
    assert sum(n.startswith("Anthem") for n in names(plain)) >= 5

    get = client.get("/v1/recommendations", params={"seed_tracks": seed, "limit": 20}).json()
    post = client.post("/v1/recommendations", json={"seed_tracks": [seed], "limit": 20}).json()
    assert names(get) == names(post) and not any(n.startswith("Anthem") for n in names(get))
    post_plain = client.post("/v1/recommendations", json={
        "seed_tracks": [seed], "limit": 20, "dedupe_versions": False}).json()
    get_plain = client.get("/v1/recommendations", params={
        "seed_tracks": seed, "limit": 20, "dedupe_versions": "false"}).json()
    assert names(get_plain) == names(post_plain)
    assert sum(n.startswith("Anthem") for n in names(post_plain)) >= 5

    batch = client.post("/v1/recommendations/batch", json={"requests": [
        {"seed_tracks": [seed], "limit": 20},
        {"seed_tracks": [seed], "limit": 20, "dedupe_versions": False}]}).json()
    assert [names(item["result"]) for item in batch["results"]] == [names(post),
                                                                     names(post_plain)]


def test_dedupe_flag_is_validated(client: TestClient) -> None:
    r = client.get(f"/v1/tracks/{client.seed}/similar", params={"dedupe_versions": "maybe"})
    assert r.status_code == 422 and "dedupe_versions" in r.json()["detail"]
    r = client.post("/v1/recommendations", json={"seed_tracks": [client.seed],
                                                 "dedupe_versions": "maybe"})
    assert r.status_code == 422


def test_search_keeps_every_version_together(client: TestClient) -> None:
    body = client.get("/v1/tracks", params={"q": "anthem", "limit": 100}).json()
    assert body["total"] == 30 and all(n.startswith("Anthem") for n in names(body))
    pops = [r["popularity"] for r in body["results"]]
    assert pops == sorted(pops, reverse=True)  # one song: the most popular version first


def test_csv_export_neutralises_formulas_and_keeps_numbers(client: TestClient) -> None:
    text = client.get("/v1/tracks.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    by_id = {r["track_id"]: r for r in rows}
    assert by_id["trk000001"]["name"] == "'" + FORMULA
    assert by_id["trk000002"]["artist"] == "'@SUM(A1:A2)"
    track = client.get("/v1/tracks/trk000001").json()
    assert float(by_id["trk000001"]["loudness"]) == track["features"]["loudness"] < 0
    assert by_id["trk000001"]["popularity"] == str(track["popularity"])
    assert not any(v[:1] in "=+@\t\r" for r in rows for v in r.values() if v)
